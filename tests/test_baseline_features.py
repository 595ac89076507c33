"""Hand-designed descriptors: HOG and LBP as scikit-image computes them, dense SIFT on its grid and patch."""
import numpy as np
import pytest
from skimage import data
from skimage.feature import hog, local_binary_pattern

from ilsvrc.baseline.extractors import HogExtractor
from ilsvrc.baseline.features import color_histogram, dense_sift, grayscale, lbp_histograms, thumbnail


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
