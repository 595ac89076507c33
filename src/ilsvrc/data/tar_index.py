"""Random access into uncompressed tar archives, in place, without extracting them.

    index = TarIndex.open("ILSVRC2012_img_val.tar")                  # a flat tar of files
    index = TarIndex.open("ILSVRC2012_img_train.tar", nested=True)   # a tar of tars (one per synset)
    data = index.read(0)          # the bytes of the first file, one os.pread
    index.names[0], index.group_name(0)

A tar stores each member's data contiguously at a known offset, so once the headers have
been walked (tarfile's member.offset_data and size), reading a member is one positioned
read. For a tar of tars, each inner tar is walked through a view of the outer file and its
offsets are made absolute. Walking 1.28M headers takes a while, so the index is cached as
`<archive>.index.npz` next to the archive (or under ~/.cache/ilsvrc/tar-index when that folder
is read-only), keyed by the archive's size and modification time.

The file is opened lazily in each process, so an index handed to DataLoader workers (fork
or spawn) never shares a file offset; os.pread does not use one anyway.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

import numpy as np

from ilsvrc.errors import DataError
from ilsvrc.files import written_atomically

CACHE_VERSION = 1


def check_member_name(name: str, archive: str) -> None:
    """Refuse member names that would escape a folder when extracted (absolute, or with '..')."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise DataError(archive, f"member {name!r}: unsafe name (absolute or with '..')")


def check_regular(member: tarfile.TarInfo, where: str) -> None:
    """Refuse a member that is not a plain file: a link would read (or, extracted, write) another file
    than the one named, and a device or pipe can block or never end."""
    if member.isfile():
        return
    if member.issym():
        kind = f"a symbolic link (to {member.linkname!r})"
    elif member.islnk():
        kind = f"a hard link (to {member.linkname!r})"
    elif member.ischr() or member.isblk():
        kind = "a device"
    elif member.isfifo():
        kind = "a pipe"
    else:
        kind = f"of type {member.type!r}"
    raise DataError(where, f"member {member.name!r} is {kind}, not a regular file: refused")


def regular_members(tar: tarfile.TarFile, where: str) -> Iterator[tarfile.TarInfo]:
    """The regular files of a tar in archive order, skipping folders; anything else is an error."""
    try:
        for member in tar:
            check_member_name(member.name, where)
            if member.isdir():
                continue
            check_regular(member, where)
            yield member
        _check_end_blocks(tar, where)
    except (tarfile.TarError, EOFError) as e:
        raise DataError(where, f"truncated or corrupt tar ({e})") from None


def _check_end_blocks(tar: tarfile.TarFile, where: str) -> None:
    # tarfile stops quietly when a tar is cut at a header: only the missing end-of-archive
    # zero blocks after the last member tell a complete archive from a truncated one
    size = tar.fileobj.seek(0, os.SEEK_END)
    if size - tar.offset < tarfile.BLOCKSIZE:
        raise DataError(where, f"truncated: no end-of-archive blocks after the last member (at byte {tar.offset})")


