"""The 1000 ILSVRC-2012 synsets and the devkit's two numberings of them.

    from ilsvrc.data.imagenet_synsets import ilsvrc2012_synsets, ilsvrc_ids_to_labels
    synsets = ilsvrc2012_synsets()          # ILSVRC2012_ID order: 1 n02119789 kit fox, 2 n02100735 ...
    labels = ilsvrc_ids_to_labels(ground_truth_ids, {s.ilsvrc_id: s.wnid for s in synsets}, classes)

Two orders coexist and are easy to confuse. The devkit's meta.mat numbers the synsets by
ILSVRC2012_ID (1..1000 for the leaves, then the inner nodes of the hierarchy), an order that
is NOT sorted by wnid, and the validation ground truth lists those IDs. Training code
(torchvision, Caffe, this project) labels a class by its index among the SORTED wnids.
`ilsvrc_ids_to_labels` is the one place that goes from the first to the second.

The table ilsvrc2012_synsets.tsv (ILSVRC2012_ID, wnid, words, WordNet 3.0 gloss) ships with
the package, so class names are known even without a devkit.
"""
from __future__ import annotations

import faulthandler
import io
import os
import pickle
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Mapping, Sequence

import numpy as np
import scipy.io

from ilsvrc.errors import DataError

TABLE = "ilsvrc2012_synsets.tsv"
# The fields of meta.mat's `synsets` struct array, in the devkit's order; read by name, and only the
# first few are needed (tools that rewrite meta.mat keep ILSVRC2012_ID, WNID, words, num_children).
META_FIELDS = ("ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children",
               "wordnet_height", "num_train_images")
REQUIRED_FIELDS = ("ILSVRC2012_ID", "WNID", "words", "num_children")
MAT_HEADER_TEXT = b"MATLAB 5.0 MAT-file, written by ilsvrc (ILSVRC-2012 devkit layout)"
_WNID = re.compile(r"n\d{8}")


def is_wnid(name: str) -> bool:
    """True for a WordNet noun id such as 'n01440764'."""
    return _WNID.fullmatch(name) is not None


@dataclass(frozen=True)
class Synset:
    """One row of meta.mat's `synsets`: leaves have num_children == 0 and IDs 1..1000."""

    ilsvrc_id: int
    wnid: str
    words: str
    gloss: str = ""
    num_children: int = 0
    children: tuple[int, ...] = ()
    wordnet_height: int = 0
    num_train_images: int = 0


@lru_cache(maxsize=1)
def ilsvrc2012_synsets() -> tuple[Synset, ...]:
    """The 1000 leaf synsets of ILSVRC-2012 in ILSVRC2012_ID order, from the shipped table."""
    text = resources.files("ilsvrc.data").joinpath(TABLE).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines()[1:] if line]
    return tuple(Synset(int(ilsvrc_id), wnid, words, gloss) for ilsvrc_id, wnid, words, gloss in rows)


def known_words(wnid: str) -> str | None:
    """The ILSVRC-2012 words for a wnid ('tench, Tinca tinca'), or None if it is not one of the 1000."""
    return _words_by_wnid().get(wnid)


@lru_cache(maxsize=1)
def _words_by_wnid() -> dict[str, str]:
    return {s.wnid: s.words for s in ilsvrc2012_synsets()}


def ilsvrc_ids_to_labels(ids: Sequence[int] | np.ndarray, id_to_wnid: Mapping[int, str],
                         classes: Sequence[str], where: str = "ground truth") -> np.ndarray:
    """Devkit ILSVRC2012_IDs -> training labels: ID -> wnid (meta.mat) -> index in the sorted `classes`."""
    if list(classes) != sorted(classes):
        raise ValueError("classes must be the sorted wnids")
    index = {wnid: k for k, wnid in enumerate(classes)}
    labels = np.empty(len(ids), dtype=np.int64)
    for k, ilsvrc_id in enumerate(ids):
        wnid = id_to_wnid.get(int(ilsvrc_id))
        if wnid is None:
            raise DataError(where, f"ILSVRC2012_ID {ilsvrc_id} is not a leaf synset of meta.mat")
        if wnid not in index:
            raise DataError(where, f"synset {wnid} (ILSVRC2012_ID {ilsvrc_id}) is not among the "
                                   f"{len(classes)} classes")
        labels[k] = index[wnid]
    return labels


def read_meta_mat(data: bytes, where: str) -> list[Synset]:
    """Every synset of a devkit's meta.mat (leaves and inner nodes), in file order."""
    return _in_child(_read_meta_mat, data, where)


def _in_child(parse, data: bytes, where: str):
    """parse(data, where) in a forked child: scipy's MAT reader (1.17) dies of SIGSEGV on some damaged
    files, which would take the whole command down with no message. Its result or its error comes back
    pickled through a pipe; a crash becomes a one-line DataError."""
    if not hasattr(os, "fork"):
        return parse(data, where)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            faulthandler.disable()  # a crash here is expected and reported by the parent, not dumped
            os.close(read_end)
            try:
                outcome = pickle.dumps((True, parse(data, where)))
            except Exception as e:  # noqa: BLE001 (sent back as it is: the caller sees what parse raised)
                try:
                    outcome = pickle.dumps((False, e))
                except Exception:  # noqa: BLE001 (an exception that does not pickle)
                    outcome = pickle.dumps((False, RuntimeError(repr(e))))
            with os.fdopen(write_end, "wb") as out:
                out.write(outcome)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not payload:
        raise DataError(where, "unreadable meta.mat (the MAT reader crashed on it: a damaged file)")
    ok, value = pickle.loads(payload)  # written by our own child, above
    if not ok:
        raise value
    return value


