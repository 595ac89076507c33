"""Hand-designed descriptors: HOG and LBP as scikit-image computes them, dense SIFT on its grid and patch;
the batched versions equal to the per-image ones."""
from pathlib import Path

import numpy as np
import pytest
from skimage import data
from skimage.feature import hog, local_binary_pattern

from ilsvrc.baseline import extractors
from ilsvrc.baseline.extractors import HogExtractor
from ilsvrc.baseline.features import (color_histogram, dense_sift, grayscale, hog_grid, hog_grids_batch,
                                      lbp_codes_batch, lbp_histograms, lbp_histograms_batch, thumbnail)
from ilsvrc.data.readers.idx import load_images

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")  # Debian's dataset-fashion-mnist


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    """A known 64 x 64 grayscale photograph: the centre of scikit-image's cameraman."""
    return data.camera()[224:288, 224:288].copy()


def test_hog_features_equal_scikit_image_on_a_known_image(camera):
    extractor = HogExtractor(side=64, channels=1, grids=(7, 4), lbp_cells=0, thumbnail=0)
    features = extractor.transform(camera[None, :, :, None])[0]
    reference = [hog(camera, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2),
                     block_norm="L2-Hys", transform_sqrt=True) for cell in (64 // 7, 64 // 4)]
    np.testing.assert_allclose(features, np.concatenate(reference), rtol=1e-6, atol=1e-7)
    assert features.shape == ((7 - 1) ** 2 * 36 + (4 - 1) ** 2 * 36,)


def test_lbp_histograms_match_a_count_cell_by_cell(camera):
    codes = local_binary_pattern(camera, 8, 1, method="uniform")
    expected = []
    for row in range(4):
        for col in range(4):
            cell = codes[row * 16:(row + 1) * 16, col * 16:(col + 1) * 16]
            expected.append([np.count_nonzero(cell == code) / 256 for code in range(10)])
    np.testing.assert_allclose(lbp_histograms(camera, cells=4), np.sqrt(np.ravel(expected)), rtol=1e-6)


def test_thumbnail_and_colour_histogram():
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, :, 0] = 255  # pure red
    image[:2, :, 2] = 16  # blue 16 in the top half
    np.testing.assert_array_equal(thumbnail(grayscale(image), 4), grayscale(image).reshape(-1) / np.float32(255))
    expected = np.zeros(48)
    expected[[15, 16]] = 1  # all red in red's last bin, all green (0) in green's first
    expected[[32, 33]] = 0.5  # blue: half 0, half 16
    np.testing.assert_allclose(color_histogram(image, bins=16), np.sqrt(expected), rtol=1e-6)


def test_dense_sift_grid_covers_the_image_with_whole_patches():
    image = np.random.default_rng(0).integers(0, 256, (56, 56), dtype=np.uint8)
    descriptors, positions = dense_sift(image, bin_size=4, step=4)
    centres = np.arange(8, 49, 4)  # 16-pixel patches, every 4 pixels, all inside the image
    assert descriptors.shape == (len(centres) ** 2, 128) and descriptors.dtype == np.float32
    np.testing.assert_allclose(positions * 56, np.stack(np.meshgrid(centres, centres), -1).reshape(-1, 2))


