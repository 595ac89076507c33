"""Decoding, resizing and encoding single images; shared by every reader of image files.

Real ImageNet archives hold a PNG named .JPEG, CMYK JPEGs and grayscale JPEGs: decoding goes
by content (Pillow sniffs the magic bytes), never by extension, and always yields RGB unless
grayscale is asked for.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from ilsvrc.errors import DataError

# Pillow's own error threshold (twice Image.MAX_IMAGE_PIXELS): ImageNet's largest photos are far below it;
# a header claiming more is refused before any pixel is allocated (a decompression bomb).
MAX_PIXELS = 178_956_970

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def decode(data: bytes, where: str, mode: str = "RGB", draft_shorter: int | None = None) -> np.ndarray:
    """Decode encoded image bytes to an (H, W, C) uint8 array (C = 3 for RGB, 1 for 'L').

    `draft_shorter` lets the JPEG decoder scale by 1/2, 1/4 or 1/8 in the DCT while keeping the
    shorter side >= that size: much faster when the image is resized down afterwards anyway.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            check_pixels(*im.size, where)  # also when another library has lifted Pillow's own limit
            if draft_shorter and im.format == "JPEG":
                w, h = im.size
                scale = draft_shorter / min(w, h)
                im.draft(mode, (max(1, round(w * scale)), max(1, round(h * scale))))
            im = im.convert(mode)  # CMYK, palette, grayscale, 16-bit PNG -> RGB (or L)
            array = np.asarray(im, dtype=np.uint8)
    except Image.DecompressionBombError as e:  # raised by Image.open from the header alone
        raise DataError(where, f"refused before decoding: {e}") from None
    except UnidentifiedImageError:  # its own message names an in-memory buffer, not the file
        raise DataError(where, "corrupt or unreadable image (not an image, or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(where, f"corrupt or unreadable image ({e})") from None
    return array[:, :, None] if array.ndim == 2 else array


def check_pixels(width: int, height: int, where: str) -> None:
    """Refuse, from a header, an image too large to decode safely."""
    if width * height > MAX_PIXELS:
        raise DataError(where, f"refused before decoding: header claims {width}x{height} pixels, over the "
                               f"{MAX_PIXELS:,}-pixel limit (a decompression bomb?)")


def read_image(path, mode: str = "RGB", draft_shorter: int | None = None) -> np.ndarray:
    """Decode an image file; errors name the file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    return decode(data, str(path), mode, draft_shorter)


def resize_shorter(image: np.ndarray, shorter: int) -> np.ndarray:
    """Resize so the shorter side is `shorter` pixels (area-averaged when shrinking)."""
    h, w = image.shape[:2]
    if min(h, w) == shorter:
        return image
    scale = shorter / min(h, w)
    size = (max(shorter, round(w * scale)), max(shorter, round(h * scale)))
    size = (shorter, size[1]) if w <= h else (size[0], shorter)
    squeeze = image.shape[2] == 1
    im = Image.fromarray(image[:, :, 0] if squeeze else image)
    out = np.asarray(im.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0 if scale < 1 else None))
    return out[:, :, None] if squeeze else out


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG-encode an (H, W, C) uint8 array with libjpeg-turbo (simplejpeg)."""
    import simplejpeg

    colorspace = "GRAY" if image.shape[2] == 1 else "RGB"
    return simplejpeg.encode_jpeg(np.ascontiguousarray(image), quality=quality, colorspace=colorspace)
