import io
import os
import pickle
import struct

import numpy as np
import pytest

from ilsvrc.data import detect_kind, open_dataset, safe_pickle
from ilsvrc.data.readers import cifar
from ilsvrc.errors import ConfigError, DataError

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FINE_NAMES = ["aquarium_fish"] + [f"fine{k:02d}" for k in range(1, 100)]
COARSE_NAMES = ["large_carnivores"] + [f"coarse{k:02d}" for k in range(1, 20)]
BATCH = 3  # images per CIFAR-10 batch file in these fixtures


class Py2Pickler(pickle._Pickler):
    """Writes what Python 2's cPickle wrote for CIFAR: str and bytes as 8-bit strings, numpy.core names."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj):
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_string
    dispatch[str] = save_py2_string


def py2_pickle(obj) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def content(classes: int, n: int, seed: int) -> dict:
    """Random planar rows and labels, as the archives hold them."""
    rng = np.random.default_rng(seed)
    fine = rng.integers(0, classes, n)
    return {"rows": rng.integers(0, 256, (n, 3072), dtype=np.uint8), "fine": fine, "coarse": fine // 5,
            "filenames": [f"img_{seed}_{k:05d}.png" for k in range(n)]}


def expected_images(rows: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) from planar rows, channel by channel."""
    return np.stack([rows[:, c * 1024:(c + 1) * 1024].reshape(-1, 32, 32) for c in range(3)], axis=-1)


def cifar10_batches(n_test: int = 4) -> dict[str, dict]:
    batches = {f"data_batch_{k}": content(10, BATCH, k) for k in range(1, 6)}
    return {**batches, "test_batch": content(10, n_test, 9)}


def write_cifar10_binary(root, batches=None):
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, b in (batches or cifar10_batches()).items():
        records = np.concatenate([b["fine"][:, None].astype(np.uint8), b["rows"]], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_NAMES) + "\n\n\n")
    return folder


