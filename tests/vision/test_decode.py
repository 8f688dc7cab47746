import io

import numpy as np
import pytest
from PIL import Image

from facefold.vision.decode import DecodeError, decode_image, decode_photo

LIMIT = 50_000_000


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(w: int = 64, h: int = 48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    arr = np.stack([np.tile(x, (h, 1)), np.zeros((h, w), np.uint8), np.full((h, w), 200, np.uint8)], -1)
    return Image.fromarray(arr)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_formats_decode_to_rgb(fmt: str) -> None:
    out = decode_image(_encode(_gradient(), fmt), LIMIT)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8


def test_heic_decodes() -> None:
    pytest.importorskip("pillow_heif")
    out = decode_image(_encode(_gradient(), "HEIF"), LIMIT)
    assert out.shape == (48, 64, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation: int) -> None:
    # A marker in the top-left corner of the upright picture must end up there after decoding.
    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:8, :8] = 255
    inverse = {1: [], 2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
               4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
               6: [Image.Transpose.ROTATE_90], 7: [Image.Transpose.TRANSVERSE],
               8: [Image.Transpose.ROTATE_270]}[orientation]
    stored = Image.fromarray(upright)
    for t in inverse:
        stored = stored.transpose(t)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = decode_image(_encode(stored, "PNG", exif=exif), LIMIT)
    assert out.shape == (40, 60, 3)
    assert out[:8, :8].mean() > 200 and out[-8:, -8:].mean() < 50


def test_modes_are_converted() -> None:
    g16 = Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))
    assert decode_image(_encode(g16, "PNG"), LIMIT).shape == (48, 64, 3)
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert (decode_image(_encode(rgba, "PNG"), LIMIT) == 255).all()  # transparent → white
    cmyk = Image.new("CMYK", (10, 10), (0, 255, 255, 0))
    out = decode_image(_encode(cmyk, "JPEG"), LIMIT)
    assert out.shape == (10, 10, 3) and out[..., 0].mean() > 200
    gray = Image.new("L", (10, 10), 128)
    assert decode_image(_encode(gray, "JPEG"), LIMIT).shape == (10, 10, 3)


def test_animated_gif_gives_the_first_frame() -> None:
    frames = [Image.new("P", (10, 10), i) for i in (1, 2, 3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(buf.getvalue(), LIMIT).shape == (10, 10, 3)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"hello, I am text", "not an image"),
        (np.random.default_rng(0).bytes(5000), "not an image"),
    ],
)
def test_non_images_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode_image(data, LIMIT)


def test_truncated_jpeg_is_refused() -> None:
    data = _encode(_gradient(640, 480), "JPEG", quality=95)
    with pytest.raises(DecodeError, match="truncated|cannot decode"):
        decode_image(data[: len(data) // 2], LIMIT)


def test_too_many_pixels_is_refused_before_decoding() -> None:
    data = _encode(Image.new("L", (3000, 3000)), "PNG")  # a small file, 9 Mpx declared
    with pytest.raises(DecodeError, match="too large"):
        decode_image(data, 1_000_000)


@pytest.mark.parametrize(("size", "min_side", "scale"), [
    ((4000, 3000), 1536, 2.0),  # 12 MP phone photo: 2000 x 1500 keeps >= 1536
    ((4000, 3000), 900, 4.0),
    ((4000, 3000), 0, 1.0),  # 0: always in full
    ((2000, 1500), 1536, 1.0),  # less than twice min_side: in full
])
def test_large_jpegs_are_decoded_at_a_reduced_scale(size: tuple[int, int], min_side: int,
                                                    scale: float) -> None:
    data = _encode(_gradient(*size), "JPEG", quality=90)
    d = decode_photo(data, LIMIT, min_side)
    assert d.scale == scale
    assert d.pixels.shape == (round(size[1] / scale), round(size[0] / scale), 3)
    assert d.full_size == size
    full = decode_image(data, LIMIT)
    small = full[:: int(scale), :: int(scale)].astype(int)
    assert np.abs(small - d.pixels.astype(int)).mean() < 6  # the same picture


def test_reduced_decoding_keeps_orientation_and_full_size() -> None:
    stored = _gradient(4000, 3000).transpose(Image.Transpose.ROTATE_90)  # 3000 x 4000 stored
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated back: 4000 wide
    d = decode_photo(_encode(stored, "JPEG", exif=exif), LIMIT, 1536)
    assert d.scale == 2.0 and d.full_size == (4000, 3000) and d.pixels.shape == (1500, 2000, 3)


def test_only_jpegs_are_drafted() -> None:
    d = decode_photo(_encode(_gradient(4000, 3000), "PNG"), LIMIT, 1536)
    assert d.scale == 1.0 and d.pixels.shape == (3000, 4000, 3)


# Single files that once stopped the daemon (tests/helpers/hostile.py): each decodes upright or
# is refused with a reason; nothing else escapes.

@pytest.mark.parametrize(("tag", "typ", "count", "fmt"), [
    (0x011A, 2, 4, "JPEG"),  # XResolution as text: TypeError in exif_transpose
    (0x0128, 1, 1, "JPEG"),  # ResolutionUnit as a byte: struct.error
    (0x0128, 1, 1, "WEBP"),
    (0x0131, 5, 1, "JPEG"),  # Software as a fraction: AttributeError
])
def test_malformed_exif_still_turns_the_photo_upright(tag: int, typ: int, count: int,
                                                      fmt: str) -> None:
    from tests.helpers.hostile import bad_exif

    img = _gradient()  # smooth: JPEG keeps it; red rises left to right
    out = decode_image(bad_exif(img, tag, typ, count, fmt), LIMIT)
    assert out.shape == (48, 64, 3)  # stored turned, Orientation 6 applied: upright again
    assert np.abs(out.astype(int) - np.asarray(img, int)).mean() < 10


def test_jpeg_scans_are_counted_past_an_exif_thumbnail() -> None:
    from facefold.vision.decode import jpeg_scans
    from tests.helpers.hostile import noise

    img = noise(120, 90)
    thumb = Image.Exif()
    thumb[0x0112] = 1
    assert jpeg_scans(_encode(img, "JPEG")) == 1
    assert 5 <= jpeg_scans(_encode(img, "JPEG", progressive=True)) <= 12
    assert jpeg_scans(_encode(img, "JPEG", exif=thumb.tobytes())) == 1
    assert jpeg_scans(_encode(img, "PNG")) == 0


def test_a_jpeg_of_too_many_scans_is_refused_before_decoding() -> None:
    from tests.helpers.hostile import many_scans_jpeg, noise

    data = many_scans_jpeg(noise(120, 90), 300)
    with pytest.raises(DecodeError, match="300 scans, limit is 256"):
        decode_photo(data, LIMIT, max_scans=256)
    assert decode_photo(data, LIMIT, max_scans=0).pixels.shape == (90, 120, 3)  # 0: no limit


def test_any_decoder_failure_is_a_decode_error() -> None:
    from tests.helpers.hostile import heic_over_limits, noise

    data = heic_over_limits(noise())
    if data is None:
        pytest.skip("pillow_heif is not installed")
    with pytest.raises(DecodeError, match="Security limit exceeded"):
        decode_photo(data, LIMIT)


def test_a_one_pixel_wide_photo_of_a_million_rows_decodes_small() -> None:
    from tests.helpers.hostile import png

    out = decode_image(png(1, 1_000_000), LIMIT)
    assert out.shape == (1_000_000, 1, 3)
