import numpy as np

from ilsvrc.data.stats import ImageStats


def test_merged_partial_sums_equal_numpy_on_all_pixels():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 6, 5, 3), dtype=np.uint8)
    a, b = ImageStats.empty(6, 5, 3), ImageStats.empty(6, 5, 3)
    a.update(images[:4])
    b.update(images[4:])
    stats = a.merge(b).finalize()
    pixels = images.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(stats["mean"], pixels.mean(0))
    np.testing.assert_allclose(stats["std"], pixels.std(0))
    cov = np.cov(pixels, rowvar=False, bias=True)
    np.testing.assert_allclose(stats["cov"], cov, rtol=1e-6, atol=1e-3)
    vals, vecs = np.linalg.eigh(cov)
    np.testing.assert_allclose(stats["eigvals"], vals[::-1], rtol=1e-6)
    # eigenvectors match up to sign
    np.testing.assert_allclose(np.abs(stats["eigvecs"]), np.abs(vecs[:, ::-1]), atol=1e-6)
    np.testing.assert_allclose(stats["mean_image"], images.mean(0), rtol=1e-6)
    assert stats["eigvals"][0] >= stats["eigvals"][1] >= stats["eigvals"][2]


def test_single_channel():
    images = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1).astype(np.uint8)
    stats = ImageStats.empty(4, 4, 1)
    stats.update(images)
    out = stats.finalize()
    assert out["eigvecs"].shape == (1, 1)
    np.testing.assert_allclose(out["eigvals"][0], images.astype(float).var())


def test_float32_blocks_stay_accurate_on_many_pixels():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)  # 163,840 pixels: three blocks
    images[..., 1] = images[..., 0] // 2 + 60  # correlated channels, as in real photos
    stats = ImageStats.empty(64, 64, 3)
    stats.update(images)
    cov = np.cov(images.reshape(-1, 3).astype(np.float64), rowvar=False, bias=True)
    np.testing.assert_allclose(stats.finalize()["cov"], cov, rtol=1e-5, atol=1e-2)
