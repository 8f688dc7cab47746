"""A hostile inbox, generated here, through a real `facefold watch`: every bad file ends failed
with a clear reason (or is never taken as a photo), every odd but valid photo is processed with
its faces, and the daemon goes on."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.helpers.daemon import WORK_TIMEOUT, Daemon, copy_in, wait_for
from tests.helpers.data import PEOPLE, photos_of

pytestmark = pytest.mark.models

# Root ignores file permissions; without these capabilities it obeys them like anyone else.
DROP_OVERRIDES = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def _png_bomb(w: int, h: int) -> bytes:
    """A valid PNG header declaring w x h pixels, with almost no data: tiny file, huge image."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b""))


def _save(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _single_face_photos(models: object, celebrities: Path, n: int) -> list[Path]:
    from facefold.vision.decode import decode_image

    out = []
    for split in ("train", "val"):
        for person in PEOPLE:
            for p in photos_of(celebrities, person, split):
                if len(models.finder.detect(decode_image(p.read_bytes(), 10**8))) == 1:
                    out.append(p)
    return out[:n]


def _grid(photos: list[Path], cols: int, cell: int = 200) -> np.ndarray:
    rows = -(-len(photos) // cols)
    canvas = np.full((rows * cell, cols * cell, 3), 255, np.uint8)
    for i, p in enumerate(photos):
        img = cv2.imread(str(p))
        k = cell / max(img.shape[:2])
        img = cv2.resize(img, (round(img.shape[1] * k), round(img.shape[0] * k)))
        r, c = divmod(i, cols)
        canvas[r * cell:r * cell + img.shape[0], c * cell:c * cell + img.shape[1]] = img
    return canvas


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, watch={"max_attempts": 3, "retry_seconds": 1.0, "settle_seconds": 0.3})
    yield d
    if d.proc is not None:
        d.proc.kill()
        d.proc.wait()


def test_a_hostile_inbox_fails_cleanly_and_the_daemon_goes_on(
        daemon: Daemon, celebrities: Path, models: object) -> None:
    d = daemon
    root = d.root
    inbox = d.inbox
    inbox.mkdir()
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    singles = _single_face_photos(models, celebrities, 34)
    face_path = singles[0]
    face = Image.open(face_path).convert("RGB")
    enc = iter(range(95, 20, -1))  # a fresh JPEG quality each time: distinct content

    def face_jpeg(img: Image.Image | None = None, **kw: object) -> bytes:
        return _save(img or face, "JPEG", quality=next(enc), **kw)

    # name -> expected: ("done", min faces, max faces) | ("failed", reason) | ("ignored",)
    expect: dict[str, tuple] = {}

    def put(name: str, data: bytes, want: tuple) -> Path:
        p = inbox / name
        p.write_bytes(data)
        expect[name] = want
        return p

    truncated = face_jpeg()
    # before the daemon starts (caught up by its first scan) ...
    put("empty.jpg", b"", ("failed", "empty file"))
    put("truncated.jpg", truncated[: len(truncated) // 2], ("failed", "truncated"))
    put("text.jpg", b"Dear diary, today I took no photos.\n" * 20, ("failed", "not an image"))
    put("random.png", np.random.default_rng(1).bytes(20_000), ("failed", "not an image"))
    put("bomb.png", _png_bomb(100_000, 100_000), ("failed", "too large"))
    put("one-pixel.png", _save(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), ("done", 0, 0))
    strip = np.tile(np.linspace(0, 255, 30000, dtype=np.uint8), (200, 1))
    put("strip.png", _save(Image.fromarray(strip), "PNG"), ("done", 0, 0))
    put("gray.jpg", face_jpeg(face.convert("L")), ("done", 1, 1))
    put("cmyk.jpg", face_jpeg(face.convert("CMYK")), ("done", 1, 1))
    g16 = (np.asarray(face.convert("L"), np.uint16) * 257).astype(np.uint16)
    put("sixteen-bit.png", _save(Image.fromarray(g16), "PNG"), ("done", 1, 1))
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.new("L", face.size, 255))
    put("alpha.png", _save(rgba, "PNG"), ("done", 1, 1))
    put("palette.gif", _save(face.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
        ("done", 1, 1))
    noise = Image.fromarray(np.random.default_rng(2).integers(0, 256, (*face.size[::-1], 3),
                                                              dtype=np.uint8))
    put("animated.gif", _save(face.convert("P", palette=Image.Palette.ADAPTIVE), "GIF", save_all=True,
                              append_images=[noise.convert("P")], duration=100),
        ("done", 1, 1))
    inverse = {1: [], 2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
               4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
               6: [Image.Transpose.ROTATE_90], 7: [Image.Transpose.TRANSVERSE],
               8: [Image.Transpose.ROTATE_270]}
    for orientation, steps in inverse.items():
        stored = face
        for t in steps:
            stored = stored.transpose(t)
        exif = Image.Exif()
        exif[0x0112] = orientation
        put(f"exif-{orientation}.jpg", face_jpeg(stored, exif=exif), ("done", 1, 1))
    crowd = _grid(singles[1:31], cols=6)
    put("crowd-of-30.jpg", cv2.imencode(".jpg", crowd)[1].tobytes(), ("done", 27, 31))
    landscape = np.dstack([np.tile(np.linspace(40, 200, 640, dtype=np.uint8), (480, 1))] * 3)
    put("no-faces.jpg", cv2.imencode(".jpg", landscape)[1].tobytes(), ("done", 0, 0))
    zeros = inbox / "zeros-200MB.jpg"
    with zeros.open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB to facefold, nothing on disk
    expect[zeros.name] = ("failed", "too large")
    (inbox / "folder.jpg").mkdir()
    put("folder.jpg/inside.jpg", face_jpeg(), ("done", 1, 1))
    expect["folder.jpg"] = ("ignored",)
    os.symlink("loop-b.jpg", inbox / "loop-a.jpg")
    os.symlink("loop-a.jpg", inbox / "loop-b.jpg")
    os.symlink(".", inbox / "loop-dir")
    (elsewhere / "secret.jpg").write_bytes(face_jpeg())
    os.symlink(elsewhere / "secret.jpg", inbox / "outside.jpg")
    for name in ("loop-a.jpg", "loop-b.jpg", "outside.jpg"):
        expect[name] = ("ignored",)

    prefix: list[str] = []
    locked = inbox / "locked.jpg"
    if os.geteuid() == 0 and shutil.which("setpriv"):
        prefix = DROP_OVERRIDES
    if prefix or os.geteuid() != 0:
        put(locked.name, face_jpeg(), ("done", 1, 1))  # after its permission is fixed
        locked.chmod(0)
    d.prefix = prefix
    d.start()

    # ... and while it runs (seen through file events)
    for name in ("my photo.jpg", "fötö 写真 😀.jpg", "new\nline.jpg", "-rf.jpg", "--help.jpg",
                 "x" * 200 + ".jpg"):
        p = inbox / name
        tmp = inbox / ".incoming.part"
        tmp.write_bytes(face_jpeg())
        os.rename(tmp, p)
        expect[name] = ("done", 1, 1)
    put("late-text.jpg", b"\x00\x01 not a photo", ("failed", "not an image"))
    os.mkfifo(inbox / "pipe.jpg")
    expect["pipe.jpg"] = ("failed", "not a regular file")
    vanishing = put("vanishing.jpg", face_jpeg(), ("ignored",))
    vanishing.unlink()
    os.symlink(elsewhere / "secret.jpg", inbox / "late-outside.jpg")
    expect["late-outside.jpg"] = ("failed|ignored", "symbolic link")

    if locked.name in expect:
        wait_for(lambda: "locked.jpg: permission denied" in d.log.read_text(), 60, d.log, d.proc)
        locked.chmod(0o644)  # the permission is fixed: the next try takes it

    def status() -> dict[str, tuple[str, str | None, int]]:
        rows = d.query("SELECT i.path, i.status, i.error, (SELECT COUNT(*) FROM faces f "
                       "WHERE f.image_id = i.id) FROM images i")
        return {os.path.relpath(p, inbox): (s, e, n) for p, s, e, n in rows}

    def settled() -> bool:
        st = status()
        wanted = [k for k, v in expect.items() if v[0] in ("done", "failed")]
        return (all(k in st and st[k][0] in ("done", "failed") for k in wanted) and d.idle())

    wait_for(settled, WORK_TIMEOUT, d.log, d.proc)
    st = status()
    report = []
    for name, want in sorted(expect.items()):
        got = st.get(name)
        report.append(f"{name!r}: {got}")
        if want[0] == "done":
            assert got is not None and got[0] == "done", (name, got)
            assert want[1] <= got[2] <= want[2], (name, got)
        elif want[0] == "failed":
            assert got is not None and got[0] == "failed", (name, got)
            assert want[1] in (got[1] or ""), (name, got)
        elif want[0] == "ignored":
            assert got is None, (name, got)
        else:  # never processed: either never taken, or refused with the reason
            assert got is None or (got[0] == "failed" and want[1] in (got[1] or "")), (name, got)
    print("\n".join(report))
    assert d.query("SELECT attempts FROM images WHERE path = ?",
                   str(inbox / "truncated.jpg")) == [(3,)]  # retried, then final

    # nothing outside the inbox was read or linked; the daemon is alive and takes a good photo
    assert not any("elsewhere" in t for t in d.targets())
    log = d.log.read_text()
    for name, want in expect.items():
        if want[0] == "failed":
            assert f"failed: {inbox / name}: " in log  # a log line says which and why
    assert d.alive()
    # two more photos of the person whose one face in the crowd is alone so far (a pair of
    # faces may be too far apart to be a person: `pair_distance`); three are one
    after = [copy_in(singles[k], inbox / f"after-{k}.jpg") for k in (31, 32)]
    wait_for(lambda: all(status().get(p.name, ("",))[0] == "done" for p in after) and d.idle(),
             WORK_TIMEOUT, d.log, d.proc)
    assert {str(p) for p in after} <= d.targets()
    out = subprocess.run([sys.executable, "-m", "facefold.cli", "status", "--json", "--config",
                          str(d.config)], capture_output=True, text=True, timeout=120).stdout
    listed = {os.path.relpath(f["path"], inbox): f["error"] for f in json.loads(out)["failures"]}
    failed = {k for k, v in st.items() if v[0] == "failed"}
    assert set(listed) == failed and failed >= {k for k, v in expect.items() if v[0] == "failed"}
    assert d.stop() == 0
    assert "Traceback" not in d.log.read_text()
