"""A fast path for reading vote and label CSVs: pyarrow's multi-threaded CSV reader, where installed.

    found = read_with_arrow(path, header, optional)   # (rows, codes, names, numbers), or None: use the checking parser
    where = positions(values, names)                  # (N,) index of each value in names, -1 if absent

Measured on 10 million answers (BENCHMARKS.md): read and factorised 6.7x faster than the chunked
str.split parser of ilsvrc.label.votes. The fast path reads only clean files: on anything it does not
accept as is (a row with the wrong number of fields, an empty field, a number that is not a finite
value >= 0, text that is not UTF-8) it returns None, and the checking parser reads the file again and
reports the first problem with its line number, exactly as without pyarrow.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

try:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
except ImportError:  # optional: the checking parser reads every file without it
    pa = None


def available() -> bool:
    return pa is not None


def read_with_arrow(path: str | os.PathLike, header: list[str], optional: Sequence[str]):
    """The rows after the (already checked) header: (rows, codes, names, numbers) as in votes.Table, or None
    where the checking parser must read the file (no pyarrow, or a file with a problem to report)."""
    if pa is None:
        return None
    types = {name: pa.float64() if name in optional else pa.string() for name in header}
    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False, null_values=[]))
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError):
        return None
    codes, names, numbers = {}, {}, {}
    for name in header:
        column = table.column(name).combine_chunks()
        if name in optional:
            values = column.to_numpy(zero_copy_only=False).astype(np.float64)
            if column.null_count or not (np.isfinite(values) & (values >= 0)).all():
                return None
            numbers[name] = values
            continue
        encoded = column.dictionary_encode()  # codes number the names by first appearance
        names[name] = encoded.dictionary.to_pylist()
        if "" in names[name]:
            return None
        codes[name] = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    return table.num_rows, codes, names, numbers


def positions(values: list[str], names: list[str]) -> np.ndarray:
    """(len(values),) int64 index of each value in `names` (distinct), -1 where absent: a hash join in
    pyarrow when installed (millions of gold tasks), else a dict."""
    if pa is None:
        index = {name: k for k, name in enumerate(names)}
        return np.array([index.get(v, -1) for v in values], np.int64)
    found = pc.index_in(pa.array(values, pa.string()), value_set=pa.array(names, pa.string()))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
