"""VOC labels from the annotation XML, for folders without the per-class ImageSets files.

    ids, flags = read_flags(year_folder, "train", CLASSES)   # flags (N, 20) int8: 1, -1 or 0

The devkit writes <class>_<split>.txt from Annotations/<image id>.xml: 1 when the image holds an object
of the class that is not marked difficult, 0 when all its objects of the class are difficult, -1 when
it holds none. The split's image ids come from ImageSets/Main/<split>.txt. XML with a DOCTYPE (entity
declarations: the "billion laughs") is refused before parsing.
"""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Sequence

import numpy as np

from ilsvrc.errors import DataError


def split_file(folder: Path, split: str) -> Path:
    return folder / "ImageSets" / "Main" / f"{split}.txt"


def has_split(folder: Path, split: str) -> bool:
    return split_file(folder, split).is_file() and (folder / "Annotations").is_dir()


def read_ids(path: Path) -> list[str]:
    """The image ids of a split file: the first field of each line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read ({getattr(e, 'strerror', None) or e})") from None
    ids = [check_id(line.split()[0], f"{path}:{n}") for n, line in enumerate(lines, 1) if line.strip()]
    if not ids:
        raise DataError(path, "lists no images")
    return ids


def check_id(image_id: str, where: str) -> str:
    """An image id names files (JPEGImages/<id>.jpg): refuse one that would reach outside the folder."""
    if "/" in image_id or "\\" in image_id or image_id.startswith("."):
        raise DataError(where, f"image id {image_id!r} is not a plain file name: refused")
    return image_id


def object_flags(path: Path, classes: Sequence[str]) -> np.ndarray:
    """(K,) int8 flags of one annotation file."""
    root = _parse(path)
    index = {name: k for k, name in enumerate(classes)}
    flags = np.full(len(classes), -1, np.int8)
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in index:
            raise DataError(path, f"object of unknown class {name!r} (PASCAL VOC classes: {', '.join(classes)})")
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        k = index[name]
        flags[k] = max(flags[k], 0 if difficult else 1)
    return flags


def _parse(path: Path) -> ElementTree.Element:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "missing (the split lists this image but it has no annotation)") from None
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DataError(path, "refused: declares a DOCTYPE or entities (VOC annotations have none)")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise DataError(path, f"not valid XML ({e})") from None
    if root.tag != "annotation":
        raise DataError(path, f"not a VOC annotation (root element <{root.tag}>, expected <annotation>)")
    return root


def read_flags(folder: Path, split: str, classes: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The split's image ids and their (N, K) flags, from the annotations."""
    ids = read_ids(split_file(folder, split))
    flags = np.stack([object_flags(folder / "Annotations" / f"{i}.xml", classes) for i in ids])
    return ids, flags
