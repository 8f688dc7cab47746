"""Hostile photo files, made here with Pillow and a few edited bytes (never committed): the
single files that once stopped the daemon for good. Shared by the decoder's tests, the daemon's
attack tests, `bench/fuzz.py` and `bench/soak.py`."""

from __future__ import annotations

import io
import struct
import warnings
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


# --- Whole photos mutated at random (bench/fuzz.py, bench/soak.py) -----------------------------

FUZZ_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF")
EXIF_TAGS = (0x0100, 0x0101, 0x0103, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131,
             0x0132, 0x0201, 0x0202, 0x0213, 0x8769, 0x8825, 0x9286, 0x927C, 0xA002, 0xA003,
             0xA005)
SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "TIFF": ".tif",
          "BMP": ".bmp", "HEIF": ".heic"}


def random_exif(rng: np.random.Generator) -> bytes:
    """An EXIF block of one IFD of random entries: real tags with any type (0-20), counts from
    0 to 2^32 - 1, random values and offsets, and random bytes after it."""
    big = bool(rng.integers(2))
    order = ">" if big else "<"
    entries = []
    for _ in range(int(rng.integers(1, 14))):
        count = int(rng.choice([rng.integers(0, 17), rng.integers(0, 2**32)]))
        entries.append(struct.pack(order + "HHI", int(rng.choice(EXIF_TAGS)),
                                   int(rng.integers(0, 21)), count) + rng.bytes(4))
    ifd = struct.pack(order + "H", len(entries)) + b"".join(entries) + struct.pack(
        order + "I", int(rng.choice([0, rng.integers(0, 2**32)])))
    return (b"Exif\0\0" + (b"MM" if big else b"II") + struct.pack(order + "HI", 42, 8) + ifd
            + rng.bytes(int(rng.integers(0, 256))))


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", min(len(payload) + 2, 0xFFFF)) + payload


def _with_xmp(data: bytes, rng: np.random.Generator) -> bytes:
    """A JPEG with an XMP packet (APP1) of random XML-ish text or bytes after its SOI."""
    body = rng.choice([b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>" + rng.bytes(40) * 3,
                       rng.bytes(int(rng.integers(0, 3000))),
                       b"<?xpacket begin='\xef\xbb\xbf'?>" + b"<a>" * 500])
    return data[:2] + _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0" + bytes(body)) + data[2:]


def _set_dimensions(data: bytes, rng: np.random.Generator) -> bytes:
    """Declared width and height set to anything (0, 1, huge, negative), where the format
    keeps them."""
    b = bytearray(data)
    w, h = (int(rng.choice([0, 1, rng.integers(0, 70000), 2**31 - 1, 2**32 - 1]))
            for _ in range(2))
    if b[:2] == b"\xff\xd8":
        for sof in (b"\xff\xc0", b"\xff\xc2"):
            at = b.find(sof)
            if at >= 0:
                b[at + 5:at + 9] = struct.pack(">HH", h & 0xFFFF, w & 0xFFFF)
    elif b[:8] == b"\x89PNG\r\n\x1a\n":
        b[16:24] = struct.pack(">II", w, h)  # IHDR (its CRC now wrong, or not checked)
    elif b[:3] == b"GIF":
        b[6:10] = struct.pack("<HH", w & 0xFFFF, h & 0xFFFF)
    elif b[:2] == b"BM":
        b[18:26] = struct.pack("<II", w, h)  # negative heights (bottom-up) among them
    elif b[:4] == b"RIFF":
        at = b.find(b"VP8 ")
        if at >= 0:
            b[at + 14:at + 18] = struct.pack("<HH", w & 0x3FFF, h & 0x3FFF)
    elif b"ispe" in b:
        at = b.find(b"ispe")
        b[at + 8:at + 16] = struct.pack(">II", w, h)
    return bytes(b)


def _bad_length(data: bytes, rng: np.random.Generator) -> bytes:
    """One chunk's or segment's length field set to anything."""
    b = bytearray(data)
    if b[:8] == b"\x89PNG\r\n\x1a\n":
        starts, at = [], 8
        while at + 8 <= len(b):
            starts.append(at)
            at += 12 + struct.unpack(">I", b[at:at + 4])[0]
        if starts:
            k = int(rng.choice(starts))
            b[k:k + 4] = struct.pack(">I", int(rng.integers(0, 2**32)))
    elif b[:2] == b"\xff\xd8":
        marks = [i for i in range(2, min(len(b) - 4, 2000)) if b[i] == 0xFF and b[i + 1] >= 0xC0
                 and b[i + 1] not in (0xD8, 0xD9, 0xFF)]
        if marks:
            k = int(rng.choice(marks))
            b[k + 2:k + 4] = struct.pack(">H", int(rng.integers(0, 0x10000)))
    else:
        k = int(rng.integers(0, max(1, min(len(b) - 4, 64))))
        b[k:k + 4] = rng.bytes(4)
    return bytes(b)


def _bytes_mutated(data: bytes, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 6))):
        if not b:
            break
        i = int(rng.integers(0, len(b)))
        op = int(rng.integers(4))
        if op == 0:
            b[i] = int(rng.integers(256))
        elif op == 1:
            del b[i:]
        elif op == 2:
            n = int(rng.integers(1, 64))
            b[i:i] = b[i:i + n] * int(rng.integers(1, 8))
        else:
            b[i:i] = rng.bytes(int(rng.integers(1, 64)))
    return bytes(b)


def fuzzed_photo(base: Image.Image, rng: np.random.Generator) -> tuple[str, bytes]:
    """A whole photo made from `base` (a real one) and mutated at random: saved in one of
    FUZZ_FORMATS with random EXIF, ICC profile or XMP, then any of: its dimensions set to
    anything, a chunk's length broken, a JPEG's last scan repeated up to 2,000 times, bytes
    flipped, cut, repeated or spliced. Return (file suffix, bytes)."""
    fmt = str(rng.choice(FUZZ_FORMATS))
    side = int(rng.integers(40, 420))
    img = base.copy()
    img.thumbnail((side, side))
    if rng.integers(4) == 0:
        img = img.convert(str(rng.choice(["L", "RGBA", "P", "CMYK", "I;16", "1"])))
    kw: dict[str, object] = {}
    if rng.integers(2):
        kw["exif"] = random_exif(rng)
    if rng.integers(3) == 0:
        kw["icc_profile"] = rng.bytes(int(rng.integers(0, 4000)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = encoded(img, fmt, **kw)
    except Exception:  # a mode or tag this format's writer cannot hold: as a plain JPEG
        fmt = "JPEG"
        data = encoded(img.convert("RGB"), fmt, exif=random_exif(rng))
    for _ in range(int(rng.integers(1, 4))):
        op = int(rng.integers(6))
        if op == 0 and fmt == "JPEG":
            data = _with_xmp(data, rng)
        elif op == 1:
            data = _set_dimensions(data, rng)
        elif op == 2:
            data = _bad_length(data, rng)
        elif op == 3 and fmt == "JPEG":
            data = many_scans_jpeg(img.convert("RGB"), int(rng.integers(2, 2000)))
        elif op >= 4:
            data = _bytes_mutated(data, rng)
    return SUFFIX[fmt], data
