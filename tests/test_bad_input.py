"""Bad input across the commands: one line on stderr naming the file and the problem, a non-zero exit,
nothing written where the command failed before its work, nothing already there lost."""
import json
import pickle
import shutil

import numpy as np
import pytest

from ilsvrc.cli import main
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.engine.checkpoint import check_new_run_folder, save_checkpoint
from ilsvrc.engine.train import train
from ilsvrc.errors import DataError
from fixtures import tiny_config, write_split

NOT_A_CHECKPOINT = "not a readable checkpoint: not a torch archive (truncated, or not written by `ilsvrc train`)"


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-input") / "raw"
    rng = np.random.default_rng(0)
    labels = np.arange(48) % 10
    images = rng.integers(0, 255, (48, 28, 28)).astype(np.uint8)
    write_split(root, images[:32], labels[:32], "train", gz=True)
    write_split(root, images[32:], labels[32:], "t10k", gz=True)
    return root


@pytest.fixture(scope="module")
def packed(raw):
    prepare(raw, raw.parent / "packed", options=PackOptions())
    return raw.parent / "packed"


@pytest.fixture(scope="module")
def run(packed):
    train(tiny_config(packed, 1), packed.parent / "run")
    return packed.parent / "run"


def error_of(capsys, argv: list[str], code: int = 1) -> str:
    """The command's stderr, checked to be one line after exit status `code`."""
    assert main([str(a) for a in argv]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.removeprefix("ilsvrc: error: ").removesuffix("\n")


def copy_of(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / folder.name)


# ---- checkpoints (eval, predict, report) ----

@pytest.mark.parametrize("content", [b"", b"hello, not a checkpoint\n", b"\x80\x04 pickled junk"])
def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path, capsys, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    assert error_of(capsys, ["eval", bad]) == f"{bad}: {NOT_A_CHECKPOINT}"


def test_a_truncated_best_checkpoint_is_named(run, tmp_path, capsys):
    copy = copy_of(run, tmp_path)
    best = copy / "checkpoints" / "best.pt"
    best.write_bytes(best.read_bytes()[:20000])
    assert error_of(capsys, ["eval", copy]) == f"{best}: {NOT_A_CHECKPOINT}"
    assert error_of(capsys, ["predict", copy, best]) == f"{best}: {NOT_A_CHECKPOINT}"


def test_a_checkpoint_without_its_model_is_named(tmp_path, capsys):
    path = tmp_path / "partial.pt"
    save_checkpoint(path, {"epoch": 1})
    assert error_of(capsys, ["eval", path]) == (f"{path}: incomplete checkpoint: no model_config, model, config, "
                                                "classes, class_names, data_stats")


def test_a_run_folder_without_checkpoints_is_named(run, tmp_path, capsys):
    copy = copy_of(run, tmp_path)
    shutil.rmtree(copy / "checkpoints")
    assert error_of(capsys, ["eval", copy]) == (f"{copy / 'checkpoints' / 'best.pt'}: no such checkpoint (give a "
                                                "run folder or a .pt file written by `ilsvrc train`)")


# ---- predict ----

@pytest.mark.parametrize("top", ["0", "-3"])
def test_predict_refuses_a_top_below_one(run, tmp_path, capsys, top):
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    assert error_of(capsys, ["predict", run, image, "--top", top]) == f"--top must be at least 1, got {top}"


def test_predict_names_a_file_that_is_not_an_image(run, tmp_path, capsys):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    assert error_of(capsys, ["predict", run, text]) == (
        f"{text}: corrupt or unreadable image (not an image, or a format Pillow cannot read)")


# ---- packed datasets ----

def test_a_damaged_packed_index_is_named(packed, tmp_path, capsys):
    copy = copy_of(packed, tmp_path)
    index = copy / "index.json"
    record = json.loads(index.read_text())
    index.write_text('{"format": "ilsvrc-packed", "vers')
    assert error_of(capsys, ["data", "info", copy]).startswith(f"{index}: unreadable packed index (")
    index.write_text(json.dumps({**record, "version": 99}))
    assert error_of(capsys, ["data", "info", copy]) == f"{index}: packed format version 99, this ilsvrc reads 1"
    index.write_text(json.dumps({k: v for k, v in record.items() if k != "classes"}))
    assert error_of(capsys, ["data", "info", copy]) == (
        f"{index}: damaged packed index: classes is missing or not of type list")
    del record["splits"]["train"]["shards"][0]["n"]
    index.write_text(json.dumps(record))
    assert error_of(capsys, ["data", "info", copy]) == (
        f"{index}: damaged packed index: splits.train.shards[0].n is missing or not of type int")


def test_a_truncated_or_missing_shard_fails_when_its_split_is_opened(packed, run, tmp_path, capsys):
    copy = copy_of(packed, tmp_path)
    shard = copy / "test-00000.shard"
    size = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[:size // 2])
    message = f"{shard}: truncated or damaged shard: {size // 2} bytes, index.json says {size}"
    assert error_of(capsys, ["data", "info", copy]) == message
    assert error_of(capsys, ["eval", run, "--data", copy]) == message
    shard.unlink()
    assert error_of(capsys, ["data", "info", copy]) == f"{shard}: cannot open shard (No such file or directory)"


def test_an_index_without_shard_sizes_still_opens(packed, tmp_path, capsys):
    copy = copy_of(packed, tmp_path)
    record = json.loads((copy / "index.json").read_text())
    for entry in record["splits"].values():
        for shard in entry["shards"]:
            del shard["bytes"]
    (copy / "index.json").write_text(json.dumps(record))  # as packed by an earlier ilsvrc
    assert main(["data", "info", str(copy), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"]["train"]["n"] == 32


def test_a_format_forced_on_data_not_in_it_is_named(packed, capsys):
    assert error_of(capsys, ["data", "info", packed, "--kind", "idx"]) == (
        f"{packed}: holds no idx data (no split found)")


# ---- output folders: checked before the work, never mixed into another command's ----

def test_prepare_refuses_a_file_or_another_commands_folder_and_writes_nothing(raw, run, tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("keep me")
    assert error_of(capsys, ["data", "prepare", raw, "--out", file]) == (
        f"{file}: exists and is not a folder; choose another --out")
    assert error_of(capsys, ["data", "prepare", raw, "--out", file / "sub"]) == (
        f"{file}: exists and is not a folder; choose another --out")
    copy = copy_of(run, tmp_path)
    before = sorted(p.name for p in copy.iterdir())
    assert error_of(capsys, ["data", "prepare", raw, "--out", copy]) == (
        f"{copy}: holds files this command did not write (checkpoints, config.yaml, metrics.csv, ...); "
        "choose another --out")
    assert sorted(p.name for p in copy.iterdir()) == before and file.read_text() == "keep me"


def test_prepare_checks_every_split_before_writing(raw, tmp_path, capsys):
    source = shutil.copytree(raw, tmp_path / "raw")
    (source / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08")
    out = tmp_path / "out"
    assert error_of(capsys, ["data", "prepare", source, "--out", out]) == (
        f"{source / 't10k-images-idx3-ubyte.gz'}: truncated gzip file")
    assert not out.exists()  # the train split was not packed first


@pytest.mark.parametrize("argv", [
    ["data", "synth", "--out", "{file}", "--classes", "1"],
    ["report", "{run}", "--out", "{file}"],
    ["baseline", "--data", "{packed}", "--out", "{file}"],
    ["demo", "--data", "{packed}", "--out", "{file}", "--quick"],
    ["label", "experiment", "--data", "{packed}", "--out", "{file}", "--quick"],
    ["label", "apply", "{file}", "--data", "{packed}", "--out", "{file}"],
    ["data", "download", "mnist", "--root", "{file}"],
])
def test_an_output_folder_that_is_a_file_is_refused_before_the_work(argv, run, packed, tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("task,label\ntrain/0,0\n")  # also the labels of `label apply`
    argv = [a.format(file=file, run=run, packed=packed) for a in argv]
    assert error_of(capsys, argv) == f"{file}: exists and is not a folder; choose another --out"
    assert file.read_text() == "task,label\ntrain/0,0\n"


def test_a_baseline_is_not_written_into_a_convnet_run(run, packed, tmp_path, capsys):
    copy = copy_of(run, tmp_path)
    assert error_of(capsys, ["baseline", "--data", packed, "--out", copy]) == (
        f"{copy}: holds files this command did not write (checkpoints, config.yaml, metrics.csv); "
        "choose another --out")  # its summary.json would be replaced
    assert not (copy / "baseline.json").exists()


def test_a_new_run_is_not_started_over_a_finished_one(run, tmp_path):
    with pytest.raises(DataError) as e:
        check_new_run_folder(run)
    assert str(e.value) == (f"{run}: already holds a run (checkpoints/last.pt); continue it with --resume "
                            "RUN_DIR, or choose another --out")
    check_new_run_folder(tmp_path / "new")  # absent or empty: fine
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="exists and is not a folder"):
        check_new_run_folder(tmp_path / "file")


def test_report_names_a_missing_run_folder_and_a_file(tmp_path, capsys):
    file = tmp_path / "file"
    file.write_text("")
    assert error_of(capsys, ["report", tmp_path / "nothing", "--out", tmp_path / "r"]) == (
        f"{tmp_path / 'nothing'}: no such run folder")
    assert error_of(capsys, ["report", file, "--out", tmp_path / "r"]) == f"{file}: not a run folder (a file)"
    assert not (tmp_path / "r").exists()


# ---- labels ----

VOTES = "task,worker,label\ntrain/0:a,w1,yes\ntrain/0:a,w2,no\ntrain/1:a,w1,no\n"


@pytest.mark.parametrize("encode", [
    lambda text: b"\xef\xbb\xbf" + text.encode(),  # a BOM, as Excel writes
    lambda text: text.replace("\n", "\r\n").encode(),  # Windows line endings
])
def test_aggregate_reads_excel_and_windows_csv(tmp_path, capsys, encode):
    votes = tmp_path / "votes.csv"
    votes.write_bytes(encode(VOTES))
    assert main(["label", "aggregate", str(votes), "--method", "majority", "--out", str(tmp_path / "l.csv")]) == 0
    assert (tmp_path / "l.csv").read_text().splitlines()[0] == "task,label,confidence,votes"


def test_aggregate_names_non_utf8_votes_and_a_folder_to_write(tmp_path, capsys):
    votes = tmp_path / "votes.csv"
    votes.write_bytes(VOTES.encode() + b"train/2:a,w\xe9,no\n")
    assert error_of(capsys, ["label", "aggregate", votes, "--method", "majority", "--out", tmp_path / "l.csv"]) == (
        f"{votes}: not UTF-8 text (invalid continuation byte at byte {len(VOTES) + 11})")
    votes.write_text(VOTES)
    assert error_of(capsys, ["label", "aggregate", votes, "--method", "majority", "--out", tmp_path]) == (
        f"{tmp_path}: is a folder; give the name of the CSV file to write")
    assert error_of(capsys, ["label", "aggregate", votes, "--method", "majority", "--out", tmp_path / "l.csv",
                             "--classes", tmp_path]) == (
        f"{tmp_path}: is a folder; --classes takes a file (one class per line) or a,b,c")


def test_simulate_refuses_an_empty_crowd(packed, tmp_path, capsys):
    assert error_of(capsys, ["label", "simulate", "--data", packed, "--out", tmp_path / "v.csv", "--crowd", "0"]) == (
        "--crowd must be positive, got 0")


# ---- benchmarks ----

@pytest.mark.parametrize("sizes", ["abc", "0", "-5", ",", ""])
def test_matmul_sizes_must_be_positive_integers(capsys, sizes):
    assert error_of(capsys, ["bench", "matmul", "--sizes", sizes]) == (
        f"--sizes takes comma-separated positive integers (e.g. 1000,4096), got {sizes!r}")


@pytest.mark.parametrize("option", [["--batch", "0"], ["--repeats", "0"]])
def test_train_step_bench_refuses_empty_batches_or_repeats(capsys, option):
    assert error_of(capsys, ["bench", "train", "--model", "lenet5", *option]).startswith(
        "--batch and --repeats must be positive, got ")


def test_loader_bench_names_a_missing_reference_root(tmp_path):
    import torch

    from ilsvrc.bench.loader import reference_loader

    with pytest.raises(DataError) as e:
        reference_loader(tmp_path / "nothing", 8, 0, torch.device("cpu"))
    assert str(e.value) == (f"{tmp_path / 'nothing'}: no such folder (--reference-root takes class folders "
                            "of JPEG files)")
    with pytest.raises(DataError, match="holds no class folders of images"):
        reference_loader(tmp_path, 8, 0, torch.device("cpu"))


# ---- errors across processes ----

def test_a_data_error_survives_a_worker_pool():
    error = pickle.loads(pickle.dumps(DataError("/data/x.shard", "truncated")))
    assert isinstance(error, DataError) and str(error) == "/data/x.shard: truncated"
    assert (error.where, error.problem) == ("/data/x.shard", "truncated")
