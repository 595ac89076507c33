"""Files written whole or not at all, and ilsvrc's JSON records read back with one-line errors.

    write_json_atomic(run_dir / "summary.json", summary)    # a reader never sees half a file
    index = read_json_record(root / "index.json", "ilsvrc-packed", "packed index",
                             missing="not a packed dataset (run `ilsvrc data prepare` first)")
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ilsvrc.errors import DataError


def write_text_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1))


def read_json_record(path: Path, format: str, what: str, missing: str) -> dict:  # noqa: A002 (the field's name)
    """The JSON object at `path`, checked to carry {"format": format}; its version is the caller's to check."""
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(path, f"missing: {missing}") from None
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable {what} ({e})") from None
    if not isinstance(record, dict) or record.get("format") != format:
        raise DataError(path, f"not an ilsvrc {what}")
    return record
