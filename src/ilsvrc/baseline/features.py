"""Hand-designed image descriptors of the pre-2012 pipeline, as pure functions of one image
(and of a batch: `*_batch`, the same numbers for a stack of images, see below).

    gray = grayscale(image)                      # (H, W, C) uint8 -> (H, W) uint8
    hog_grid(gray, cells=7)                      # HOG on a 7 x 7 grid of cells (Dalal & Triggs 2005)
    lbp_histograms(gray, cells=4)                # uniform LBP histograms per cell (Ojala et al. 2002)
    thumbnail(gray, 28)                          # the intensities themselves, 0..1
    color_histogram(image, bins=16)              # per-channel colour histograms, for RGB data
    descriptors, positions = dense_sift(gray, bin_size=4, step=4)   # (T, 128), (T, 2) in [0, 1)
    dense_sift(gray, bin_size=(4, 6, 8, 10), step=4)              # several scales, as vl_phow

Grid sizes are given in cells per side, not pixels, so one setting fits every image size
(7 cells per side are the 4-pixel cells of a 28-pixel Fashion-MNIST image).

    hog_grids_batch(grays, (7, 4))               # (N, H, W) uint8 -> (N, F): hog_grid of each grid, joined
    lbp_histograms_batch(grays, cells=4)         # lbp_histograms of every image; lbp_codes_batch: the codes
    grayscale_batch, thumbnails_batch, color_histograms_batch   # the others, image by image the same
"""
from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
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


# Batched versions, by hand: scikit-image computes HOG and LBP one image at a time, and numpy over a
# whole batch is ~10x faster on 70,000 small images. They follow scikit-image 0.26 step by step (its
# Cython _hoghistogram and _texture), so LBP codes are identical and HOG agrees to float32 rounding.

def grayscale_batch(images: np.ndarray) -> np.ndarray:
    """`grayscale` of every image of (N, H, W, C) uint8: (N, H, W) uint8 (one PIL call for the batch)."""
    if images.shape[3] == 1:
        return images[..., 0]
    n, rows, cols, channels = images.shape
    tall = Image.fromarray(np.ascontiguousarray(images).reshape(n * rows, cols, channels))
    return np.asarray(tall.convert("L")).reshape(n, rows, cols)


