"""Hand-designed image descriptors of the pre-2012 pipeline, as pure functions of one image.

    gray = grayscale(image)                      # (H, W, C) uint8 -> (H, W) uint8
    hog_grid(gray, cells=7)                      # HOG on a 7 x 7 grid of cells (Dalal & Triggs 2005)
    lbp_histograms(gray, cells=4)                # uniform LBP histograms per cell (Ojala et al. 2002)
    thumbnail(gray, 28)                          # the intensities themselves, 0..1
    color_histogram(image, bins=16)              # per-channel colour histograms, for RGB data
    descriptors, positions = dense_sift(gray, bin_size=4, step=4)   # (T, 128), (T, 2) in [0, 1)
    dense_sift(gray, bin_size=(4, 6, 8, 10), step=4)              # several scales, as vl_phow

Grid sizes are given in cells per side, not pixels, so one setting fits every image size
(7 cells per side are the 4-pixel cells of a 28-pixel Fashion-MNIST image).
"""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image
from skimage.feature import hog, local_binary_pattern

LBP_POINTS = 8  # 8 neighbours at radius 1: 10 uniform patterns


def grayscale(image: np.ndarray) -> np.ndarray:
    """(H, W) uint8 luminance of an (H, W, C) uint8 image (ITU-R 601, as PIL)."""
    if image.shape[2] == 1:
        return image[:, :, 0]
    return np.asarray(Image.fromarray(image).convert("L"))


def hog_grid(gray: np.ndarray, cells: int, orientations: int = 9, block: int = 2) -> np.ndarray:
    """HOG with `cells` x `cells` square cells, L2-Hys block normalisation and square-root gamma."""
    cell = max(1, min(gray.shape) // cells)
    return hog(gray, orientations=orientations, pixels_per_cell=(cell, cell), cells_per_block=(block, block),
               block_norm="L2-Hys", transform_sqrt=True, feature_vector=True).astype(np.float32)


def lbp_histograms(gray: np.ndarray, cells: int) -> np.ndarray:
    """Square roots of the normalised uniform-LBP histograms of `cells` x `cells` cells, concatenated."""
    codes = local_binary_pattern(gray, LBP_POINTS, 1, method="uniform").astype(np.int64)  # 0..P+1
    cell = min(gray.shape) // cells
    codes = codes[:cell * cells, :cell * cells].reshape(cells, cell, cells, cell)
    one_hot = np.eye(LBP_POINTS + 2, dtype=np.float32)[codes]  # (cells, cell, cells, cell, P + 2)
    counts = one_hot.sum(axis=(1, 3)) / (cell * cell)
    return np.sqrt(counts).reshape(-1)


def thumbnail(gray: np.ndarray, side: int) -> np.ndarray:
    """The image itself at side x side pixels, scaled to 0..1 (what a linear model on pixels sees)."""
    if gray.shape != (side, side):
        gray = np.asarray(Image.fromarray(gray).resize((side, side), Image.Resampling.BILINEAR))
    return gray.reshape(-1).astype(np.float32) / 255


def color_histogram(image: np.ndarray, bins: int = 16) -> np.ndarray:
    """Square roots of the normalised per-channel histograms of an RGB uint8 image: (3 * bins,)."""
    pixels = image.reshape(-1, image.shape[2])
    counts = [np.histogram(pixels[:, c], bins=bins, range=(0, 256))[0] for c in range(pixels.shape[1])]
    return np.sqrt(np.concatenate(counts) / len(pixels)).astype(np.float32)


def sift_grid(side: int, bin_size: int, step: int) -> list[cv2.KeyPoint]:
    """Upright keypoints every `step` pixels whose 4 x 4-bin SIFT patch lies inside the image."""
    # OpenCV's SIFT spatial bin is 3 * size / 2 pixels wide (SIFT_DESCR_SCL_FCTR), hence the size.
    size = 2 * bin_size / 3
    half = 2 * bin_size
    centres = np.arange(half, side - half + 1, step, dtype=np.float32)
    return [cv2.KeyPoint(float(x), float(y), size, 0) for y in centres for x in centres]


def dense_sift(gray: np.ndarray, bin_size: int | tuple[int, ...], step: int) -> tuple[np.ndarray, np.ndarray]:
    """SIFT descriptors on a dense grid (as VLFeat's dsift): (T, 128) float32 and (T, 2) x, y in [0, 1).

    Several bin sizes on one step are the multi-scale dense SIFT of VLFeat's vl_phow, all computed
    in one OpenCV call (one scale space). vl_phow smooths each scale by sigma = bin / 6 first; OpenCV
    describes every keypoint on its base level, blurred to sigma 1.6: as much for bins up to ~10 px.
    """
    side = min(gray.shape)
    sizes = (bin_size,) if isinstance(bin_size, int) else bin_size
    grid = [keypoint for size in sizes for keypoint in sift_grid(side, size, step)]
    keypoints, descriptors = cv2.SIFT_create().compute(np.ascontiguousarray(gray), grid)
    if descriptors is None:
        return np.zeros((0, 128), np.float32), np.zeros((0, 2), np.float32)
    positions = np.array([kp.pt for kp in keypoints], dtype=np.float32) / np.array(gray.shape[::-1], np.float32)
    return descriptors.astype(np.float32), positions
