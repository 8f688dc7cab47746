"""The labelled sets `bench/quality.py` measures, built from public photos (`bench/datasets.md`
says where each comes from; none is committed).

Each set is a labelled folder as `facefold evaluate` reads it: a sub-folder of photos per person,
and `labels.json` naming who each photo of several people shows. Every set is of one *kind* and is
either a *tune* set (the clustering rule may be chosen by looking at it) or a *test* set (it may
not). LFW's people are dealt out to its sets by a hash of their name, so no person is in two sets.
Building is deterministic: the same photos, crops and labels every time.

    .venv/bin/python bench/datasets.py [--sources DIR] [--dest DIR]   # build every set once
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.data import celebrity_photos, data_cache_dir  # noqa: E402
from tests.helpers.hardcases import groups as celebrity_groups  # noqa: E402
from tests.helpers.hardcases import small_faces as celebrity_small_faces  # noqa: E402

VERSION = 2  # bump when a builder changes: the sets are made again
LFW_CROP = 150  # LFW photos are 250 px with the face in the middle: the middle 150 px hold it
LFW_FACE = 62  # the detector's box around an LFW face, in px (median over lfw-small's photos)
CANVAS = (960, 720)  # the large photo that small faces and crowds are pasted into


@dataclass(frozen=True)
class SetSpec:
    name: str
    kind: str  # what a library of this kind is like, in a few words
    split: str  # "tune" or "test"
    build: Callable[[Path, Path], None]  # (sources, dest)


def _write(path: Path, img: np.ndarray, quality: int = 92) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        cv2.imwrite(str(path), img)
    else:
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, quality])


def _read(path: Path) -> np.ndarray:
    """A photo in any format OpenCV or Pillow reads (ORL's PGM, Yale's GIF) as BGR."""
    img = cv2.imread(str(path))
    if img is None:
        from PIL import Image

        with Image.open(path) as im:
            img = cv2.cvtColor(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2BGR)
    return img


def _labels(dest: Path, labels: dict[str, list[str]]) -> None:
    if labels:
        (dest / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")


# --- LFW: 5,749 people in news photos, dealt out to the sets below ----------------------------

# the first hash's shares; "spare" is dealt out again by a second hash (_lfw_group), and stays
# in this list so that every other share keeps its people
LFW_GROUPS = ("news-a", "news-b", "few-a", "few-b", "pairs", "groups-a", "groups-b", "small",
              "crowd", "spare")


def _lfw_people(sources: Path) -> dict[str, list[Path]]:
    root = sources / "lfw"
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: LFW's images/ folder is missing (bench/datasets.md)")
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(root.iterdir()) if d.is_dir()}


def _lfw_group(name: str, photos: int) -> str:
    """The set a person of LFW belongs to: people with 10 photos or more (a scarce 158) go to
    the news sets, everyone else to one of the others. The spare share is dealt out again to
    the tune sets of the kinds that were test-only (small faces, crowds, pairs)."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    h = int(digest[:8], 16)
    if photos >= 10:
        return LFW_GROUPS[h % 2]
    group = LFW_GROUPS[2 + h % (len(LFW_GROUPS) - 2)]
    if group != "spare":
        return group
    odd = int(digest[8:16], 16) % 2
    if photos >= 4:
        return ("small-a", "crowd-a")[odd]
    return "pairs-a" if photos > 1 or not odd else "crowd-a"


def _lfw_pick(sources: Path, group: str, lo: int, hi: int, count: int,
              seed: int) -> list[tuple[str, list[Path]]]:
    """`count` people of `group` with lo..hi photos each (those with more keep `hi` of them)."""
    rng = np.random.default_rng(seed)
    people = [(n, ps) for n, ps in _lfw_people(sources).items()
              if _lfw_group(n, len(ps)) == group and len(ps) >= lo]
    rng.shuffle(people)  # type: ignore[arg-type]
    out = []
    for n, ps in people[:count]:
        if len(ps) > hi:
            ps = sorted(rng.choice(ps, hi, replace=False).tolist())
        out.append((n, list(ps)))
    return out


def _lfw_strangers(sources: Path, group: str, count: int, seed: int) -> list[tuple[str, Path]]:
    """`count` people of `group` seen in one photo only."""
    rng = np.random.default_rng(seed)
    once = [(n, ps[0]) for n, ps in _lfw_people(sources).items()
            if _lfw_group(n, len(ps)) == group and len(ps) == 1]
    rng.shuffle(once)  # type: ignore[arg-type]
    return once[:count]