def _per_cell(bins: np.ndarray, n_bins: int, cell: int, grid: tuple[int, int],
              weights: np.ndarray | None = None) -> np.ndarray:
    """Counts (or sums of `weights`) per image, cell and bin of the top-left grid of cell x cell pixels:
    (N, grid rows, grid cols, n_bins) from bins (N, H, W) in 0..n_bins - 1."""
    n = len(bins)
    crop = np.s_[:, :grid[0] * cell, :grid[1] * cell]
    cell_of = (np.arange(grid[0] * cell) // cell)[:, None] * grid[1] + np.arange(grid[1] * cell) // cell
    index = (np.arange(n)[:, None, None] * (grid[0] * grid[1]) + cell_of) * n_bins + bins[crop]
    sums = np.bincount(index.ravel(), None if weights is None else weights[crop].ravel(),
                       n * grid[0] * grid[1] * n_bins)
    return sums.reshape(n, grid[0], grid[1], n_bins)


def oriented_gradients(grays: np.ndarray, orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitudes (N, H, W) float64 and orientation bins (N, H, W), as scikit-image's hog:
    central differences of the square-rooted image, 0 on the border; bin `orientations`: none."""
    image = np.sqrt(grays.astype(np.float64))
    g_row, g_col = np.zeros_like(image), np.zeros_like(image)
    g_row[:, 1:-1, :] = image[:, 2:, :] - image[:, :-2, :]
    g_col[:, :, 1:-1] = image[:, :, 2:] - image[:, :, :-2]
    magnitude = np.sqrt(g_col * g_col + g_row * g_row)  # np.hypot to within an ulp, 5x faster
    degrees = np.rad2deg(np.arctan2(g_row, g_col))  # -180..180; skimage takes % 180, exactly this:
    orientation = np.where(degrees < 0, degrees + 180, np.where(degrees >= 180, degrees - 180, degrees))
    bins = np.zeros(image.shape, np.min_scalar_type(orientations))  # i: 180 / n * i <= it < 180 / n * (i + 1)
    for edge in 180.0 / orientations * np.arange(1, orientations + 1):
        bins += orientation >= edge
    return magnitude, bins


def _l2_hys(blocks: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """L2 normalisation, clipping at 0.2, L2 again, over the last axis (scikit-image's 'L2-Hys')."""
    squares = "...i,...i->..."  # sums of squares over the last axis
    out = blocks / np.sqrt(np.einsum(squares, blocks, blocks) + eps ** 2)[..., None]
    np.minimum(out, 0.2, out=out)
    out /= np.sqrt(np.einsum(squares, out, out) + eps ** 2)[..., None]
    return out


def _hog_from_gradients(magnitude: np.ndarray, bins: np.ndarray, cell: int, orientations: int,
                        block: int) -> np.ndarray:
    n, rows, cols = magnitude.shape
    grid = (rows // cell, cols // cell)
    sums = _per_cell(bins, orientations + 1, cell, grid, magnitude)[..., :orientations]
    histograms = sums.astype(np.float32) / np.float32(cell * cell)  # skimage sums cells in float32: ~1 ulp
    blocks = sliding_window_view(histograms.astype(np.float64), (block, block), axis=(1, 2))
    blocks = blocks.transpose(0, 1, 2, 4, 5, 3).reshape(n, -1, block * block * orientations)
    return _l2_hys(blocks).reshape(n, -1).astype(np.float32)


def hog_grids_batch(grays: np.ndarray, grids: tuple[int, ...], orientations: int = 9,
                    block: int = 2) -> np.ndarray:
    """`hog_grid` of (N, H, W) uint8 images at each of `grids` (cells per side), joined: (N, F) float32."""
    magnitude, bins = oriented_gradients(grays, orientations)
    sizes = [max(1, min(grays.shape[1:]) // per_side) for per_side in grids]  # as hog_grid
    return np.concatenate([_hog_from_gradients(magnitude, bins, cell, orientations, block)
                           for cell in sizes], axis=1)


def _uniform_codes(points: int) -> np.ndarray:
    """Uniform LBP code of each bit pattern: its 1 bits if at most 2 changes, else points + 1.
    scikit-image counts changes without the wrap-around from the last bit to the first: the same test."""
    bits = (np.arange(2 ** points)[:, None] >> np.arange(points)) & 1
    changes = np.count_nonzero(bits[:, 1:] != bits[:, :-1], axis=1)
    return np.where(changes <= 2, bits.sum(axis=1), points + 1).astype(np.uint8)


def _fraction(size: int, offset: float) -> np.ndarray:
    """Interpolation weight of the far pixel at index + offset, computed as scikit-image does."""
    at = np.arange(size) + offset
    return at - np.floor(at)


def lbp_codes_batch(grays: np.ndarray) -> np.ndarray:
    """`local_binary_pattern(gray, 8, 1, "uniform")` of every image of (N, H, W): (N, H, W) uint8 codes.

    Each neighbour is interpolated bilinearly with the same operations in the same order as
    scikit-image (zero outside the image), so ties with the centre, common on flat areas, agree."""
    n, rows, cols = grays.shape
    image = np.pad(grays.astype(np.float64), ((0, 0), (1, 1), (1, 1)))

    def columns(dc: int) -> np.ndarray:  # the padded image shifted left by dc columns, all rows
        return image[:, :, 1 + dc:1 + dc + cols]

    def rows_at(padded: np.ndarray, dr: int) -> np.ndarray:  # shifted up by dr rows, the image's rows
        return padded[:, 1 + dr:1 + dr + rows]

    centre = rows_at(columns(0), 0)
    angles = 2 * np.pi * np.arange(LBP_POINTS) / LBP_POINTS
    offsets = zip(np.round(-np.sin(angles), 5), np.round(np.cos(angles), 5))  # (row, col) at radius 1
    across: dict[float, np.ndarray] = {}  # interpolated across columns, shared by two neighbours
    pattern = np.zeros((n, rows, cols), np.uint8)
    for p, (row, col) in enumerate(offsets):
        r0, r1, c0, c1 = int(np.floor(row)), int(np.ceil(row)), int(np.floor(col)), int(np.ceil(col))
        if r0 == r1 and c0 == c1:
            value = rows_at(columns(c0), r0)
        else:
            if col not in across:
                dc = _fraction(cols, col)
                across[col] = (1 - dc) * columns(c0) + dc * columns(c1)
            dr = _fraction(rows, row)[:, None]
            value = (1 - dr) * rows_at(across[col], r0) + dr * rows_at(across[col], r1)
        pattern |= (value >= centre).view(np.uint8) << p  # the same test as skimage's value - centre >= 0
    return _uniform_codes(LBP_POINTS)[pattern]


def lbp_histograms_batch(grays: np.ndarray, cells: int) -> np.ndarray:
    """`lbp_histograms` of every image of (N, H, W) uint8: (N, cells * cells * 10) float32."""
    cell = min(grays.shape[1:]) // cells
    counts = _per_cell(lbp_codes_batch(grays), LBP_POINTS + 2, cell, (cells, cells))
    return np.sqrt(counts.reshape(len(grays), -1).astype(np.float32) / (cell * cell))


def thumbnails_batch(grays: np.ndarray, side: int) -> np.ndarray:
    """`thumbnail` of every image of (N, H, W) uint8: (N, side * side) float32."""
    if grays.shape[1:] != (side, side):
        return np.stack([thumbnail(gray, side) for gray in grays])
    return grays.reshape(len(grays), -1).astype(np.float32) / 255


def color_histograms_batch(images: np.ndarray, bins: int = 16) -> np.ndarray:
    """`color_histogram` of every image of (N, H, W, C) uint8: (N, C * bins) float32."""
    n, rows, cols, channels = images.shape
    edges = np.histogram_bin_edges([], bins, (0, 256))  # np.histogram's bins, the last one closed
    bin_of = np.minimum(np.searchsorted(edges, np.arange(256), side="right") - 1, bins - 1)
    index = bin_of[images] + bins * np.arange(channels) + bins * channels * np.arange(n)[:, None, None, None]
    counts = np.bincount(index.ravel(), minlength=n * channels * bins).reshape(n, channels * bins)
    return np.sqrt(counts / (rows * cols)).astype(np.float32)
