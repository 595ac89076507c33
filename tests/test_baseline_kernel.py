"""RBF-kernel SVMs through a Nystroem map: the map against the kernel, the solver against liblinear, toy data."""
import json

import numpy as np
import pytest
import torch

from ilsvrc.baseline import BaselineOptions, load_baseline
from ilsvrc.baseline.command import fit_and_save
from ilsvrc.baseline.kernel_svm import (C_GRID, KMEANS_ITERATIONS, Gram, RbfSvm, _leading_map, _map, gram_matrix, kmeans_landmarks,
                                        nystroem_factor, nystroem_map, rbf_kernel, signs, squared_distances,
                                        squared_hinge_svm)
from ilsvrc.baseline.svm import LinearSvm
from ilsvrc.data.prepare import PackOptions, prepare
from test_baseline import gratings
from fixtures import write_split


def circles(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric rings in 2-D with 3 noise dimensions: no hyperplane separates them, a Gaussian kernel does."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(labels == 1, 3.0, 1.0) + rng.normal(0, 0.15, n)
    x = np.column_stack([radius * np.cos(angle), radius * np.sin(angle), rng.normal(0, 0.3, (n, 3))])
    return x.astype(np.float32), labels


def test_squared_distances_and_kernel_by_hand():
    a = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    torch.testing.assert_close(squared_distances(a, b), torch.tensor([[0.0, 1.0], [25.0, 18.0]]))
    torch.testing.assert_close(rbf_kernel(a, b, 0.5), torch.exp(torch.tensor([[0.0, -0.5], [-12.5, -9.0]])))


def test_the_map_is_exact_at_the_landmarks_and_equals_scikit_learns_nystroem_elsewhere():
    from sklearn.kernel_approximation import Nystroem

    rng = np.random.default_rng(0)
    landmarks, others = (torch.from_numpy(rng.normal(size=(n, 4)).astype(np.float32)) for n in (30, 50))
    factor = nystroem_factor(landmarks, 0.3)
    z_l = nystroem_map(landmarks, landmarks, 0.3, factor)
    torch.testing.assert_close(z_l @ z_l.T, rbf_kernel(landmarks, landmarks, 0.3), atol=1e-4, rtol=0)
    z = nystroem_map(others, landmarks, 0.3, factor)
    reference = Nystroem(gamma=0.3, n_components=30).fit(landmarks.numpy()).transform(others.numpy())  # all 30
    np.testing.assert_allclose((z @ z.T).numpy(), reference @ reference.T, atol=1e-4)


def test_with_every_image_a_landmark_the_map_gives_the_exact_kernel():
    x = torch.from_numpy(circles(40, 0)[0])
    z = nystroem_map(x, x, 0.5, nystroem_factor(x, 0.5))
    torch.testing.assert_close(z @ z.T, rbf_kernel(x, x, 0.5), atol=1e-4, rtol=0)


def test_the_map_of_the_first_landmarks_is_the_full_maps_leading_block():
    """C is tuned on the map of a landmark subset: the leading columns of the full map and of its Gram."""
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.normal(size=(200, 6)).astype(np.float32))
    landmarks = x[:40]
    full = _map(x, landmarks, 0.2, nystroem_factor(landmarks, 0.2))
    alone = _map(x, landmarks[:15], 0.2, nystroem_factor(landmarks[:15], 0.2))
    y = signs(torch.from_numpy(rng.integers(0, 3, 200)), 3)
    leading, gram = _leading_map(full, Gram.of(gram_matrix(full), full.T @ y), 15)
    torch.testing.assert_close(leading, alone, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gram.zz, gram_matrix(alone).double(), atol=2e-3, rtol=1e-4)
    torch.testing.assert_close(gram.zy, (alone.T @ y).double(), atol=2e-3, rtol=1e-4)
    assert _leading_map(full, gram, 40)[0] is full


