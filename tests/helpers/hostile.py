"""Hostile photo files, made here with Pillow and a few edited bytes (never committed): the
single files that once stopped the daemon for good. Shared by the decoder's tests, the daemon's
attack tests, `bench/fuzz.py` and `bench/soak.py`."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encoded(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def bad_exif(img: Image.Image, tag: int, typ: int, count: int, fmt: str = "JPEG") -> bytes:
    """`img`, stored turned and marked so by its EXIF (Orientation 6), with one more tag stored
    with a type it must not have (`typ`, `count`): Pillow's `exif_transpose` raises writing the
    EXIF back. Decoded upright, it is `img` again. Tag
    0x011A (XResolution) as text: TypeError; 0x0128 (ResolutionUnit) as a byte: struct.error;
    0x0131 (Software) as a fraction: AttributeError."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "camera maker"
    block = bytearray(exif.tobytes())
    tiff = 6  # after b"Exif\0\0"
    order = ">" if block[tiff:tiff + 2] == b"MM" else "<"
    ifd = tiff + struct.unpack(order + "I", block[tiff + 4:tiff + 8])[0]
    for k in range(struct.unpack(order + "H", block[ifd:ifd + 2])[0]):
        entry = ifd + 2 + 12 * k
        if struct.unpack(order + "H", block[entry:entry + 2])[0] == 0x010F:
            block[entry:entry + 8] = struct.pack(order + "HHI", tag, typ, count)
    return encoded(img.transpose(Image.Transpose.ROTATE_90), fmt, exif=bytes(block))


def malformed_exif_jpeg(img: Image.Image) -> bytes:
    """The issue's photo: XResolution (0x011A) stored as the text "came" (TypeError)."""
    return bad_exif(img, 0x011A, 2, 4)


def png(width: int, height: int) -> bytes:
    """A valid PNG of width x height black pixels, compressed to a few KB however large."""
    def chunk(tag: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + tag + payload
                + struct.pack(">I", zlib.crc32(tag + payload) & 0xFFFFFFFF))
    raw = (b"\0" + b"\0" * width) * height  # filter byte 0, then a row of gray 0
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def many_scans_jpeg(img: Image.Image, scans: int) -> bytes:
    """A progressive JPEG with its last scan repeated until it holds `scans` scans: each one is
    another pass of the decoder over the whole photo."""
    data = encoded(img, "JPEG", progressive=True, quality=90)
    last = data.rfind(b"\xff\xda")
    body = data[last:-2]  # the last scan: its header and entropy-coded data, up to EOI
    have = data.count(b"\xff\xda")
    return data[:-2] + body * max(0, scans - have) + b"\xff\xd9"


def heic_over_limits(img: Image.Image) -> bytes | None:
    """A HEIC whose image declares 100,000 x 100,000 pixels in its `ispe` box: libheif refuses
    it ("Security limit exceeded"). None when pillow_heif is missing."""
    try:
        import pillow_heif
    except ImportError:
        return None
    pillow_heif.register_heif_opener()
    data = bytearray(encoded(img, "HEIF"))
    at = data.find(b"ispe")
    if at < 0:
        return None
    data[at + 8:at + 16] = struct.pack(">II", 100_000, 100_000)
    return bytes(data)


def noise(w: int = 64, h: int = 48, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), np.uint8))
