"""One shard file of the packed format: a versioned header, array sections, and a checksum trailer.

    write_shard(path, header, sections)       # atomic and durable (files.written_atomically)
    shard = Shard(path)                        # memory-mapped; shard.section("labels") is a zero-copy view
    shard.verify()                             # recompute the SHA-256 over everything before the trailer

Layout (all integers little-endian):

    b"ILSVRCSH" | u32 format version | u32 header length | header JSON | zero padding to 64 bytes
    section 0 | padding to 64 | section 1 | ... | 32-byte SHA-256 of all preceding bytes | b"ILSVRCOK"

The header JSON describes each section (name, dtype, shape, offset from the end of the padded header) and carries the shard's own
metadata (split, first sample, sources...). A file is only valid with its trailer: a run killed
mid-write leaves a `.tmp` file, never a file with the final name, and a truncated or altered file
fails its size or checksum check with an error naming the file.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path

import numpy as np

from ilsvrc.errors import DataError
from ilsvrc.files import written_atomically

MAGIC = b"ILSVRCSH"
END = b"ILSVRCOK"
VERSION = 1
ALIGN = 64
TRAILER = 32 + len(END)


def _pad(n: int) -> int:
    return -n % ALIGN


def write_shard(path: str | os.PathLike, header: dict, sections: dict[str, np.ndarray]) -> str:
    """Write a shard atomically and return its SHA-256 (hex)."""
    path = Path(path)
    layout, offset = [], 0  # section offsets count from the start of the data, after the padded header
    for name, array in sections.items():
        layout.append({"name": name, "dtype": array.dtype.str, "shape": list(array.shape), "offset": offset})
        offset += array.nbytes + _pad(array.nbytes)
    head_bytes = json.dumps(dict(header, sections=layout)).encode()
    prefix_len = len(MAGIC) + 8
    digest = hashlib.sha256()
    with written_atomically(path) as f:
        def put(data):
            digest.update(data)
            f.write(data)

        put(MAGIC + struct.pack("<II", VERSION, len(head_bytes)) + head_bytes)
        put(b"\0" * _pad(prefix_len + len(head_bytes)))
        for array in sections.values():
            put(np.ascontiguousarray(array).tobytes())
            put(b"\0" * _pad(array.nbytes))
        f.write(digest.digest() + END)
    return digest.hexdigest()


class Shard:
    """A memory-mapped shard. Opening checks the magic, version and size; `verify()` the checksum."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            # A plain ndarray over the map: np.memmap's Python-level indexing costs ~10 us per sample.
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r").view(np.ndarray)
        except (OSError, ValueError) as e:
            raise DataError(self.path, f"cannot open shard ({getattr(e, 'strerror', None) or e})") from None
        self.header = self._read_header()
        self._check_size()
        self._sections: dict[str, np.ndarray] = {}

    def _read_header(self) -> dict:
        m = self._map
        if len(m) < len(MAGIC) + 8 or bytes(m[:8]) != MAGIC:
            raise DataError(self.path, "not a packed shard (bad magic)")
        version, length = struct.unpack("<II", bytes(m[8:16]))
        if version != VERSION:
            raise DataError(self.path, f"shard format version {version}, this ilsvrc reads version {VERSION}")
        try:
            header = json.loads(bytes(m[16:16 + length]))
        except ValueError:
            raise DataError(self.path, "corrupt shard header") from None
        self._data_start = 16 + length + _pad(16 + length)
        return header

    def _check_size(self):
        sections = self.header["sections"]
        end = self._data_start
        if sections:
            last = sections[-1]
            nbytes = int(np.prod(last["shape"])) * np.dtype(last["dtype"]).itemsize
            end += last["offset"] + nbytes + _pad(nbytes)
        if len(self._map) != end + TRAILER or bytes(self._map[-len(END):]) != END:
            raise DataError(self.path, f"truncated or damaged shard: {len(self._map)} bytes, expected {end + TRAILER}")

    def section(self, name: str) -> np.ndarray:
        """The named array, a read-only view of the file."""
        if name not in self._sections:
            self._sections[name] = self._view(name)
        return self._sections[name]

    def _view(self, name: str) -> np.ndarray:
        for s in self.header["sections"]:
            if s["name"] == name:
                dtype = np.dtype(s["dtype"])
                count = int(np.prod(s["shape"]))
                start = self._data_start + s["offset"]
                flat = self._map[start:start + count * dtype.itemsize].view(dtype)
                return flat.reshape(s["shape"])
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(s["name"] == name for s in self.header["sections"])

    @property
    def size(self) -> int:
        """The file's length in bytes (recorded in index.json: a truncated copy fails when opened)."""
        return len(self._map)

    def checksum(self) -> str:
        """The SHA-256 recorded in the trailer (hex)."""
        return bytes(self._map[-TRAILER:-len(END)]).hex()

    def verify(self) -> str:
        """Recompute the checksum over the whole shard; raise DataError on a mismatch."""
        digest = hashlib.sha256()
        body = len(self._map) - TRAILER
        for start in range(0, body, 1 << 24):
            digest.update(self._map[start:min(body, start + (1 << 24))])
        if digest.hexdigest() != self.checksum():
            raise DataError(self.path, "checksum mismatch: the shard is corrupt; re-run `ilsvrc data prepare`")
        return self.checksum()