def test_gram_matrix_by_syrk_equals_the_general_product():
    z = torch.from_numpy(np.random.default_rng(3).normal(size=(500, 37)).astype(np.float32))
    torch.testing.assert_close(gram_matrix(z), z.double().T @ z.double(), atol=1e-3, rtol=1e-5)
    assert gram_matrix(z[100:]).shape == (37, 37)  # a slice of rows: still no copy needed


def test_kmeans_landmarks_cover_the_data_as_well_as_scikit_learns_lloyd_steps():
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(4)
    x = (rng.normal(size=(3000, 80)) * np.geomspace(4, 0.1, 80)).astype(np.float32)  # most variance in few axes

    def inertia(landmarks: np.ndarray) -> float:
        return float(squared_distances(torch.from_numpy(x), torch.from_numpy(landmarks)).min(1).values.sum())

    ours = kmeans_landmarks(torch.from_numpy(x), 40, seed=0).numpy()
    sample = x[rng.permutation(3000)[:40]]
    # the same algorithm: Lloyd's steps from 40 random images (not k-means++, which our landmarks skip)
    reference = KMeans(40, init="random", n_init=1, max_iter=KMEANS_ITERATIONS, random_state=0).fit(x)
    reference = reference.cluster_centers_.astype(np.float32)
    assert ours.shape == (40, 80)
    assert inertia(ours) < 0.8 * inertia(sample)
    assert inertia(ours) < 1.1 * inertia(reference)


def test_kmeans_landmarks_keep_their_number_when_clusters_empty():
    x = torch.zeros(50, 3)
    x[25:] = 1  # two distinct points: 5 centres, at most 2 with images
    landmarks = kmeans_landmarks(x, 5, seed=1)
    assert landmarks.shape == (5, 3) and {tuple(row.tolist()) for row in landmarks} <= {(0.0,) * 3, (1.0,) * 3}


def test_solver_reaches_liblinears_squared_hinge_svm():
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(1)
    x = np.column_stack([rng.normal(size=(120, 6)), np.ones(120)]).astype(np.float32)  # the bias as a feature
    labels = (x[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.8, 120) > 0).astype(int) + \
        (x[:, 3] > 0.8).astype(int)  # 3 overlapping classes
    z, y = torch.from_numpy(x), signs(torch.from_numpy(labels), 3)
    w = squared_hinge_svm(z, y, 2.0, Gram.of(z.T @ z, (z.T @ y).double()), steps=60)
    reference = LinearSVC(C=2.0, loss="squared_hinge", fit_intercept=False, tol=1e-10, max_iter=100_000).fit(x, labels)
    np.testing.assert_allclose(w.T.numpy(), reference.coef_, atol=2e-3)


def test_least_squares_start_is_the_closed_form_ridge_solution():
    rng = np.random.default_rng(2)
    z = torch.from_numpy(rng.normal(size=(40, 5)))
    y = signs(torch.from_numpy(np.arange(40) % 2), 2).double()
    w = Gram.of(z.T @ z, z.T @ y).least_squares(C=0.5)
    # d/dw ||w||^2 / 2 + C ||y - z w||^2 = 0  <=>  (I + 2 C z'z) w = 2 C z'y
    expected = torch.linalg.solve(torch.eye(5, dtype=torch.float64) + 2 * 0.5 * z.T @ z, 2 * 0.5 * z.T @ y)
    torch.testing.assert_close(w.double(), expected, atol=1e-5, rtol=1e-5)


def test_kernel_svm_separates_rings_a_linear_svm_cannot():
    x, labels = circles(400, 0)
    x_test, labels_test = circles(200, 1)
    svm, facts = RbfSvm.fit(x, labels, 2, landmarks=100)
    assert (svm.decision(x_test).argmax(1) == labels_test).mean() >= 0.98
    assert (LinearSvm.fit(x, labels, 2).decision(x_test).argmax(1) == labels_test).mean() < 0.75
    assert svm.decision(x_test).shape == (200, 2) and svm.landmarks.shape == (100, 5) and facts["landmarks"] == 100
    assert facts["C"] in (3.0, 5.0, 10.0) and set(facts["val_accuracy"]) == {"3", "5", "10"}


