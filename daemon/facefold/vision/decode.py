"""Bytes of a photo → RGB pixels, upright (EXIF orientation applied), or a DecodeError saying why."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

try:  # HEIC/HEIF through the maintained Pillow plugin
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - optional at run time
    pass

# Pillow's own bomb guard would fire before ours with a less useful message; ours is the limit.
Image.MAX_IMAGE_PIXELS = None

# EXIF Orientation (tag 0x0112) → the transpose that makes the photo upright
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


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


def jpeg_scans(data: bytes) -> int:
    """How many scans (SOS segments) a JPEG's bytes hold: 1 for a baseline JPEG, ~10 for a
    usual progressive one; 0 when the bytes are not a JPEG. Segments are walked by their
    lengths, so a thumbnail inside the EXIF is not counted; after a scan, its entropy-coded data
    is skipped up to the next marker (0xFF followed by neither 0x00 nor a restart marker)."""
    if data[:2] != b"\xff\xd8":
        return 0
    scans, i, n = 0, 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:  # junk between segments
            i = data.find(b"\xff", i)
            if i < 0:
                break
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker == 0xD9:  # end of image
            break
        length = int.from_bytes(data[i + 2:i + 4], "big")
        i += 2 + length
        if marker == 0xDA:  # start of scan: skip its entropy-coded data
            scans += 1
            while True:
                i = data.find(b"\xff", i)
                if i < 0 or i + 1 >= n:
                    return scans
                follower = data[i + 1]
                if follower == 0x00 or 0xD0 <= follower <= 0xD7:  # a stuffed byte, a restart
                    i += 2
                elif follower == 0xFF:  # fill before a marker
                    i += 1
                else:
                    break
    return scans


def _upright(img: Image.Image) -> Image.Image:
    """The photo turned as its EXIF Orientation says, the EXIF itself left unread beyond that
    tag: Pillow's `exif_transpose` writes the EXIF back and fails on malformed tags of any
    other kind (a resolution stored as text), which must not cost the photo."""
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:  # an EXIF block Pillow cannot parse at all: the photo as stored
        return img
    method = _ORIENTATION.get(orientation)
    return img.transpose(method) if method is not None else img


def decode_photo(data: bytes, max_pixels: int, min_side: int = 0,
                 max_scans: int = 0) -> Decoded:
    """Given a file's bytes, return its pixels as (H, W, 3) uint8 RGB, upright.

    With `min_side` > 0, a JPEG at least twice that size is decoded at the smallest DCT scale that
    keeps its longest side at least `min_side` (`Decoded.scale` maps back to full size).
    Raise DecodeError when the bytes are not an image Pillow can read, the image is truncated, or
    it declares more than `max_pixels` pixels (checked before decoding, so bombs cost nothing),
    or, with `max_scans` > 0, it is a progressive JPEG of more scans (each one more pass over
    the whole photo: a small file of many thousands takes minutes). Any other failure of a
    decoder, whatever it raises, is a DecodeError too. The first frame of an animation is used.
    """
    if not data:
        raise DecodeError("empty file")
    if max_scans > 0 and (scans := jpeg_scans(data)) > max_scans:
        raise DecodeError(f"a progressive JPEG of {scans} scans, limit is {max_scans}")
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
            return Decoded(_to_rgb(_upright(img)), scale)
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
    except Exception as exc:  # a decoder's own bug or limit (struct.error, HEIF's RuntimeError)
        raise DecodeError(f"cannot decode image: {type(exc).__name__}: {exc}") from None


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Given a file's bytes, return the full-size (H, W, 3) uint8 RGB pixels, upright
    (`decode_photo` without a reduced scale)."""
    return decode_photo(data, max_pixels).pixels
