"""Checkpoints that rebuild their model alone, written atomically.

    save_checkpoint(run_dir / "checkpoints" / "last.pt", state)    # temporary file, fsync, rename (files.py)
    ckpt = load_checkpoint("runs/fmnist")                            # a run folder (its best) or a file
    model = model_from_checkpoint(ckpt)                              # architecture from ckpt["model_config"]

Loading uses torch.load(weights_only=True): tensors and plain containers only, so a hostile
checkpoint cannot run code. A file that is not one, truncated or damaged fails with one line naming it.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch

from ilsvrc.errors import DataError
from ilsvrc.files import check_output_folder, make_output_folder, written_atomically

FORMAT = "ilsvrc-checkpoint"
VERSION = 1
KEYS = ("model_config", "model", "config", "classes", "class_names", "data_stats")  # what eval and predict read


ZIP_ENTRY_MAGIC = b"PK\x03\x04"  # a zip local file header: how every torch.save archive begins


def save_checkpoint(path: Path, state: dict) -> None:
    make_output_folder(path.parent)
    with written_atomically(path) as f:  # a full disk: one line naming the file, the previous one intact
        try:
            torch.save({"format": FORMAT, "version": VERSION, **state}, f)
        except RuntimeError as e:
            # a failed write inside torch's zip writer resurfaces as "unexpected pos" from its clean-up:
            # give back the OSError underneath (disk full) so it is reported as one
            if isinstance(e.__context__, OSError):
                raise e.__context__ from None
            raise


def checkpoint_path(run_or_file: str | os.PathLike, which: str = "best") -> Path:
    """A checkpoint file given itself or its run folder (`which`: best or last)."""
    path = Path(run_or_file)
    if path.is_dir():
        path = path / "checkpoints" / f"{which}.pt"
    if not path.is_file():
        raise DataError(path, "no such checkpoint (give a run folder or a .pt file written by `ilsvrc train`)")
    return path


def load_checkpoint(run_or_file: str | os.PathLike, which: str = "best", map_location="cpu") -> dict:
    path = checkpoint_path(run_or_file, which)
    state = _read(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DataError(path, "not an ilsvrc checkpoint")
    if state.get("version") != VERSION:
        raise DataError(path, f"checkpoint version {state.get('version')}, this ilsvrc reads {VERSION}")
    missing = [k for k in KEYS if k not in state]
    if missing:
        raise DataError(path, f"incomplete checkpoint: no {', '.join(missing)}")
    state["path"] = str(path)
    return state


def _read(path: Path, map_location):
    # torch.save writes a zip archive; checking for one first turns the unpickler's puzzling errors on
    # text files or half-copied files ("KeyError: 101", "negative seek value") into a plain statement.
    # Both ends are checked: is_zipfile reads only the directory at the end, and a file whose first bytes
    # are not a zip entry is read by torch.load as a legacy pickle, whose damaged length fields make it
    # allocate up to 4 GB before failing.
    if not (zipfile.is_zipfile(path) and _starts_like_zip(path)):
        raise DataError(path, "not a readable checkpoint: not a torch archive (truncated, or not written by "
                              "`ilsvrc train`)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 (damaged archives raise RuntimeError, KeyError, ValueError, EOFError...)
        raise DataError(path, f"not a readable checkpoint: damaged ({_first_line(e)})") from None


def _starts_like_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == ZIP_ENTRY_MAGIC


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def model_from_checkpoint(state: dict, device: str | torch.device = "cpu") -> torch.nn.Module:
    from ilsvrc.models import model_from_config

    model = model_from_config(state["model_config"])
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, TypeError, AttributeError) as e:
        where = state.get("path", "checkpoint")
        raise DataError(where, f"weights do not fit its model_config ({_first_line(e)})") from None
    return (model if getattr(model, "places_itself", False) else model.to(device)).eval()


def check_new_run_folder(run_dir: str | os.PathLike) -> None:
    """Refuse to start a run over a folder that already holds one (its checkpoints and metrics would be
    overwritten), or over a file."""
    run_dir = Path(run_dir)
    check_output_folder(run_dir)
    held = [name for name in ("checkpoints/last.pt", "summary.json") if (run_dir / name).exists()]
    if held:
        raise DataError(run_dir, f"already holds a run ({held[0]}); continue it with --resume RUN_DIR, "
                                 "or choose another --out")