def _read_meta_mat(data: bytes, where: str) -> list[Synset]:
    try:
        variables = scipy.io.loadmat(io.BytesIO(data), squeeze_me=True)
    except Exception as e:  # noqa: BLE001 (on a damaged file scipy's reader raises whatever its internals hit:
        # MatReadError, ValueError, UnboundLocalError... found by fuzzing)
        raise DataError(where, f"unreadable meta.mat ({_first_line(e)})") from None
    if "synsets" not in variables:
        raise DataError(where, "no 'synsets' variable: not an ILSVRC devkit meta.mat")
    table = np.atleast_1d(variables["synsets"])
    fields = table.dtype.names or ()
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise DataError(where, f"'synsets' has no {', '.join(missing)} field (fields: {', '.join(fields) or 'none'})")
    try:
        return [_synset(row, fields) for row in table]
    except (ValueError, TypeError, OverflowError, IndexError, KeyError, AttributeError) as e:
        raise DataError(where, f"unreadable meta.mat ({_first_line(e)})") from None


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def _synset(row, fields: Sequence[str]) -> Synset:
    def get(name, default):
        return row[name] if name in fields else default

    children = tuple(int(c) for c in np.atleast_1d(get("children", np.zeros(0))))
    return Synset(int(row["ILSVRC2012_ID"]), _text(row["WNID"]), _text(row["words"]), _text(get("gloss", "")),
                  int(row["num_children"]), children, int(get("wordnet_height", 0)),
                  int(get("num_train_images", 0)))


def _text(value) -> str:
    # loadmat gives an empty MATLAB char array as an empty numpy array, not ''
    return "" if isinstance(value, np.ndarray) and value.size == 0 else str(value)


def meta_mat_bytes(synsets: Sequence[Synset]) -> bytes:
    """`synsets` as the devkit's meta.mat: a MATLAB struct array `synsets` with the fields of META_FIELDS."""
    table = np.zeros((len(synsets), 1), dtype=[(name, object) for name in META_FIELDS])
    for k, s in enumerate(synsets):
        table[k, 0] = (np.uint16(s.ilsvrc_id), s.wnid, s.words, s.gloss, np.uint16(s.num_children),
                       np.array(s.children, dtype=np.uint16).reshape(1, -1), np.uint8(s.wordnet_height),
                       np.uint16(s.num_train_images))
    stream = io.BytesIO()
    scipy.io.savemat(stream, {"synsets": table}, format="5", long_field_names=True)
    # The MAT 5 header opens with 116 bytes of free text that savemat stamps with the time;
    # a fixed text makes the file reproducible byte for byte.
    data = bytearray(stream.getvalue())
    data[:116] = MAT_HEADER_TEXT.ljust(116)
    return bytes(data)


@dataclass(frozen=True)
class TorchvisionMeta:
    """torchvision's ImageNet meta.bin: torch.save((wnid_to_classes, val_wnids)), written from the devkit."""

    words: dict[str, str]  # wnid -> 'tench, Tinca tinca'
    val_wnids: list[str]  # the wnid of each validation image, in sorted file-name order


def read_meta_bin(path) -> TorchvisionMeta:
    """meta.bin read with torch.load(weights_only=True): plain containers only, no code runs."""
    import torch  # here: the other readers of this module never need it

    try:
        wnid_to_classes, val_wnids = torch.load(path, map_location="cpu", weights_only=True)
        words = {str(w): ", ".join(map(str, names)) if isinstance(names, (tuple, list)) else str(names)
                 for w, names in dict(wnid_to_classes).items()}
        val = [str(w) for w in val_wnids]
    except Exception as e:  # noqa: BLE001 (damaged archives raise RuntimeError, ValueError, EOFError, ...)
        raise DataError(path, f"not a readable torchvision meta.bin ({_first_line(e)}); it holds "
                              "torch.save((wnid_to_classes, val_wnids))") from None
    return TorchvisionMeta(words, val)


def leaves(synsets: Sequence[Synset]) -> dict[int, str]:
    """ILSVRC2012_ID -> wnid for the leaf synsets (the classes of the challenge)."""
    return {s.ilsvrc_id: s.wnid for s in synsets if s.num_children == 0}


def read_ground_truth(text: str, where: str) -> np.ndarray:
    """The validation ground truth: one ILSVRC2012_ID per line, line k for ILSVRC2012_val_<k>.JPEG."""
    try:
        return np.array([int(line) for line in text.split()], dtype=np.int64)
    except ValueError as e:
        raise DataError(where, f"not a list of ILSVRC2012_IDs ({e})") from None
