"""A baseline run folder: written atomically, read back with one-line errors.

    save_run(run_dir, baseline, record, summary)
    baseline = load_baseline(run_dir)

RUN_DIR/model.npz      the extractor's arrays (PCA, codebook or GMM) and the SVM's W and b:
                       plain numbers, loaded without pickle, so a run folder cannot run code
RUN_DIR/summary.json   the run's line in a results table, with the keys ConvNet runs write
RUN_DIR/baseline.json  features, options, classes, data, split, timings, results and the
                       model's SHA-256; written last, so a folder holding it holds a whole run
"""
from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ilsvrc.baseline.extractors import KERNEL, extractor_config, restore_extractor
from ilsvrc.baseline.kernel_svm import RbfSvm
from ilsvrc.baseline.pipeline import FittedBaseline
from ilsvrc.baseline.svm import LinearSvm
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.files import read_json_record, write_json_atomic, write_npz_atomic

RECORD = "baseline.json"
MODEL = "model.npz"
SUMMARY = "summary.json"
FORMAT = "ilsvrc-baseline"
VERSION = 1
RUN_FILES = (RECORD, MODEL, SUMMARY, "*.tmp")  # all a baseline run folder holds


def is_baseline_run(run: str | Path) -> bool:
    """A run folder of the pre-2012 pipeline (`ilsvrc baseline`), rather than a ConvNet's."""
    return (Path(run) / RECORD).is_file()


def save_run(run_dir: str | Path, baseline: FittedBaseline, record: dict, summary: dict) -> None:
    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{run_dir}: cannot create the run folder ({e.strerror or e})") from None
    (run_dir / RECORD).unlink(missing_ok=True)  # until the new record is written, this is not a run
    arrays = {f"svm.{k}": v for k, v in baseline.svm.arrays().items()} | baseline.extractor.arrays()
    digest = hashlib.sha256(write_npz_atomic(run_dir / MODEL, arrays)).hexdigest()
    write_json_atomic(run_dir / SUMMARY, summary)
    write_json_atomic(run_dir / RECORD, {"format": FORMAT, "version": VERSION, **record,
                                   "extractor": extractor_config(baseline.extractor), "classes": baseline.classes,
                                   "class_names": baseline.class_names, "data": baseline.data,
                                   "model_file": MODEL, "model_sha256": digest})


def load_baseline(run_dir: str | Path, workers: int | None = None) -> FittedBaseline:
    """The fitted baseline of a run folder written by `ilsvrc baseline`."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    path = run_dir / record.get("model_file", MODEL)
    arrays = _read_npz(path, record.get("model_sha256"))
    try:
        extractor = restore_extractor(record["extractor"], arrays)
        svm_arrays = {k.removeprefix("svm."): v for k, v in arrays.items() if k.startswith("svm.")}
        features = record.get("features", record["extractor"]["features"])
        svm = (RbfSvm if features in KERNEL else LinearSvm).from_arrays(svm_arrays)
        return FittedBaseline(extractor, svm, list(record["classes"]), list(record["class_names"]), record["data"],
                              workers, features)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(path, f"does not match {RECORD} (missing or unexpected {e})") from None


def read_record(run_dir: str | Path) -> dict:
    path = Path(run_dir) / RECORD
    record = read_json_record(path, FORMAT, "baseline record",
                              missing="not a baseline run (run `ilsvrc baseline` first)")
    if record.get("version") != VERSION:
        raise DataError(path, f"baseline format version {record.get('version')}, this ilsvrc reads {VERSION}")
    return record


def _read_npz(path: Path, sha256: str | None) -> dict[str, np.ndarray]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot read the model ({e.strerror or e})") from None
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        raise DataError(path, f"checksum differs from the one in {RECORD} (corrupt or replaced)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, RuntimeError,
            NotImplementedError) as e:  # zipfile: "encrypted", "compression method not supported"
        raise DataError(path, f"unreadable model ({e})") from None