def test_dense_sift_descriptor_sees_its_own_patch_only():
    """A 4-pixel bin means a 16 x 16 patch (the keypoint size maps to OpenCV's 3-sigma bins)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (56, 56), dtype=np.uint8)
    centre = 5 * 11 + 5  # the keypoint at (28, 28): its patch is [20, 36) in both directions
    before = dense_sift(image, 4, 4)[0][centre]
    far = image.copy()
    far[:8] = rng.integers(0, 256, (8, 56))  # 12+ pixels away from the patch: beyond bins and blur
    np.testing.assert_array_equal(dense_sift(far, 4, 4)[0][centre], before)
    near = image.copy()
    near[24:32, 24:32] = 255 - near[24:32, 24:32]
    assert not np.array_equal(dense_sift(near, 4, 4)[0][centre], before)


def flat_images(count: int, side: int, seed: int) -> np.ndarray:
    """Fashion-MNIST-like (count, side, side) uint8: zero background, flat plateaus, a little texture."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, side, side), np.uint8)
    for image in images:
        for _ in range(3):
            (row, col), (height, width) = rng.integers(0, side - 3, 2), rng.integers(3, side // 2, 2)
            image[row:row + height, col:col + width] = rng.choice([1, 7, 128, 255])
        texture = rng.random((side, side)) < 0.1
        image[texture] = rng.integers(0, 256, np.count_nonzero(texture))
    return images


def sample_images(side: int) -> dict[str, np.ndarray]:
    """(N, side, side) uint8 stacks: noise, constant, flat, and real Fashion-MNIST (at 28 px, if installed)."""
    images = {"noise": np.random.default_rng(side).integers(0, 256, (40, side, side), dtype=np.uint8),
              "constant": np.stack([np.full((side, side), v, np.uint8) for v in (0, 1, 128, 255)]),
              "flat": flat_images(60, side, seed=side)}
    if side == 28 and FASHION_MNIST.exists():
        images["fashion-mnist"] = load_images(FASHION_MNIST)[:300, :, :, 0]
    return images


@pytest.mark.parametrize("side, cells, orientations", [(28, 7, 9), (28, 4, 9), (30, 7, 9), (28, 7, 12),
                                                       (28, 4, 12), (30, 4, 12), (31, 3, 7)])
def test_batched_hog_equals_hog_image_by_image(side, cells, orientations):
    for kind, grays in sample_images(side).items():
        expected = np.stack([hog_grid(gray, cells, orientations) for gray in grays])
        np.testing.assert_allclose(hog_grids_batch(grays, (cells,), orientations), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=kind)


def test_batched_hog_bins_orientations_in_double_precision():
    """A gradient at 25.71428528 degrees, between 180 / 7 in float32 (25.71428490) and in float64
    (25.71428571): scikit-image bins it below the boundary, as a double-precision comparison does."""
    gray = np.zeros((28, 28), np.uint8)
    gray[15, 14], gray[13, 14], gray[14, 15], gray[14, 13] = 172, 138, 161, 97
    np.testing.assert_allclose(hog_grids_batch(gray[None], (7,), 7)[0], hog_grid(gray, 7, 7), rtol=1e-5, atol=1e-6)


def test_batched_lbp_codes_equal_scikit_image_exactly():
    """Neighbours are interpolated as scikit-image does, so ties with the centre (flat areas) agree too."""
    for side in (28, 30):
        for kind, grays in sample_images(side).items():
            expected = np.stack([local_binary_pattern(gray, 8, 1, method="uniform") for gray in grays])
            np.testing.assert_array_equal(lbp_codes_batch(grays), expected, err_msg=kind)


@pytest.mark.parametrize("side, cells", [(28, 4), (30, 4), (30, 3)])
def test_batched_lbp_histograms_equal_image_by_image(side, cells):
    for kind, grays in sample_images(side).items():
        expected = np.stack([lbp_histograms(gray, cells) for gray in grays])
        np.testing.assert_array_equal(lbp_histograms_batch(grays, cells), expected, err_msg=kind)


@pytest.mark.parametrize("side, channels", [(28, 1), (32, 3), (40, 3)])  # 40: thumbnails resized to 32
def test_hog_transform_equals_describe_image_by_image(side, channels, monkeypatch):
    monkeypatch.setattr(extractors, "HOG_BATCH_PIXELS", 50 * side * side)  # several batches, the last one short
    grays = np.concatenate(list(sample_images(side).values()))
    if channels == 1:
        images = grays[..., None]
    else:
        tint = np.random.default_rng(3).integers(0, 256, (len(grays), 1, 1, 3))
        images = (grays[..., None] * 0.5 + tint * 0.5).astype(np.uint8)  # flat areas, in colour
    extractor = HogExtractor(side, channels)
    features = extractor.transform(images)
    assert features.dtype == np.float32 and features.shape == (len(images), extractor.dimension)
    expected = np.stack([extractor.describe(image) for image in images])
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    assert extractor.transform(images[:0]).shape == (0, extractor.dimension)
