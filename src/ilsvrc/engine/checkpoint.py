"""Checkpoints that rebuild their model alone, written atomically.

    save_checkpoint(run_dir / "checkpoints" / "last.pt", state)    # temporary file + fsync + rename
    ckpt = load_checkpoint("runs/fmnist")                            # a run folder (its best) or a file
    model = model_from_checkpoint(ckpt)                              # architecture from ckpt["model_config"]

Loading uses torch.load(weights_only=True): tensors and plain containers only, so a hostile
checkpoint cannot run code.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from ilsvrc.errors import DataError

FORMAT = "ilsvrc-checkpoint"
VERSION = 1


def save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save({"format": FORMAT, "version": VERSION, **state}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        raise DataError(path, f"not a readable checkpoint ({str(e).splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DataError(path, "not an ilsvrc checkpoint")
    if state.get("version") != VERSION:
        raise DataError(path, f"checkpoint version {state.get('version')}, this ilsvrc reads {VERSION}")
    state["path"] = str(path)
    return state


def model_from_checkpoint(state: dict, device: str | torch.device = "cpu") -> torch.nn.Module:
    from ilsvrc.models import model_from_config

    model = model_from_config(state["model_config"])
    model.load_state_dict(state["model"])
    return (model if getattr(model, "places_itself", False) else model.to(device)).eval()
