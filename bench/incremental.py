"""Benchmark: a daemon given photos one at a time against a batch `scan` of the same photos.

For each labelled folder (as `facefold evaluate` reads it), the photos are scanned once into a
fresh library (the batch, scored as `bench/peer.py` scores it). Its stored faces (vectors,
quality, pixel signatures) are then handed to fresh libraries photo by photo, in random order,
the daemon's clusterer taking an idle turn after each (`Clusterer.step(idle=True)`), as a daemon
does when photos arrive slower than it sorts them. Two ways:

- `daemon`: the default config, from an empty library. Up to
  `clustering.full_when_idle_max_faces` an idle daemon reclusters everything;
- `large`: as a library past that size, where new faces are placed one by one (and wait in the
  pool): the idle full recluster off, the first `--first` share (default 0.9) of the photos
  clustered in full, then the rest one at a time.

Each over `--orders` random orders (default 3). Detection and FaceNet run once per set, in the
batch: what differs is only the clustering path.

    .venv/bin/python bench/incremental.py [--first 0.9] [--orders 3] [SET_DIR …]

Last line: `incremental: worst_gap=±X.XXX` (the largest F1 drop of either way from its batch,
all sets).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.data import celebrity_photos  # noqa: E402
from tests.helpers.hardcases import measured_sets  # noqa: E402

from facefold.config import Settings, load_settings  # noqa: E402
from facefold.core import Library, Models  # noqa: E402
from facefold.core.clusterer import Clusterer  # noqa: E402
from facefold.core.scan import scan  # noqa: E402
from facefold.core.training import labelled_photos  # noqa: E402
from facefold.db import faces as face_store  # noqa: E402
from facefold.db import queue  # noqa: E402
from facefold.db.faces import NewFace  # noqa: E402
from facefold.db.models import Face, Image  # noqa: E402
from facefold.evaluate import Membership, photo_membership  # noqa: E402


@dataclass(frozen=True)
class Photo:
    path: str  # relative to the set's root
    sha256: str  # byte-identical photos share one set of faces, as in a library
    faces: list[NewFace]
    size: tuple[int, int]  # (width, height)
    pixels: bytes | None  # the photo's signature: copies are known by it


def settings_in(work: Path, clustering: Mapping[str, object] | None = None) -> Settings:
    work.mkdir(parents=True)
    cfg: dict[str, object] = {"models_dir": str(load_settings(REPO / "config.yaml").models_dir)}
    if clustering:
        cfg["clustering"] = dict(clustering)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    return load_settings(work / "config.yaml")


def membership(lib: Library, root: Path, prefix: Path) -> Membership:
    with lib.session() as s:
        faces = [(Path(p).relative_to(prefix).as_posix(), None if pid is None else f"p{pid}", a)
                 for p, pid, a in face_store.photo_faces(s)]
    return photo_membership(faces, labelled_photos(root, lib.settings.decode.extensions))[0]


def batch(root: Path, models: Models, work: Path) -> tuple[Membership, list[Photo]]:
    """Scan the folder into a fresh library: its score, and its photos with their faces."""
    from sqlalchemy import select
    from sqlalchemy.orm import undefer

    lib = Library(settings_in(work), models)
    shutil.copytree(root, lib.settings.inbox, ignore=shutil.ignore_patterns(".*"))
    scan(lib)
    shas: dict[str, str] = {}
    looks: dict[str, tuple[tuple[int, int], bytes | None]] = {}  # sha256 → (size, signature)
    content: dict[str, list[NewFace]] = {}
    with lib.session() as s:
        for img in s.scalars(select(Image).options(undefer(Image.pixels)).order_by(Image.path)):
            shas[Path(img.path).relative_to(lib.settings.inbox).as_posix()] = str(img.sha256)
            if img.pixels is not None:
                looks[str(img.sha256)] = ((img.width or 1, img.height or 1), img.pixels)
        rows = s.execute(select(Face, Image.sha256).join(Image).options(undefer(Face.pixels))
                         .order_by(Face.id))
        for face, sha in rows:
            content.setdefault(str(sha), []).append(NewFace(
                (face.box_x, face.box_y, face.box_w, face.box_h), [[0.0, 0.0]] * 5,
                face.confidence, np.frombuffer(face.embedding, np.float32).copy(), face.weights,
                face.quality, face.sharpness, face.yaw, face.pixels))
    m = membership(lib, root, lib.settings.inbox)
    lib.close()
    return m, [Photo(p, sha, content.get(sha, []), *looks.get(sha, ((1, 1), None)))
               for p, sha in shas.items()]


def one_at_a_time(root: Path, photos: list[Photo], settings: Settings, first: float,
                  seed: int) -> Membership:
    """Hand the photos to a fresh library in a random order: the first `first` share at once,
    clustered in full, then one photo at a time with an idle turn of the clusterer after each."""
    inbox = settings.inbox
    order = np.random.default_rng(seed).permutation(len(photos))
    head = int(len(photos) * first)
    lib = Library(settings)
    clusterer = Clusterer(settings)

    seen: set[str] = set()

    def add(s: Session, k: int) -> None:
        p = photos[k]
        if p.sha256 in seen:  # a byte-identical copy: no faces of its own
            queue.record_duplicate(s, str(inbox / p.path), p.sha256, 1, 0.0)
        else:
            queue.record_processed(s, str(inbox / p.path), p.sha256, 1, 0.0, *p.size, p.faces,
                                   p.pixels)
            seen.add(p.sha256)

    with lib.session() as s:
        for k in order[:head]:
            add(s, int(k))
        s.commit()
        clusterer.load(s)
        if head:
            clusterer.full(s)
        s.commit()
    for k in order[head:]:
        with lib.session() as s:
            add(s, int(k))
            s.commit()
            clusterer.step(s, idle=True)
            s.commit()
    m = membership(lib, root, inbox)
    lib.close()
    return m


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("sets", nargs="*", type=Path)
    ap.add_argument("--first", type=float, default=0.9,
                    help="share of the photos clustered in full before the rest come one by one "
                         "(the `large` way)")
    ap.add_argument("--orders", type=int, default=3, help="random orders per set and way")
    args = ap.parse_args()
    settings = load_settings(REPO / "config.yaml")
    celeb = celebrity_photos(settings.models_dir)
    models = Models.from_settings(settings)
    models.load()
    sets = args.sets or measured_sets(celeb, models.finder)
    ways: dict[str, tuple[dict[str, object], float]] = {
        "daemon": ({}, 0.0), "large": ({"full_when_idle_max_faces": 0}, args.first)}
    worst = 0.0
    print(f"{'set':<24} {'batch':>13}  " + "  ".join(f"{w:>24}" for w in ways))
    with tempfile.TemporaryDirectory() as tmp:
        for n, root in enumerate(sets):
            b, photos = batch(root, models, Path(tmp) / f"{n}-batch")
            cells = []
            for way, (clustering, first) in ways.items():
                f1 = [one_at_a_time(root, photos, settings_in(Path(tmp) / f"{n}-{way}-{seed}",
                                                              clustering), first, seed).f1
                      for seed in range(args.orders)]
                mean = float(np.mean(f1))
                worst = max(worst, b.f1 - mean)
                cells.append(f"{mean:.3f} ({min(f1):.3f}-{max(f1):.3f}) {mean - b.f1:+.3f}")
            print(f"{root.parent.name + '/' + root.name:<24} {b.f1:.3f} ({b.folders:>2}/"
                  f"{b.identities:>2})  " + "  ".join(f"{c:>24}" for c in cells), flush=True)
    print(f"incremental: worst_gap={-worst:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
