"""`ilsvrc baseline` end to end on tiny learnable data: fit, save, load, eval, predict, and bad input."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ilsvrc.baseline import BaselineOptions, fit_baseline, load_baseline
from ilsvrc.baseline.command import fit_and_save
from ilsvrc.baseline.encoding import FisherVector, Pca
from ilsvrc.baseline.extract import stratified_subset
from ilsvrc.baseline.extractors import SiftExtractor, extractor_config, make_extractor, restore_extractor
from ilsvrc.baseline.svm import LinearSvm
from ilsvrc.cli import main
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.baseline import is_baseline_run
from fixtures import write_split

SUMMARY_KEYS = {"name", "approach", "model", "top1_error", "top5_error", "train_seconds", "params", "epochs",
                "data", "split"}


def gratings(per_class: int, seed: int, classes: int = 4, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sinusoidal gratings whose class is their orientation: learnable from gradients alone."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    images, labels = [], []
    for c in range(classes):
        angle = np.pi * c / classes
        for _ in range(per_class):
            wave = np.sin(rng.uniform(0.5, 0.9) * (xx * np.cos(angle) + yy * np.sin(angle)) + rng.uniform(0, 6.3))
            images.append(np.clip(128 + 70 * wave + rng.normal(0, 25, (side, side)), 0, 255).astype(np.uint8))
            labels.append(c)
    return np.stack(images), np.array(labels)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("gratings")
    write_split(root / "raw", *gratings(40, seed=0), "train", gz=True)
    write_split(root / "raw", *gratings(10, seed=1), "t10k", gz=True)
    prepare(root / "raw", root / "packed", options=PackOptions())
    return root / "packed"


@pytest.fixture(scope="module")
def hog_run(packed, tmp_path_factory):
    """A HOG run folder and the scores computed while fitting it."""
    run = tmp_path_factory.mktemp("runs") / "hog"
    _, scores = fit_and_save(BaselineOptions("hog", workers=1), packed, run)
    return run, scores


def test_saved_run_scores_exactly_as_at_fit_time(hog_run, packed):
    run, fitted = hog_run
    assert is_baseline_run(run)
    reloaded = load_baseline(run).run_scores()
    assert reloaded.split == fitted.split == "test" and reloaded.tta == "center"
    assert torch.equal(reloaded.scores, fitted.scores) and reloaded.scores.dtype == torch.float32
    assert torch.equal(reloaded.labels, fitted.labels) and reloaded.scores.shape == (40, 4)
    record = json.loads((run / "baseline.json").read_text())
    assert record["results"]["top1_error"] == reloaded.result()["top1_error"]
    assert record["classes"] == reloaded.classes == ["0", "1", "2", "3"]


def test_hog_learns_the_orientations(hog_run):
    _, scores = hog_run
    assert scores.result()["top1_error"] <= 0.05  # chance: 0.75


@pytest.mark.parametrize("features", [pytest.param("sift-bovw", marks=pytest.mark.slow), "sift-fisher"])
def test_sift_encodings_learn_clearly_better_than_chance(features, packed, tmp_path):
    _, scores = fit_and_save(BaselineOptions(features, workers=1, fit_images=80), packed, tmp_path / features)
    assert scores.result()["top1_error"] <= 0.2  # chance: 0.75
    assert is_baseline_run(tmp_path / features)


def test_small_images_keep_the_demo_settings_of_sift_fisher():
    extractor = make_extractor("sift-fisher", 56, 1)  # Fashion-MNIST upscaled for SIFT
    assert (extractor.bin_sizes, extractor.pca_dims, extractor.vocabulary) == ((4,), 32, 16)
    assert make_extractor("sift-bovw", 128, 3).bin_sizes == (4, 6, 8, 10)  # photos: multi-scale SIFT for both


def test_fisher_vectors_at_the_2012_settings_have_their_length():
    extractor = make_extractor("sift-fisher", 128, 1)
    assert (extractor.grid, extractor.bin_sizes, extractor.pca_dims, extractor.vocabulary, extractor.levels) == (
        32, (4, 6, 8, 10), 64, 256, (1, 2))
    images = gratings(1, seed=3, classes=3, side=128)[0][..., None]  # (3, 128, 128, 1)
    raw = [extractor.raw_descriptors(image)[0] for image in images]
    # centres 2 * bin .. 128 - 2 * bin every 4 px: 29, 27, 25 and 23 per side for bins of 4, 6, 8 and 10
    assert [len(d) for d in raw] == [29 ** 2 + 27 ** 2 + 25 ** 2 + 23 ** 2] * 3 == [2724] * 3
    # A PCA fitted on them and 256 Gaussians placed on their projections: the shape, without a slow GMM fit
    extractor.pca = Pca.fit(np.concatenate(raw), 64)
    projected = extractor.pca.project(np.concatenate(raw)).astype(np.float64)
    rng = np.random.default_rng(0)
    extractor.encoder = FisherVector(np.full(256, 1 / 256), projected[rng.choice(len(projected), 256, replace=False)],
                                     np.tile(projected.var(0), (256, 1)))
    features = extractor.transform(images)
    assert features.shape == (3, 5 * 2 * 256 * 64) == (3, 163_840) and features.dtype == np.float32
    assert extractor.dimension == 163_840
    np.testing.assert_allclose(np.linalg.norm(features.reshape(3, 5, -1), axis=2), 1, rtol=1e-5)  # per region


def test_sift_settings_restore_and_configs_saved_before_scales_still_load():
    images = gratings(4, seed=4, classes=2, side=64)[0][..., None]
    extractor = SiftExtractor(64, 1, "fisher", grid=16, vocabulary=4, pca_dims=8, scales=(1.0, 2.0)).fit(images)
    config = json.loads(json.dumps(extractor_config(extractor)))
    assert config["scales"] == [1.0, 2.0]
    restored = restore_extractor(config, extractor.arrays())
    assert restored.bin_sizes == (4, 8)
    np.testing.assert_array_equal(restored.transform(images), extractor.transform(images))
    del config["scales"]  # a run folder written before multi-scale SIFT: one scale, as then
    assert restore_extractor(config, extractor.arrays()).bin_sizes == (4,)


def test_fisher_vectors_at_128_px_separate_oriented_textures():
    """Gratings at 0, 60 and 120 degrees, 128 px: the 2012 pipeline (with 8 Gaussians) and linear SVMs."""
    from dataclasses import replace

    train, train_labels = gratings(12, seed=0, classes=3, side=128)
    test, test_labels = gratings(6, seed=1, classes=3, side=128)
    extractor = replace(make_extractor("sift-fisher", 128, 1), vocabulary=8, fit_descriptors=5_000)
    extractor.fit(train[..., None])
    svm = LinearSvm.fit(extractor.transform(train[..., None]), train_labels, 3)
    assert (svm.decision(extractor.transform(test[..., None])).argmax(1) == test_labels).all()  # chance: 1/3


def test_summary_has_the_keys_convnet_runs_write(hog_run):
    run, scores = hog_run
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["approach"] == "hand-designed features + SVM" and summary["epochs"] is None
    assert summary["name"] == "HOG + LBP + linear SVM" and summary["model"] == "hog" and summary["split"] == "test"
    assert summary["top1_error"] == scores.result()["top1_error"]
    assert summary["params"] == 4 * (36 * 6 * 6 + 36 * 3 * 3 + 16 * 10 + 28 * 28) + 4  # W and b; HOG learns nothing


def test_eval_json_works_on_a_baseline_run(hog_run, capsys):
    run, scores = hog_run
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["top1_error"] == scores.result()["top1_error"] and result["split"] == "test"
    assert result["n"] == 40


def test_eval_refuses_test_views_a_baseline_run_cannot_use(hog_run, capsys):
    run, _ = hog_run
    assert main(["eval", str(run), "--tta", "10crop"]) != 0
    assert capsys.readouterr().err.strip() == (f"ilsvrc: error: {run}: --tta 10crop applies to ConvNet runs; "
                                               "a baseline run (hand-designed features + SVM) scores each image "
                                               "once, as stored")
    assert main(["eval", str(run), "--tta", "center", "--json"]) == 0


def test_predict_json_names_the_orientation(hog_run, tmp_path, capsys):
    run, _ = hog_run
    images, labels = gratings(1, seed=5)
    paths = []
    for image, label in zip(images, labels):
        paths.append(str(tmp_path / f"{label}.png"))
        Image.fromarray(image).resize((56, 56)).convert("RGB").save(paths[-1])  # any size, any mode
    assert main(["predict", str(run), *paths, "--json", "--top", "3"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in results] == paths
    for result, label in zip(results, labels):
        probabilities = [entry["probability"] for entry in result["top"]]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert result["top"][0]["class"] == str(label)


def test_cli_writes_a_run_and_prints_json(packed, tmp_path, capsys):
    out = tmp_path / "cli-run"
    assert main(["baseline", "--data", str(packed), "--out", str(out), "--train-limit", "80", "--side", "32",
                 "--workers", "1", "--json", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["run"] == str(out) and printed["train_images"] == 80 and printed["options"]["C"] == 16
    assert printed["extractor"]["side"] == 32 and printed["split"] == "test"
    assert main(["eval", str(out), "--json"]) == 0  # one shape: the figures at the top level of both
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["run"] == printed["run"] and evaluated["split"] == printed["split"]
    assert evaluated["top1_error"] == printed["top1_error"] == printed["results"]["top1_error"]
    assert evaluated["top5_error"] == printed["top5_error"] and evaluated["n"] == printed["n"]
    assert sorted(p.name for p in out.iterdir()) == ["baseline.json", "model.npz", "summary.json"]


def test_rgb_photos_in_folders_get_colour_histograms(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("val", 2)):
        for name, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
            (tmp_path / "photos" / split / name).mkdir(parents=True)
            for k in range(n):
                image = np.clip(np.array(colour) + rng.normal(0, 20, (40, 50, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(image).save(tmp_path / "photos" / split / name / f"{k}.png")
    prepare(tmp_path / "photos", tmp_path / "packed", options=PackOptions(shorter_side=32))
    baseline, scores = fit_and_save(BaselineOptions("hog", workers=1), tmp_path / "packed", tmp_path / "run")
    assert scores.split == "val" and scores.result()["top1_error"] == 0
    assert baseline.extractor.side == 64 and baseline.extractor.channels == 3  # photos: 64 x 64 for HOG
    record = json.loads((tmp_path / "run" / "baseline.json").read_text())
    assert record["feature_dim"] == 36 * 6 * 6 + 36 * 3 * 3 + 16 * 10 + 32 * 32 + 3 * 16


def test_stratified_subset_keeps_class_proportions():
    labels = np.array([0] * 100 + [1] * 50)
    chosen = stratified_subset(labels, 30, seed=0)
    assert np.bincount(labels[chosen]).tolist() == [20, 10] and list(chosen) == sorted(set(chosen))
    np.testing.assert_array_equal(stratified_subset(labels, None), np.arange(150))


def test_svm_scores_equal_scikit_learns_standardised_pipeline():
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (90, 5)).astype(np.float32)
    y = np.arange(90) % 3
    svm = LinearSvm.fit(x, y, 3, C=2.0, epochs=5, seed=0)
    scaler = StandardScaler().fit(x)
    sgd = SGDClassifier(loss="hinge", alpha=1 / (2.0 * 90), max_iter=5, tol=None, average=True, random_state=0)
    reference = sgd.fit(scaler.transform(x), y).decision_function(scaler.transform(x))
    np.testing.assert_allclose(svm.decision(x), reference, rtol=1e-4, atol=1e-4)


def test_two_classes_give_two_score_columns():
    x = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
    scores = LinearSvm.fit(x, np.array([0, 0, 1, 1]), 2, epochs=50).decision(x)
    assert scores.shape == (4, 2) and list(scores.argmax(1)) == [0, 0, 1, 1]
    np.testing.assert_allclose(scores[:, 0], -scores[:, 1])


# ---- bad input ----


def test_missing_dataset_is_a_one_line_error(tmp_path, capsys):
    assert main(["baseline", "--data", "/no/such/dataset", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ilsvrc: error: /no/such/dataset: no such file or directory") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_unknown_features_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["baseline", "--features", "surf", "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'surf'" in err and err.count("\n") == 1
    with pytest.raises(ConfigError, match=r"^unknown --features 'surf'; choose one of: hog-rbf, hog, sift-bovw, sift-fisher$"):
        fit_baseline("surf", "fashion-mnist", tmp_path / "run")


@pytest.mark.parametrize("options, message", [
    ({"C": 0}, "--C must be positive, got 0"),
    ({"train_limit": 0}, "--train-limit must be positive, got 0"),
    ({"side": 8}, "--side must be at least 16 pixels, got 8"),
])
def test_bad_options(options, message):
    with pytest.raises(ConfigError, match=f"^{message}$"):
        BaselineOptions("hog", **options)


def test_train_limit_below_the_class_count_and_a_missing_split_write_nothing(packed, tmp_path):
    with pytest.raises(ConfigError, match="^--train-limit 3: no stratified sample of that size"):
        fit_baseline("hog", packed, tmp_path / "a", train_limit=3, workers=1)
    with pytest.raises(ConfigError, match=r"no split 'holdout' \(splits: train, test\)$"):
        fit_baseline("hog", packed, tmp_path / "b", split="holdout", workers=1)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_features_beyond_memory_are_refused_before_any_fitting(packed, tmp_path, monkeypatch):
    """ImageNet at 163,840 floats an image is 840 GB of training features: one line, before the GMM."""
    from ilsvrc.baseline import pipeline

    monkeypatch.setattr(pipeline, "physical_memory_gb", lambda: 0.005)  # 4 MB: 81 images of 5,120 floats
    with monkeypatch.context() as patched:
        patched.setattr(SiftExtractor, "fit", lambda *args: pytest.fail("fitted before the memory check"))
        with pytest.raises(ConfigError, match=r"^--features sift-fisher: 160 training images x 5,120 features and 4 "
                                              r"SVMs need 0\.0 GB at their peak, more than 80% of this machine's "
                                              r"0 GB; use --train-limit \(at most 81 images fit\)$"):
            fit_baseline("sift-fisher", packed, tmp_path / "run", workers=1)
    assert not (tmp_path / "run").exists()
    fit_baseline("sift-fisher", packed, tmp_path / "small", workers=1, train_limit=80)


def copy_run(run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("baseline.json", "summary.json", "model.npz"):
        (copy / name).write_bytes((run / name).read_bytes())
    return copy


def test_corrupt_model_is_a_one_line_error_naming_it(hog_run, tmp_path, capsys):
    copy = copy_run(hog_run[0], tmp_path)
    model = copy / "model.npz"
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(DataError, match=r"model\.npz: checksum differs from the one in baseline\.json"):
        load_baseline(copy)
    assert main(["eval", str(copy)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ilsvrc: error: {model}: checksum differs") and err.count("\n") == 1


def test_missing_model_and_unreadable_record(hog_run, tmp_path):
    copy = copy_run(hog_run[0], tmp_path)
    (copy / "model.npz").unlink()
    with pytest.raises(DataError, match=r"model\.npz: cannot read the model \(No such file or directory\)$"):
        load_baseline(copy)
    (copy / "baseline.json").write_text("{not json")
    with pytest.raises(DataError, match=r"baseline\.json: unreadable baseline record"):
        load_baseline(copy)


def test_a_failed_save_leaves_no_record(hog_run, tmp_path, monkeypatch):
    """baseline.json is written last: a folder that has one holds a whole run."""
    from ilsvrc.baseline import store

    copy = copy_run(hog_run[0], tmp_path)
    baseline = load_baseline(copy)

    def disk_full(path, obj):
        raise OSError("No space left on device")

    monkeypatch.setattr(store, "write_json_atomic", disk_full)
    with pytest.raises(OSError):
        store.save_run(copy, baseline, {}, {})
    assert not is_baseline_run(copy)
