"""Load pickled data files (CIFAR's python version) without letting them run code.

    from ilsvrc.data import safe_pickle
    batch = safe_pickle.load(path)            # {b"data": ndarray, b"labels": [...], ...}

A pickle is a program: any global it names is imported and may be called, so a file from the
internet can run `os.system`. This unpickler resolves only the globals a numpy array needs to
rebuild itself, and the latin-1 encoding through which Python 3's protocol-2 pickles store bytes;
dicts, lists, tuples, bytes, str and numbers need no global. Anything else is
refused before it is imported, and reported as a DataError naming the file and the global.
"""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import warnings

import numpy as np

from ilsvrc.errors import DataError

try:  # numpy >= 2 moved the array reconstructor; pickles written by numpy 1 still name numpy.core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover (numpy 1.x)
    from numpy.core.multiarray import _reconstruct

def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """Python 3's protocol-2 pickles store bytes as _codecs.encode(text, "latin1"): allow that one
    encoding of that one type, not the codec machinery."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ForbiddenGlobal("_codecs", f"encode with {encoding!r}")
    return text.encode("latin1")


ALLOWED_GLOBALS = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


MEMO_OPCODES = ("PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET")


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a global outside ALLOWED_GLOBALS."""

    def __init__(self, module: str, name: str):
        self.qualified_name = f"{module}.{name}"
        super().__init__(f"forbidden global {self.qualified_name!r}")


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that resolves only the globals numpy arrays need, and never imports anything."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise ForbiddenGlobal(module, name) from None


def load(path: str | os.PathLike, encoding: str = "bytes") -> object:
    """Unpickle a file that may hold only plain data and numpy arrays.

    `encoding="bytes"` keeps Python 2 strings (all of CIFAR's keys and names) as bytes, as CIFAR's
    own loading recipe does; the array payloads are bytes either way.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        check_lengths(data)
        return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except FileNotFoundError:
        raise DataError(path, "missing") from None
    except ForbiddenGlobal as e:
        raise DataError(path, f"refused to unpickle: it calls {e.qualified_name}, and only numpy arrays "
                              "and plain data are allowed") from None
    except EOFError:
        raise DataError(path, "truncated pickle") from None
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    # What a damaged or unexpected pickle raises depends on where the damage falls.
    except (pickle.UnpicklingError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            OverflowError, MemoryError) as e:
        raise DataError(path, f"corrupt pickle ({' '.join(str(e).split())})") from None


def check_lengths(data: bytes) -> None:
    """Walk the opcodes (pickletools: nothing is built) so that every length field is checked against
    the bytes that follow it. The unpickler allocates a BINBYTES object of the length it is told before
    reading into it: a damaged length of 0x7FFFFFFF would cost 2 GB. Raises what the unpickler would."""
    try:
        with warnings.catch_warnings():  # protocol-0 strings with bad escapes warn; the unpickler judges them
            warnings.simplefilter("ignore")
            for count, (opcode, arg, _) in enumerate(pickletools.genops(data)):
                # The C unpickler grows its memo to any index it is told to store at (a damaged LONG_BINPUT
                # of 57 million costs ~900 MB); a pickler numbers memo entries from 0, one per opcode at most.
                if opcode.name in MEMO_OPCODES and isinstance(arg, int) and arg > count:
                    raise pickle.UnpicklingError(f"memo index {arg} out of range")
    except ValueError as e:
        if "exhausted before seeing STOP" in str(e):
            raise EOFError from None
        if "remain" in str(e) or "not enough data" in str(e):  # "... bytes in a bytes4, but only 30 remain"
            raise pickle.UnpicklingError("pickle data was truncated") from None
        raise
