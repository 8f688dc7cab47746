"""Bytes of a photo → RGB pixels, upright (EXIF orientation applied), or a DecodeError saying why."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC/HEIF through the maintained Pillow plugin
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional at run time
    pass

# Pillow's own bomb guard would fire before ours with a less useful message; ours is the limit.
Image.MAX_IMAGE_PIXELS = None


class DecodeError(Exception):
    """The file is not a usable photo; the message is the reason, ready for logs and the DB.
    `transient`: it may still be being written (truncated), so a retry is worth it."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = float(arr.max()) or 1.0
        arr8 = np.clip(arr * (255.0 / hi), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([arr8] * 3, axis=-1))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


@dataclass(frozen=True)
class Decoded:
    """Upright RGB pixels of a photo, possibly decoded at a reduced scale.
    Full-size coordinates = pixel coordinates * scale (1.0: decoded in full)."""

    pixels: np.ndarray
    scale: float = 1.0

    @property
    def full_size(self) -> tuple[int, int]:
        """(width, height) of the upright photo at full size."""
        h, w = self.pixels.shape[:2]
        return round(w * self.scale), round(h * self.scale)


def _draft(img: Image.Image, min_side: int) -> float:
    """Ask libjpeg to decode at 1/2, 1/4 or 1/8 scale (DCT scaling: it never computes the full
    image) as long as the longest side stays at least `min_side`. Return the scale taken."""
    w, h = img.size
    longest = max(w, h)
    if img.format != "JPEG" or min_side <= 0 or longest < 2 * min_side:
        return 1.0
    img.draft(img.mode, (max(1, w * min_side // longest), max(1, h * min_side // longest)))
    return longest / max(img.size)


def decode_photo(data: bytes, max_pixels: int, min_side: int = 0) -> Decoded:
    """Given a file's bytes, return its pixels as (H, W, 3) uint8 RGB, upright.

    With `min_side` > 0, a JPEG at least twice that size is decoded at the smallest DCT scale that
    keeps its longest side at least `min_side` (`Decoded.scale` maps back to full size).
    Raise DecodeError when the bytes are not an image Pillow can read, the image is truncated, or
    it declares more than `max_pixels` pixels (checked before decoding, so bombs cost nothing).
    The first frame of an animation is used.
    """
    if not data:
        raise DecodeError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w <= 0 or h <= 0:
                raise DecodeError(f"image declares no pixels ({w}x{h})")
            if w * h > max_pixels:
                raise DecodeError(
                    f"image too large: {w}x{h} = {w * h} pixels, limit is {max_pixels}"
                )
            img.seek(0)
            scale = _draft(img, min_side)
            img.load()
            upright: Image.Image = ImageOps.exif_transpose(img) or img
            return Decoded(_to_rgb(upright), scale)
    except DecodeError:
        raise
    except UnidentifiedImageError:
        raise DecodeError("not an image in a known format") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        msg = str(exc) or type(exc).__name__
        if "truncated" in msg.lower():
            raise DecodeError(f"truncated image: {msg}", transient=True) from None
        raise DecodeError(f"cannot decode image: {msg}") from None
    except MemoryError:
        raise DecodeError("not enough memory to decode the image") from None


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Given a file's bytes, return the full-size (H, W, 3) uint8 RGB pixels, upright
    (`decode_photo` without a reduced scale)."""
    return decode_photo(data, max_pixels).pixels
