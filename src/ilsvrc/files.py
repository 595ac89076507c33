"""Files written whole or not at all, output folders checked before any work, JSON records read back.

    write_json_atomic(run_dir / "summary.json", summary)    # a reader never sees half a file
    with written_atomically(path, "w", newline="") as f:     # the same, streamed
        csv.writer(f).writerows(rows)
    index = read_json_record(root / "index.json", "ilsvrc-packed", "packed index",
                             missing="not a packed dataset (run `ilsvrc data prepare` first)")
    check_output_folder(out, own=("index.json", "*.shard"))  # before the work: a file, or another tool's folder?
    make_output_folder(out)                                  # mkdir, with a one-line error
"""
from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from collections.abc import Sequence
from pathlib import Path

from ilsvrc.errors import ConfigError, DataError


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    with written_atomically(path) as f:
        f.write(data)


@contextlib.contextmanager
def written_atomically(path: Path, mode: str = "wb", private: bool = False, **open_options):
    """A file object on a temporary name beside `path`, renamed over `path` when the block ends without
    error; any error leaves no temporary file and the previous `path` untouched, and a failed write (disk
    full, read-only folder) is a one-line DataError naming `path`. The only atomic writer of the project.

    Durable as well as atomic: the file is fsynced before the rename and its folder after it, so after
    a power cut `path` holds either the old content or the new, never an empty or half-written file.
    `private`: a temporary name unique to this process, for files that several processes may write
    at once (a shared cache)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp" if private else path.name + ".tmp")
    try:
        with open(tmp, mode, **({"encoding": "utf-8"} if "b" not in mode else {}) | open_options) as f:
            yield f
        replace_durably(tmp, path)
    except OSError as e:
        raise DataError(path, f"cannot write ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)


def replace_durably(tmp: Path, path: Path) -> None:
    """Rename a complete temporary file over `path`: the file is fsynced before the rename, the folder
    after it (POSIX: a new directory entry is only on disk once its folder is fsynced)."""
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # Linux fsyncs a file's (or folder's) data through any descriptor
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_npz_atomic(path: Path, arrays: dict) -> bytes:
    """np.savez's archive of `arrays`, written whole or not at all; returns its bytes (for a checksum)."""
    import io

    import numpy as np  # here, not at the top: the CLI imports this module before it needs numpy

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
    return buffer.getvalue()


def read_npz(path: Path, what: str) -> dict:
    """The arrays of an .npz file (no pickled objects); a damaged one is a one-line DataError."""
    import zipfile
    import zlib

    import numpy as np

    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a lone .npy array
            raise DataError(path, f"not an .npz archive of {what}")
        with loaded:
            return {k: loaded[k] for k in loaded.files}
    except FileNotFoundError:
        raise DataError(path, f"missing {what}") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
            RuntimeError, NotImplementedError) as e:  # zipfile: "encrypted", "compression method not supported"
        raise DataError(path, f"unreadable {what} ({' '.join(str(e).split())[:200]})") from None


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))


def read_json_record(path: Path, format: str, what: str, missing: str) -> dict:  # noqa: A002 (the field's name)
    """The JSON object at `path`, checked to carry {"format": format}; its version is the caller's to check."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, f"missing: {missing}") from None
    except OSError as e:
        raise DataError(path, f"cannot read the {what} ({e.strerror or e})") from None
    except ValueError as e:  # UnicodeDecodeError included
        raise DataError(path, f"unreadable {what} ({e})") from None
    if not isinstance(record, dict) or record.get("format") != format:
        raise DataError(path, f"not an ilsvrc {what}")
    return record


def parse_yaml(text: str, where: str, what: str = "not valid YAML"):
    """Plain YAML values (yaml.safe_load); a tag that would construct a Python object, or any other
    error, is a one-line ConfigError naming `where`."""
    import re

    import yaml  # here, not at the top: most commands never read YAML

    try:
        return yaml.safe_load(text)
    except yaml.constructor.ConstructorError as e:
        tag = re.search(r"the tag '([^']*)'", e.problem or "")
        if tag:
            raise ConfigError(f"{where}: refused: the tag {tag[1]!r} would construct an object (a config "
                              "holds plain values only)") from None
        raise ConfigError(f"{where}: {what} ({e.problem})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{where}: {what} ({str(e).splitlines()[0]})") from None


def check_output_folder(path: str | os.PathLike, own: Sequence[str] | None = None) -> None:
    """Refuse, before any work, an output folder that is a file or sits under one; with `own` (glob
    patterns of the files this command writes), also one holding other files, which a run would mix into."""
    path = Path(path)
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise DataError(parent, "exists and is not a folder; choose another --out")
            break
    if own is None or not path.is_dir():
        return
    foreign = sorted(p.name for p in path.iterdir() if not any(fnmatch.fnmatch(p.name, o) for o in own))
    if foreign:
        raise DataError(path, f"holds files this command did not write ({', '.join(foreign[:3])}"
                              f"{', ...' if len(foreign) > 3 else ''}); choose another --out")


def make_output_folder(path: str | os.PathLike) -> Path:
    """mkdir -p, with a one-line error naming the folder."""
    path = Path(path)
    check_output_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(path, f"cannot create the folder ({e.strerror or e})") from None
    return path