def write_cifar10_python(root, batches=None):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, b in (batches or cifar10_batches()).items():
        batch = {"batch_label": f"batch {name}", "labels": b["fine"].tolist(), "data": b["rows"],
                 "filenames": b["filenames"]}
        (folder / name).write_bytes(py2_pickle(batch))
    meta = {"num_cases_per_batch": BATCH, "label_names": CIFAR10_NAMES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(py2_pickle(meta))
    return folder


def cifar100_batches() -> dict[str, dict]:
    return {"train": content(100, 6, 1), "test": content(100, 4, 2)}


def write_cifar100_binary(root):
    folder = root / "cifar-100-binary"
    folder.mkdir(parents=True)
    for name, b in cifar100_batches().items():
        labels = np.stack([b["coarse"], b["fine"]], axis=1).astype(np.uint8)
        (folder / f"{name}.bin").write_bytes(np.concatenate([labels, b["rows"]], axis=1).tobytes())
    (folder / "fine_label_names.txt").write_text("\n".join(FINE_NAMES) + "\n")
    (folder / "coarse_label_names.txt").write_text("\n".join(COARSE_NAMES) + "\n")
    return folder


def write_cifar100_python(root):
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, b in cifar100_batches().items():
        batch = {"filenames": b["filenames"], "batch_label": name, "fine_labels": b["fine"].tolist(),
                 "coarse_labels": b["coarse"].tolist(), "data": b["rows"]}
        (folder / name).write_bytes(py2_pickle(batch))
    (folder / "meta").write_bytes(py2_pickle({"fine_label_names": FINE_NAMES, "coarse_label_names": COARSE_NAMES}))
    return folder


def test_fixture_pickles_are_python2_style():
    data = py2_pickle({"data": np.zeros((1, 3072), np.uint8)})
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in data and b"_codecs" not in data
    assert pickle.loads(data, encoding="bytes")[b"data"].shape == (1, 3072)


@pytest.mark.parametrize("write", [write_cifar10_binary, write_cifar10_python])
def test_cifar10_images_labels_and_classes(tmp_path, write):
    write(tmp_path)
    batches = cifar10_batches()
    train = cifar.open(tmp_path, "train")
    rows = np.concatenate([batches[f"data_batch_{k}"]["rows"] for k in range(1, 6)])
    np.testing.assert_array_equal(train.images, expected_images(rows))
    np.testing.assert_array_equal(train.labels(), np.concatenate([batches[f"data_batch_{k}"]["fine"]
                                                                  for k in range(1, 6)]))
    assert train.images.shape == (5 * BATCH, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.classes == CIFAR10_NAMES and train.name == "CIFAR-10" and not train.multilabel
    test = cifar.open(tmp_path, "test")
    assert len(test) == 4 and test.labels().tolist() == batches["test_batch"]["fine"].tolist()
    image, label = test[3]
    np.testing.assert_array_equal(image, expected_images(batches["test_batch"]["rows"][3:4])[0])
    assert label == batches["test_batch"]["fine"][3]


def test_binary_and_python_versions_give_identical_arrays(tmp_path):
    binary = write_cifar10_binary(tmp_path / "b")
    python = write_cifar10_python(tmp_path / "p")
    for split in ("train", "test"):
        a, b = cifar.open(binary, split), cifar.open(python, split)
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.targets, b.targets)
        assert a.classes == b.classes


@pytest.mark.parametrize("label", ["fine", "coarse"])
def test_cifar100_binary_and_python_agree_for_both_label_sets(tmp_path, label):
    binary = cifar.open(write_cifar100_binary(tmp_path / "b"), "train", label=label)
    python = cifar.open(write_cifar100_python(tmp_path / "p"), "train", label=label)
    expected = cifar100_batches()["train"]
    for ds in (binary, python):
        np.testing.assert_array_equal(ds.images, expected_images(expected["rows"]))
        assert ds.labels().tolist() == expected[label].tolist()
        assert ds.classes == (FINE_NAMES if label == "fine" else COARSE_NAMES)
        assert ds.name == "CIFAR-100"
    assert binary.class_names[0] == ("aquarium fish" if label == "fine" else "large carnivores")


def test_sources_name_the_record_or_the_file(tmp_path):
    binary = cifar.open(write_cifar10_binary(tmp_path / "b"), "train")
    python = cifar.open(write_cifar10_python(tmp_path / "p"), "train")
    assert binary.source(BATCH + 1) == "data_batch_2.bin#1"
    assert python.source(BATCH + 1) == cifar10_batches()["data_batch_2"]["filenames"][1]


def test_accepts_the_folder_or_its_parent_and_detects_both(tmp_path):
    folder = write_cifar100_python(tmp_path)
    for path in (folder, tmp_path):
        assert cifar.detect(path)
        assert cifar.splits(path) == ["train", "test"]
        assert len(cifar.open(path, "test")) == 4
    assert detect_kind(tmp_path) == "cifar" and open_dataset(tmp_path, "test").kind == "cifar"


def test_renamed_folder_is_recognised_by_its_files(tmp_path):
    folder = write_cifar10_binary(tmp_path)
    renamed = folder.rename(tmp_path / "my-cifar")
    assert cifar.detect(renamed) and len(cifar.open(renamed, "train")) == 5 * BATCH


def test_binary_version_is_preferred_when_both_are_present(tmp_path):
    write_cifar10_binary(tmp_path)
    write_cifar10_python(tmp_path)
    assert cifar.open(tmp_path, "train").source(0) == "data_batch_1.bin#0"


def test_detect_rejects_other_folders(tmp_path):
    (tmp_path / "a" / "cat").mkdir(parents=True)
    (tmp_path / "a" / "meta").write_bytes(b"not a pickle")
    (tmp_path / "a" / "train").write_bytes(b"not a pickle")
    (tmp_path / "a" / "test").write_bytes(b"not a pickle")
    assert not cifar.detect(tmp_path / "a")
    assert not cifar.detect(tmp_path / "missing")


def test_both_datasets_in_one_folder_is_ambiguous(tmp_path):
    write_cifar10_binary(tmp_path)
    write_cifar100_binary(tmp_path)
    with pytest.raises(DataError) as e:
        cifar.open(tmp_path, "train")
    assert str(e.value) == (f"{tmp_path}: holds both CIFAR-10 and CIFAR-100 (cifar-10-batches-bin, "
                            "cifar-100-binary); open one of those folders")


def test_truncated_binary_batch_names_the_file(tmp_path):
    folder = write_cifar10_binary(tmp_path)
    path = folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError) as e:
        cifar.open(folder, "train")
    assert str(e.value) == (f"{path}: {BATCH * 3073 - 100} bytes is not a whole number of 3073-byte records "
                            "(truncated? the last record has 2973 bytes)")