def _copy_people(people: Sequence[tuple[str, Sequence[Path]]], dest: Path) -> None:
    for name, photos in people:
        for p in photos:
            (dest / name).mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest / name / p.name)


def _middle(img: np.ndarray, side: int = LFW_CROP) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return img[max(y, 0):y + side, max(x, 0):x + side]


def lfw_news(group: str, seed: int) -> Callable[[Path, Path], None]:
    """People in news photos, 10-20 photos each (those with more: 20 of them)."""
    def build(sources: Path, dest: Path) -> None:
        _copy_people(_lfw_pick(sources, group, 10, 20, 40, seed), dest)
    return build


def lfw_few(group: str, seed: int) -> Callable[[Path, Path], None]:
    """Small web photos: 50 people with 2-8 photos each, among 100 people seen once."""
    def build(sources: Path, dest: Path) -> None:
        people = [(n, ps) for n, ps in _lfw_pick(sources, group, 2, 8, 400, seed)
                  if len(ps) <= 8][:50]
        _copy_people(people, dest)
        for name, p in _lfw_strangers(sources, group, 100, seed + 1):
            _copy_people([(name, [p])], dest)
    return build


def lfw_pairs(group: str, seed: int) -> Callable[[Path, Path], None]:
    """A family's small people: 60 people seen in exactly 2 photos and 30 in 3, among 100
    people seen once."""
    def build(sources: Path, dest: Path) -> None:
        everyone = _lfw_pick(sources, group, 2, 3, 2000, seed)
        two = [(n, ps) for n, ps in everyone if len(ps) == 2][:60]
        three = [(n, ps) for n, ps in everyone if len(ps) == 3][:30]
        _copy_people(two + three, dest)
        for name, p in _lfw_strangers(sources, group, 100, seed + 1):
            _copy_people([(name, [p])], dest)
    return build


def _tile_row(tiles: list[np.ndarray], height: int) -> np.ndarray:
    return np.hstack([cv2.resize(t, (round(t.shape[1] * height / t.shape[0]), height))
                      for t in tiles])


def lfw_groups(group: str, seed: int) -> Callable[[Path, Path], None]:
    """Group photos: 25 people with 4-8 photos; half of each person's photos as they are, the
    rest in 20 group photos of 2-5 people side by side (`labels.json` names who)."""
    def build(sources: Path, dest: Path) -> None:
        rng = np.random.default_rng(seed)
        people = _lfw_pick(sources, group, 4, 8, 25, seed)
        spare: dict[str, list[Path]] = {}
        for name, photos in people:
            half = len(photos) // 2
            _copy_people([(name, photos[:half])], dest)
            spare[name] = list(photos[half:])
        labels: dict[str, list[str]] = {}
        for g in range(20):
            left = [n for n, ps in spare.items() if ps]
            if len(left) < 2:
                break
            who = [str(w) for w in rng.choice(left, min(len(left), int(rng.integers(2, 6))),
                                             replace=False)]
            tiles = [_middle(_read(spare[w].pop())) for w in who]
            rel = f"groups/group-{g:02d}.jpg"
            _write(dest / rel, _tile_row(tiles, 200))
            labels[rel] = who
        for name, ps in spare.items():  # what no group took is a photo of its own
            _copy_people([(name, ps)], dest)
        _labels(dest, labels)
    return build