class ArchiveFile:
    """Positioned reads from one file, opened lazily once per process."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._fd: int | None = None
        self._pid = -1

    def read(self, offset: int, size: int, where: str) -> bytes:
        data = os.pread(self._descriptor(), size, offset)
        if len(data) != size:
            raise DataError(where, f"truncated: {len(data)} of {size} bytes at offset {offset}")
        return data

    def _descriptor(self) -> int:
        if self._pid != os.getpid():  # a fresh process (DataLoader worker): open our own descriptor
            if self._fd is not None:
                os.close(self._fd)  # the copy inherited through fork; the parent's stays open
                self._fd = None
            try:
                self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
            except OSError as e:
                raise DataError(self.path, f"cannot open ({e.strerror or e})") from None
        return self._fd

    def __getstate__(self) -> dict:
        return {"path": self.path, "_fd": None, "_pid": -1}

    def __del__(self):
        try:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
        except (TypeError, AttributeError):  # at interpreter exit `os` may already be torn down
            pass


@dataclass
class TarIndex:
    """Where every regular file of a tar (or of each tar inside a tar) lies in the archive."""

    archive: Path
    names: np.ndarray        # (N,) bytes: member names (inside their inner tar when nested)
    offsets: np.ndarray      # (N,) int64: absolute offset of the member's data in the archive
    sizes: np.ndarray        # (N,) int64
    groups: np.ndarray       # (N,) int32: index into group_names
    group_names: np.ndarray  # (G,) bytes: the inner tars' names; [b""] for a flat tar

    def __post_init__(self):
        self.file = ArchiveFile(self.archive)

    def __len__(self) -> int:
        return len(self.names)

    def name(self, i: int) -> str:
        return self.names[i].decode()

    def group_name(self, i: int) -> str:
        return self.group_names[self.groups[i]].decode()

    def where(self, i: int) -> str:
        """The member as 'archive.tar:inner.tar/name' for messages."""
        group = self.group_name(i)
        return f"{self.archive}:{group + '/' if group else ''}{self.name(i)}"

    def read(self, i: int) -> bytes:
        return self.file.read(int(self.offsets[i]), int(self.sizes[i]), self.where(i))

    def take(self, order: np.ndarray) -> "TarIndex":
        """The same members in another order (or a subset)."""
        return TarIndex(self.archive, self.names[order], self.offsets[order], self.sizes[order],
                        self.groups[order], self.group_names)

    @classmethod
    def open(cls, archive: str | Path, nested: bool = False, cache: bool = True) -> "TarIndex":
        """Index `archive`, or load the cached index if the archive has not changed since."""
        archive = Path(archive)
        key = _cache_key(archive, nested)
        for path in _cache_paths(archive) if cache else []:
            index = _load(path, archive, key)
            if index is not None:
                return index
        index = build(archive, nested)
        if cache:
            _save_first_writable(index, key, _cache_paths(archive))
        return index


def member_names(archive: str | Path) -> list[str]:
    """The regular files of a tar, top level only: a cheap walk of its headers (1000 for the train tar)."""
    try:
        with tarfile.open(archive, "r:") as tar:
            return [member.name for member in regular_members(tar, str(archive))]
    except FileNotFoundError:
        raise DataError(archive, "missing") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(archive, f"not a readable uncompressed tar ({e})") from None


def build(archive: Path, nested: bool) -> TarIndex:
    """Walk the tar headers (and those of every inner tar when `nested`)."""
    rows: list[tuple[str, int, int, int]] = []
    group_names: list[str] = []
    try:
        with tarfile.open(archive, "r:") as outer:  # "r:": offsets are only meaningful uncompressed
            for member in regular_members(outer, str(archive)):
                if not nested:
                    rows.append((member.name, member.offset_data, member.size, 0))
                    continue
                rows += _inner_rows(outer, member, len(group_names), f"{archive}:{member.name}")
                group_names.append(member.name)
    except FileNotFoundError:
        raise DataError(archive, "missing") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(archive, f"not a readable uncompressed tar ({e})") from None
    return _from_rows(archive, rows, group_names if nested else [""])


def _inner_rows(outer: tarfile.TarFile, member: tarfile.TarInfo, group: int, where: str) -> list:
    # extractfile gives a seekable view of the inner tar, so tarfile skips over file data
    try:
        inner = tarfile.open(fileobj=outer.extractfile(member), mode="r:")
    except tarfile.TarError as e:
        raise DataError(where, f"not a tar ({e})") from None
    with inner:
        return [(m.name, member.offset_data + m.offset_data, m.size, group) for m in regular_members(inner, where)]


def _from_rows(archive: Path, rows: list, group_names: list[str]) -> TarIndex:
    names, offsets, sizes, groups = zip(*rows) if rows else ((), (), (), ())
    return TarIndex(archive, np.array([n.encode() for n in names], dtype=bytes),
                    np.array(offsets, np.int64), np.array(sizes, np.int64), np.array(groups, np.int32),
                    np.array([g.encode() for g in group_names], dtype=bytes))


def _cache_key(archive: Path, nested: bool) -> np.ndarray:
    try:
        stat = archive.stat()
    except FileNotFoundError:
        raise DataError(archive, "missing") from None
    return np.array([CACHE_VERSION, stat.st_size, stat.st_mtime_ns, int(nested)], np.int64)


def _cache_paths(archive: Path) -> list[Path]:
    """Next to the archive, then in the user's cache (for archives on read-only storage)."""
    name = f"{archive.name}.index.npz"
    digest = hashlib.sha1(str(archive.resolve()).encode()).hexdigest()[:16]
    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ilsvrc" / "tar-index"
    return [archive.with_name(name), user_cache / f"{digest}-{name}"]


def _load(path: Path, archive: Path, key: np.ndarray) -> TarIndex | None:
    """A cached index if it exists and matches the archive as it is now; a damaged cache is ignored."""
    try:
        with np.load(path) as z:
            if not np.array_equal(z["key"], key):
                return None
            return TarIndex(archive, z["names"], z["offsets"], z["sizes"], z["groups"], z["group_names"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError):
        return None


def _save_first_writable(index: TarIndex, key: np.ndarray, paths: list[Path]) -> None:
    for path in paths:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # private: DataLoader workers or parallel runs may index the same archive at once
            with written_atomically(path, private=True) as f:
                np.savez(f, key=key, names=index.names, offsets=index.offsets, sizes=index.sizes,
                         groups=index.groups, group_names=index.group_names)
            return
        except (OSError, DataError):  # a read-only folder or a full disk: try the next place, or go without
            pass