def test_cifar100_records_are_3074_bytes(tmp_path):
    folder = write_cifar100_binary(tmp_path)
    path = folder / "test.bin"
    assert path.stat().st_size == 4 * 3074
    path.write_bytes(path.read_bytes()[:3 * 3073])
    with pytest.raises(DataError, match=r"test.bin: 9219 bytes is not a whole number of 3074-byte records"):
        cifar.open(folder, "test")


def test_empty_missing_and_out_of_range_files(tmp_path):
    folder = write_cifar10_binary(tmp_path)
    (folder / "test_batch.bin").write_bytes(b"")
    with pytest.raises(DataError, match=r"^.*test_batch.bin: empty file$"):
        cifar.open(folder, "test")
    (folder / "data_batch_5.bin").unlink()
    with pytest.raises(DataError) as e:
        cifar.open(folder, "train")
    assert str(e.value) == f"{folder / 'data_batch_5.bin'}: missing"
    assert cifar.splits(folder) == ["test"]
    records = np.zeros((2, 3073), np.uint8)
    records[1, 0] = 10
    (folder / "test_batch.bin").write_bytes(records.tobytes())
    with pytest.raises(DataError) as e:
        cifar.open(folder, "test")
    assert str(e.value) == f"{folder / 'test_batch.bin'}: record 1: labels value 10 is out of range 0..9"


def test_wrong_meta_file(tmp_path):
    folder = write_cifar10_binary(tmp_path)
    (folder / "batches.meta.txt").write_text("cat\ndog\n")
    with pytest.raises(DataError) as e:
        cifar.open(folder, "test")
    assert str(e.value) == f"{folder / 'batches.meta.txt'}: 2 class names, CIFAR-10 has 10"


def test_wrong_cifar100_meta_pickle(tmp_path):
    folder = write_cifar100_python(tmp_path)
    (folder / "meta").write_bytes(py2_pickle({"fine_label_names": FINE_NAMES, "coarse_label_names": ["a"] * 19}))
    assert len(cifar.open(folder, "test", label="fine")) == 4
    with pytest.raises(DataError) as e:
        cifar.open(folder, "test", label="coarse")
    assert str(e.value) == f"{folder / 'meta'}: 19 coarse class names, CIFAR-100 has 20"


def test_python_batch_without_labels(tmp_path):
    folder = write_cifar10_python(tmp_path)
    (folder / "test_batch").write_bytes(py2_pickle({"data": np.zeros((2, 3072), np.uint8), "filenames": ["a", "b"]}))
    with pytest.raises(DataError) as e:
        cifar.open(folder, "test")
    assert str(e.value) == f"{folder / 'test_batch'}: no 'labels' entry (entries: data, filenames)"


def test_python_batch_with_the_wrong_array(tmp_path):
    folder = write_cifar10_python(tmp_path)
    batch = {"data": np.zeros((2, 1024), np.uint8), "labels": [0, 1], "filenames": ["a", "b"]}
    (folder / "test_batch").write_bytes(py2_pickle(batch))
    with pytest.raises(DataError) as e:
        cifar.open(folder, "test")
    assert str(e.value) == (f"{folder / 'test_batch'}: 'data' is a uint8 array of shape (2, 1024), "
                            "expected an (N, 3072) uint8 array")