def test_arrays_round_trip_gives_the_same_decisions():
    x, labels = circles(100, 2)
    svm, _ = RbfSvm.fit(x, labels, 2, landmarks=20)
    again = RbfSvm.from_arrays({k: v.copy() for k, v in svm.arrays().items()})
    np.testing.assert_array_equal(again.decision(x), svm.decision(x))
    assert svm.parameters == 5 + 5 + 20 * 5 + 1 + 20 * 2 + 2


def test_too_few_images_to_hold_out_use_the_grids_middle_C():
    x, labels = circles(12, 3)
    _, facts = RbfSvm.fit(x, labels, 2, landmarks=6)
    assert facts["C"] == C_GRID[len(C_GRID) // 2] == 5.0 and facts["val_accuracy"] == {}


def test_hog_rbf_run_reloads_and_scores_as_at_fit_time(tmp_path):
    write_split(tmp_path / "raw", *gratings(30, seed=0), "train", gz=True)
    write_split(tmp_path / "raw", *gratings(10, seed=1), "t10k", gz=True)
    prepare(tmp_path / "raw", tmp_path / "packed", options=PackOptions())
    baseline, scores = fit_and_save(BaselineOptions("hog-rbf", workers=1, landmarks=50), tmp_path / "packed",
                                    tmp_path / "run")
    assert scores.result()["top1_error"] <= 0.1 and baseline.name == "HOG + LBP + RBF-kernel SVM"
    reloaded = load_baseline(tmp_path / "run")
    assert isinstance(reloaded.svm, RbfSvm) and reloaded.name == baseline.name
    assert torch.equal(reloaded.run_scores().scores, scores.scores)
    record = json.loads((tmp_path / "run" / "baseline.json").read_text())
    assert record["features"] == "hog-rbf" and record["svm_tuning"]["landmarks"] == 50
    assert record["params"] == baseline.parameters == reloaded.parameters


@pytest.mark.parametrize("landmarks", [0, -3])
def test_landmarks_must_be_positive(landmarks):
    from ilsvrc.errors import ConfigError

    with pytest.raises(ConfigError, match=f"^--landmarks must be positive, got {landmarks}$"):
        BaselineOptions("hog-rbf", landmarks=landmarks)


def test_a_kernel_map_too_large_for_memory_is_refused_before_extraction(monkeypatch):
    from ilsvrc.baseline import pipeline
    from ilsvrc.errors import ConfigError

    monkeypatch.setattr(pipeline, "physical_memory_gb", lambda: 24.0)
    pipeline._check_kernel_memory(BaselineOptions("hog-rbf"), 60_000)  # Fashion-MNIST, 8,000 landmarks: 6.0 GB
    pipeline._check_kernel_memory(BaselineOptions("hog-rbf", landmarks=10_000), 60_000)  # 8.8 GB
    pipeline._check_kernel_memory(BaselineOptions("hog-rbf", landmarks=10**6), 100)  # at most 100 landmarks
    pipeline._check_kernel_memory(BaselineOptions("hog", landmarks=4000), 1_281_167)  # linear: no map
    with pytest.raises(ConfigError, match=r"^--features hog-rbf on 1,281,167 training images with 4,000 landmarks "
                                          r"needs 22 GB for its kernel map and solver, more than 80% of this "
                                          r"machine's 24 GB; use --train-limit, fewer --landmarks or --features hog$"):
        pipeline._check_kernel_memory(BaselineOptions("hog-rbf", landmarks=4000), 1_281_167)  # the map: 20.5 GB
    with pytest.raises(ConfigError, match=r"with 20,000 landmarks needs 30 GB"):  # the solver's matrices: 25.6 GB
        pipeline._check_kernel_memory(BaselineOptions("hog-rbf", landmarks=20_000), 60_000)


def test_the_command_line_default_is_the_libraries():
    from ilsvrc.baseline.kernel_svm import DEFAULT_LANDMARKS
    from ilsvrc.cli import build_parser

    assert build_parser().parse_args(["baseline"]).landmarks == DEFAULT_LANDMARKS == BaselineOptions().landmarks