def _canvas(rng: np.random.Generator) -> np.ndarray:
    """A large face-free photo: a smooth colour gradient with grain."""
    cw, ch = CANVAS
    corners = rng.integers(40, 220, (2, 2, 3)).astype(np.float32)
    canvas = cv2.resize(corners, (cw, ch), interpolation=cv2.INTER_LINEAR)
    canvas += rng.normal(0, 6, canvas.shape).astype(np.float32)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def lfw_small(group: str, seed: int) -> Callable[[Path, Path], None]:
    """Small faces: 25 people with 4-10 photos; half of each person's photos shrunk so that the
    face (the detector's box) is 20-40 px wide, pasted into a 960 x 720 photo."""
    def build(sources: Path, dest: Path) -> None:
        rng = np.random.default_rng(seed)
        for name, photos in _lfw_pick(sources, group, 4, 10, 25, seed):
            for i, p in enumerate(photos):
                img = _read(p)
                if i % 2:
                    _write(dest / name / p.name, img)
                    continue
                face = _middle(img)
                k = float(rng.uniform(20, 40)) / LFW_FACE
                small = cv2.resize(face, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
                canvas = _canvas(rng)
                y = int(rng.integers(0, canvas.shape[0] - small.shape[0]))
                x = int(rng.integers(0, canvas.shape[1] - small.shape[1]))
                canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
                _write(dest / name / f"small-{p.stem}.jpg", canvas)
    return build


def lfw_crowd(group: str, seed: int) -> Callable[[Path, Path], None]:
    """Crowds: 20 people with 4-10 photos, each in one portrait and several of 12 crowd photos
    of 8-15 faces 30-45 px wide (the rest strangers seen once); `labels.json` names everyone."""
    def build(sources: Path, dest: Path) -> None:
        rng = np.random.default_rng(seed)
        people = _lfw_pick(sources, group, 4, 10, 20, seed)
        strangers = _lfw_strangers(sources, group, 150, seed + 1)
        spare = {n: list(ps[1:]) for n, ps in people}
        for name, photos in people:
            _copy_people([(name, photos[:1])], dest)
        labels: dict[str, list[str]] = {}
        for g in range(12):
            want = int(rng.integers(8, 16))
            known = [n for n, ps in spare.items() if ps]
            who = [str(w) for w in rng.choice(known, min(len(known), want // 2), replace=False)]
            tiles = [(w, _middle(_read(spare[w].pop()))) for w in who]
            while len(tiles) < want and strangers:
                name, p = strangers.pop()
                tiles.append((name, _middle(_read(p))))
            order = rng.permutation(len(tiles))
            canvas = _canvas(rng)
            cols = 5
            cell_w, cell_h = CANVAS[0] // cols, CANVAS[1] // 3
            for slot, t in enumerate(order.tolist()):
                side = int(rng.integers(75, 105))  # the detector's box: 30-45 px
                tile = cv2.resize(tiles[t][1], (side, side), interpolation=cv2.INTER_AREA)
                r, c = divmod(slot, cols)
                y = r * cell_h + int(rng.integers(0, cell_h - side))
                x = c * cell_w + int(rng.integers(0, cell_w - side))
                canvas[y:y + side, x:x + side] = tile
            rel = f"crowds/crowd-{g:02d}.jpg"
            _write(dest / rel, canvas)
            labels[rel] = [tiles[t][0] for t in order.tolist()]
        _labels(dest, labels)
    return build


# --- Sets of ordinary people photographed in one session ---------------------------------------

def orl(sources: Path, dest: Path) -> None:
    """AT&T/ORL: 40 people, 10 photos each in one sitting, 92 x 112 grayscale."""
    for folder in sorted((sources / "orl").glob("s*")):
        for p in sorted(folder.glob("*.pgm")):
            _write(dest / folder.name / f"{p.stem}.png", _read(p))


def yale(sources: Path, dest: Path) -> None:
    """Yale faces: 15 people, 11 photos each in one sitting, lit from the left, right, front."""
    for p in sorted((sources / "yale").glob("subject*")):
        who, what = p.name.split(".", 1)
        _write(dest / who / f"{what}.png", _read(p))


def bbt(sources: Path, dest: Path) -> None:
    """A TV cast: 8 people with 5 tight portraits each, and 5 photos of the cast together
    (labelled by hand, bench/datasets.md)."""
    root = sources / "bbt"
    for folder in sorted(d for d in root.iterdir() if d.is_dir()):
        for p in sorted(folder.glob("*.png")):
            _write(dest / folder.name / p.name, _read(p))
    cast = {"bbt1.jpg": ["raj", "leonard", "howard", "sheldon"],
            "bbt2.jpg": ["leonard", "sheldon"],
            "bbt3.jpg": ["sheldon", "howard", "penny", "raj", "leonard"],
            "bbt4.jpg": ["amy", "raj", "bernadette", "leonard", "penny", "sheldon"],
            "bbt5.jpg": ["raj", "penny", "sheldon", "leonard", "howard"]}
    for name in cast:
        shutil.copy(root / name, dest / name)
    _labels(dest, {f"{k}": v for k, v in cast.items()})


# --- The 5-celebrity photos of the FaceNet sdist (what the tests use) ---------------------------

def _celebrities() -> Path:
    from facefold.config import load_settings

    return celebrity_photos(load_settings(REPO / "config.yaml").models_dir)


def celeb(split: str) -> Callable[[Path, Path], None]:
    def build(_sources: Path, dest: Path) -> None:
        shutil.copytree(_celebrities() / split, dest, dirs_exist_ok=True)
    return build


def celeb_groups(_sources: Path, dest: Path) -> None:
    """The 5 celebrities' train photos, plus 12 group photos of 2-4 of them side by side."""
    celebrity_groups(_celebrities(), dest)


def celeb_small(_sources: Path, dest: Path) -> None:
    """The 5 celebrities' train photos, half of them shrunk to faces of 22-40 px in a large
    photo (sized by the real MTCNN)."""
    from facefold.config import load_settings
    from facefold.core import Models

    models = Models.from_settings(load_settings(REPO / "config.yaml"))
    celebrity_small_faces(_celebrities(), dest, models.finder)


SETS: tuple[SetSpec, ...] = (
    SetSpec("celeb5-train", "celebrities, 14-22 photos each", "tune", celeb("train")),
    SetSpec("celeb5-groups", "celebrities and group photos", "tune", celeb_groups),
    SetSpec("celeb5-small", "celebrities, half as faces of 22-40 px", "tune", celeb_small),
    SetSpec("orl", "one sitting each, 40 people", "tune", orl),
    SetSpec("lfw-news-a", "news photos, 10-20 each", "tune", lfw_news("news-a", 11)),
    SetSpec("lfw-few-a", "web photos, 2-8 each, strangers", "tune", lfw_few("few-a", 21)),
    SetSpec("lfw-groups-a", "group photos", "tune", lfw_groups("groups-a", 61)),
    SetSpec("lfw-pairs-a", "2-3 photos each, strangers", "tune", lfw_pairs("pairs-a", 33)),
    SetSpec("lfw-small-a", "faces of 20-40 px in large photos", "tune",
            lfw_small("small-a", 43)),
    SetSpec("lfw-crowd-a", "crowds of 8-15 small faces", "tune", lfw_crowd("crowd-a", 53)),
    SetSpec("celeb5-val", "celebrities, 5 photos each", "test", celeb("val")),
    SetSpec("yale", "one sitting each, side light", "test", yale),
    SetSpec("bbt", "a TV cast, portraits and cast photos", "test", bbt),
    SetSpec("lfw-news-b", "news photos, 10-20 each", "test", lfw_news("news-b", 12)),
    SetSpec("lfw-few-b", "web photos, 2-8 each, strangers", "test", lfw_few("few-b", 22)),
    SetSpec("lfw-pairs", "2-3 photos each, strangers", "test", lfw_pairs("pairs", 31)),
    SetSpec("lfw-groups-b", "group photos", "test", lfw_groups("groups-b", 62)),
    SetSpec("lfw-small", "faces of 20-40 px in large photos", "test", lfw_small("small", 41)),
    SetSpec("lfw-crowd", "crowds of 8-15 small faces", "test", lfw_crowd("crowd", 51)),
)


def sources_dir() -> Path:
    return data_cache_dir().parent / "sources"


def sets_dir() -> Path:
    return data_cache_dir().parent / "quality-sets" / f"v{VERSION}"


def build(spec: SetSpec, sources: Path, dest_root: Path) -> Path:
    """The set's folder under `dest_root`, built once."""
    dest = dest_root / spec.name
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        spec.build(sources, dest)
        (dest / ".complete").touch()
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sources", type=Path, default=sources_dir())
    ap.add_argument("--dest", type=Path, default=sets_dir())
    ap.add_argument("names", nargs="*", help="only these sets")
    args = ap.parse_args()
    for spec in SETS:
        if args.names and spec.name not in args.names:
            continue
        folder = build(spec, args.sources, args.dest)
        photos = sum(1 for p in folder.rglob("*") if p.is_file() and p.suffix != ".json"
                     and not p.name.startswith("."))
        people = sum(1 for d in folder.iterdir() if d.is_dir() and d.name not in
                     ("groups", "crowds"))
        print(f"{spec.name:<14} {spec.split:<5} {photos:>5} photos {people:>4} folders  {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