def test_options_are_checked(tmp_path):
    write_cifar10_binary(tmp_path)
    with pytest.raises(ConfigError, match=r"label='coarse' needs CIFAR-100; CIFAR-10 has one label set"):
        cifar.open(tmp_path, "train", label="coarse")
    with pytest.raises(ConfigError, match=r"label must be 'fine' or 'coarse', got 'super'"):
        cifar.open(tmp_path, "train", label="super")
    with pytest.raises(ConfigError, match=r"unknown option\(s\) for CIFAR data: seed \(known: label\)"):
        cifar.open(tmp_path, "train", seed=1)
    with pytest.raises(DataError) as e:
        cifar.open(tmp_path, "val")
    assert str(e.value) == f"{tmp_path / 'cifar-10-batches-bin'}: no split 'val' (CIFAR-10 splits: train, test)"


def test_no_cifar_data(tmp_path):
    with pytest.raises(DataError) as e:
        cifar.open(tmp_path, "train")
    assert str(e.value) == (f"{tmp_path}: no CIFAR data (expected one of cifar-10-batches-bin, cifar-100-binary, "
                            "cifar-10-batches-py, cifar-100-python, or the files inside one)")


def test_images_are_read_only_and_image_returns_a_copy(tmp_path):
    ds = cifar.open(write_cifar10_binary(tmp_path), "test")
    assert not ds.images.flags.writeable
    image = ds.image(0)
    image[:] = 0
    assert ds.images[0].any()


# --- the restricted unpickler ---

class RunsACommand:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    folder = write_cifar10_python(tmp_path)
    marker = tmp_path / "pwned"
    hostile = pickle.dumps({"data": RunsACommand(f"touch {marker}")}, protocol=2)
    (folder / "data_batch_1").write_bytes(hostile)
    with pytest.raises(DataError) as e:
        cifar.open(folder, "train")
    assert str(e.value) == (f"{folder / 'data_batch_1'}: refused to unpickle: it calls posix.system, and only "
                            "numpy arrays and plain data are allowed")
    assert not marker.exists()
    pickle.loads(hostile)  # the same bytes do run under the standard unpickler
    assert marker.exists()


def test_protocol_4_globals_are_refused_too(tmp_path):
    path = tmp_path / "meta"
    path.write_bytes(pickle.dumps([eval], protocol=4))
    with pytest.raises(DataError) as e:
        safe_pickle.load(path)
    assert str(e.value) == (f"{path}: refused to unpickle: it calls builtins.eval, and only numpy arrays "
                            "and plain data are allowed")


def test_plain_data_and_python3_arrays_load(tmp_path):
    path = tmp_path / "ok"
    obj = {b"a": [1, 2.5, "s", (b"x", None)], b"array": np.arange(6, dtype=np.int32).reshape(2, 3)}
    path.write_bytes(pickle.dumps(obj, protocol=4))
    loaded = safe_pickle.load(path)
    assert loaded[b"a"] == obj[b"a"]
    np.testing.assert_array_equal(loaded[b"array"], obj[b"array"])
    assert loaded[b"array"].dtype == np.int32


def test_corrupt_and_truncated_pickles(tmp_path):
    path = tmp_path / "p"
    data = pickle.dumps({"a": list(range(100))}, protocol=2)
    path.write_bytes(data[:-1])  # cut between opcodes
    with pytest.raises(DataError) as e:
        safe_pickle.load(path)
    assert str(e.value) == f"{path}: truncated pickle"
    path.write_bytes(data[:40])  # cut inside an opcode's argument
    with pytest.raises(DataError) as e:
        safe_pickle.load(path)
    assert str(e.value) == f"{path}: corrupt pickle (pickle data was truncated)"
    path.write_bytes(b"\x80\x02\xff garbage")
    with pytest.raises(DataError, match=r"^.*/p: corrupt pickle \(.+\)$"):
        safe_pickle.load(path)
    with pytest.raises(DataError, match=r"^.*/absent: missing$"):
        safe_pickle.load(tmp_path / "absent")
