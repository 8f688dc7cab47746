"""Photos with no face in them, for measuring false faces (issue "Find every face"): scikit-image's
sample images that show no person (shipped in its wheel), crops and mirrors of them, generated
textures and patterns, and strips of the 5-celebrity photos beside the person. Deterministic."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from facefold.vision.ports import FaceFinder
from tests.helpers.data import PEOPLE, photos_of

# scikit-image's shipped samples minus those that show people (astronaut, camera, the GIF)
SKIMAGE_SAMPLES = ("brick", "cell", "chelsea", "chessboard_RGB", "clock_motion", "coffee",
                   "coins", "color", "grass", "gravel", "horse", "hubble_deep_field", "ihc",
                   "logo", "microaneurysms", "moon", "motorcycle_left", "motorcycle_right",
                   "page", "phantom", "retina", "rocket", "text")
GENERATED = 80  # textures and patterns made here
STRIP_MARGIN = 0.5  # a strip beside the person keeps this share of a face box's width clear of it
STRIP_MIN = 40  # narrower strips are dropped
STRIP_FIND = 0.5  # faces are looked for at this score when cutting strips (anything face-like)


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _samples(dest: Path) -> None:
    import skimage

    root = Path(skimage.__file__).parent / "data"
    for name in SKIMAGE_SAMPLES:
        src = next(root.glob(f"{name}.*"))
        img = cv2.imread(str(src), cv2.IMREAD_COLOR)
        if img is None:
            continue
        h, w = img.shape[:2]
        _write(dest / f"sk-{name}.png", img)
        _write(dest / f"sk-{name}-mirror.png", img[:, ::-1])
        _write(dest / f"sk-{name}-crop.png", img[h // 4:h * 3 // 4, w // 4:w * 3 // 4])
        _write(dest / f"sk-{name}-wide.png", cv2.resize(img, (w * 2, h)))


def _generated(dest: Path) -> None:
    rng = np.random.default_rng(3)
    for i in range(GENERATED):
        kind = i % 5
        h, w = int(rng.integers(240, 720)), int(rng.integers(320, 960))
        if kind == 0:  # smooth colour noise
            img = cv2.resize(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (w, h),
                             interpolation=cv2.INTER_CUBIC)
        elif kind == 1:  # grain
            img = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        elif kind == 2:  # checkerboard or stripes
            cell = int(rng.integers(8, 60))
            yy, xx = np.mgrid[0:h, 0:w]
            img = np.repeat((((yy // cell) + (xx // cell) * (i % 2)) % 2 * 255).astype(
                np.uint8)[..., None], 3, axis=2)
        elif kind == 3:  # random ellipses and rectangles
            img = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
            for _ in range(30):
                c = tuple(int(v) for v in rng.integers(0, 256, 3))
                x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
                if rng.random() < 0.5:
                    cv2.ellipse(img, (x, y), (int(rng.integers(5, 80)), int(rng.integers(5, 80))),
                                float(rng.uniform(0, 180)), 0, 360, c, -1)
                else:
                    cv2.rectangle(img, (x, y), (x + int(rng.integers(5, 120)),
                                                y + int(rng.integers(5, 120))), c, -1)
        else:  # blurred blobs, like out-of-focus lights
            img = np.zeros((h, w, 3), np.uint8)
            for _ in range(40):
                c = tuple(int(v) for v in rng.integers(0, 256, 3))
                cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                           int(rng.integers(3, 40)), c, -1)
            img = cv2.GaussianBlur(img, (0, 0), 6)
        _write(dest / f"gen-{i:03d}.png", img)


def _strips(src: Path, dest: Path, finder: FaceFinder) -> None:
    """The parts of each 5-celebrity photo left and right of every face-like thing the finder
    sees at a low score (padded too), with a margin."""
    kept = finder.params
    finder.params = replace(kept, min_confidence=STRIP_FIND)
    try:
        for person in PEOPLE:
            for split in ("train", "val"):
                for p in photos_of(src, person, split):
                    img = cv2.imread(str(p))
                    found = finder.detect(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
                    if not found:
                        continue
                    left = min(d.box[0] - STRIP_MARGIN * d.box[2] for d in found)
                    right = max(d.box[0] + (1 + STRIP_MARGIN) * d.box[2] for d in found)
                    if left >= STRIP_MIN:
                        _write(dest / f"strip-{p.stem[:40]}-l.png", img[:, :int(left)])
                    if img.shape[1] - right >= STRIP_MIN:
                        _write(dest / f"strip-{p.stem[:40]}-r.png", img[:, int(np.ceil(right)):])
    finally:
        finder.params = kept


def face_free(celebrities: Path, dest: Path, finder: FaceFinder) -> Path:
    """All face-free photos in `dest` (made once, reused); `finder` locates the people in the
    5-celebrity photos so that the strips beside them hold nobody."""
    if not (dest / ".complete").exists():
        _samples(dest)
        _generated(dest)
        _strips(celebrities, dest, finder)
        (dest / ".complete").touch()
    return dest
