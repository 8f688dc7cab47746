"""Harder photo sets made from the 5-celebrity photos, for tests and benches (`bench/peer.py`):
bursts of near-duplicates, small faces in large photos, and group photos. Each is a labelled
folder as `facefold evaluate` reads it (a sub-folder per person; `labels.json` for photos that
show several people). Deterministic: the same photos every time."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from facefold.vision.ports import FaceFinder
from tests.helpers.data import PEOPLE, data_cache_dir, photos_of

BURST = 4  # photos a burst holds: the original and near-identical frames
COPIES = 4  # near-duplicates `copies` makes of each photo
SMALL_FACE_SHARE = 0.5  # of a person's photos, how many become small faces in a large photo
SMALL_CANVAS = (960, 720)  # the large photo a small face is pasted into (width, height)
SMALL_FACE_PX = (22.0, 40.0)  # a shrunk face's width, in pixels
GROUP_SIZES = (2, 3, 4)  # people in a group photo
GROUP_HEIGHT = 260  # each person's photo is scaled to this height in a group
VERSION = 4  # bump when a generator changes: the sets are made again


def _write(path: Path, img: np.ndarray, quality: int = 92) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, quality])


def _photos(src: Path, split: str, people: Sequence[str]) -> list[tuple[str, Path]]:
    return [(person, p) for person in people for p in photos_of(src, person, split)]


def _jitter(img: np.ndarray, rng: np.random.Generator, scale: float = 0.0, gain: float = 0.06,
            offset: float = 0.0) -> np.ndarray:
    """A near-identical frame: shifted up to 4 px, scaled by up to ±`scale` about the middle,
    brightness × 1 ± `gain` (plus up to ± `offset` levels)."""
    h, w = img.shape[:2]
    dx, dy = rng.integers(-4, 5, 2)
    s = float(rng.uniform(1 - scale, 1 + scale)) if scale else 1.0
    m = np.float32([[s, 0, dx + (1 - s) * w / 2], [0, s, dy + (1 - s) * h / 2]])
    out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    return cv2.convertScaleAbs(out, alpha=float(rng.uniform(1 - gain, 1 + gain)),
                               beta=float(rng.uniform(-offset, offset)) if offset else 0.0)


def bursts(src: Path, dest: Path, split: str = "val", people: Sequence[str] = PEOPLE) -> Path:
    """Every photo as a burst of BURST near-identical frames: shifted a few pixels, a little
    brighter or darker, saved at another JPEG quality."""
    rng = np.random.default_rng(0)
    for person, p in _photos(src, split, people):
        img = cv2.imread(str(p))
        for k in range(BURST):
            img_k = _jitter(img, rng) if k else img
            _write(dest / person / f"{p.stem}-{k}.jpg", img_k, int(rng.integers(85, 96)))
    return dest


def copies(src: Path, dest: Path, count: int = COPIES) -> Path:
    """Any labelled folder with `count` near-duplicates beside each photo (`<stem>-d0.jpg` is
    the photo, `-d1`... its copies: shifted, scaled by up to 3%, brighter or darker, another JPEG
    quality), `labels.json` carried over. Copies are no new sighting: someone seen in one
    original photo only stays a stranger (each copy is labelled as a stranger of its own)."""
    rng = np.random.default_rng(7)
    extra_file = src / "labels.json"
    extra = json.loads(extra_file.read_text(encoding="utf-8")) if extra_file.exists() else {}
    photos = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")
                    and p.suffix.lower() in (".jpg", ".jpeg", ".png", ".pgm", ".bmp"))
    shows = {p.relative_to(src).as_posix(): extra.get(p.relative_to(src).as_posix(),
                                                     [p.relative_to(src).parts[0]])
             for p in photos if len(p.relative_to(src).parts) > 1
             or p.relative_to(src).as_posix() in extra}
    seen: dict[str, int] = {}
    for who in shows.values():
        for w in who:
            seen[w] = seen.get(w, 0) + 1
    labels: dict[str, list[str]] = {}
    for p in photos:
        img = cv2.imread(str(p))
        if img is None:
            continue
        rel = p.relative_to(src)
        for k in range(count + 1):
            out = (rel.parent / f"{rel.stem}-d{k}.jpg").as_posix()
            _write(dest / out, _jitter(img, rng, 0.03, 0.08, 6.0) if k else img,
                   int(rng.integers(85, 96)))
            who = shows.get(rel.as_posix(), [])
            if rel.as_posix() in extra or any(seen[w] < 2 for w in who):
                labels[out] = [w if seen[w] >= 2 else f"{w}@{out}" for w in who]
    if labels:
        (dest / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")
    return dest


def small_faces(src: Path, dest: Path, finder: FaceFinder, split: str = "train",
                people: Sequence[str] = PEOPLE) -> Path:
    """Half of each person's photos shrunk so that the face (as `finder` finds it) is 22-40 px
    wide, and pasted into a large photo of a face-free background (smooth colour and grain); the
    other half, and photos where no face is found, as they are."""
    rng = np.random.default_rng(1)
    for person in people:
        photos = photos_of(src, person, split)
        for i, p in enumerate(photos):
            img = cv2.imread(str(p))
            found = finder.detect(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
            if i % 2 or i >= len(photos) * SMALL_FACE_SHARE * 2 or not found:
                _write(dest / person / p.name, img)
                continue
            cw, ch = SMALL_CANVAS
            corners = rng.integers(40, 220, (2, 2, 3)).astype(np.float32)
            canvas = cv2.resize(corners, (cw, ch), interpolation=cv2.INTER_LINEAR)
            canvas += rng.normal(0, 6, canvas.shape).astype(np.float32)
            canvas = np.clip(canvas, 0, 255).astype(np.uint8)
            face = max(min(d.box[2], d.box[3]) for d in found)
            k = float(rng.uniform(*SMALL_FACE_PX)) / face
            small = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            y = int(rng.integers(0, ch - small.shape[0]))
            x = int(rng.integers(0, cw - small.shape[1]))
            canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
            _write(dest / person / f"small-{p.stem}.jpg", canvas)
    return dest


def groups(src: Path, dest: Path, split: str = "train", people: Sequence[str] = PEOPLE,
           count: int = 12) -> Path:
    """Each person's photos as they are, plus `count` group photos (2-4 people side by side) in
    `groups/`, with `labels.json` naming who each group photo shows."""
    rng = np.random.default_rng(2)
    pool = {person: photos_of(src, person, split) for person in people}
    for person, photos in pool.items():
        for p in photos:
            _write(dest / person / p.name, cv2.imread(str(p)))
    labels: dict[str, list[str]] = {}
    for g in range(count):
        who = [str(w) for w in rng.choice(list(people), int(rng.choice(GROUP_SIZES)),
                                          replace=False)]
        tiles = []
        for w in who:
            img = cv2.imread(str(pool[w][int(rng.integers(len(pool[w])))]))
            tiles.append(cv2.resize(img, (round(img.shape[1] * GROUP_HEIGHT / img.shape[0]),
                                          GROUP_HEIGHT)))
        rel = f"groups/group-{g:02d}.jpg"
        _write(dest / rel, np.hstack(tiles))
        labels[rel] = who
    (dest / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")
    return dest


def hard_cases(src: Path, dest: Path, finder: FaceFinder) -> dict[str, Path]:
    """All generated sets under `dest` (made once, reused): name → folder. `finder` sizes the
    small faces."""
    made = {}
    makers: list[tuple[str, Callable[[Path, Path], Path]]] = [
        ("bursts", bursts), ("small-faces", lambda s, d: small_faces(s, d, finder)),
        ("groups", groups)]
    for name, make in makers:
        folder = dest / f"v{VERSION}" / name
        if not (folder / ".complete").exists():
            make(src, folder)
            if not any(folder.rglob("*.jpg")):
                raise FileNotFoundError(f"{src}: no 5-celebrity photos to make {name} from")
            (folder / ".complete").touch()
        made[name] = folder
    return made


def measured_sets(celebrities: Path, finder: FaceFinder) -> list[Path]:
    """The labelled folders the benchmarks measure when given none: the 5-celebrity train and
    val photos and the generated hard cases (made once under the test-data cache)."""
    return [celebrities / "train", celebrities / "val",
            *hard_cases(celebrities, data_cache_dir() / "hard-cases", finder).values()]
