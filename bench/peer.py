"""Benchmark: facefold side by side with the peer, face_recognition + dlib, on labelled photos.

For each labelled folder (a sub-folder of photos per person, as `facefold evaluate` reads it;
`labels.json` for photos that show several people), in one run:

- facefold: the real `scan` (default config) of a fresh library holding the photos, models
  loaded and warmed before timing;
- the peer: `bench/peer_face_recognition.py` in `.venv-peer` (HOG detector, one upsample,
  `face_encodings`, Chinese whispers at 0.5, clusters of two faces or more as people).

Both are scored by the same code (`facefold.evaluate.photo_membership`): membership F1 photo by
photo with folders matched one to one to people, pairwise F1, people found against real ones
(people seen in one photo are strangers: no folder expected), photos/s, and the ratios. Apart,
what the scores leave out: passers-by (faces other than the largest of a photo labelled with
one person) that put their photo in a labelled person's folder ("astray"), and folders holding
passers-by alone.

    make peer                       # the 5-celebrity sets and the generated hard cases
    .venv/bin/python bench/peer.py [--peer-python .venv-peer/bin/python] [--copies] [SET_DIR …]

With `--copies`, each set is measured with 4 near-duplicates beside every photo
(`tests.helpers.hardcases.copies`, made once under the test-data cache): copies are no new
sighting, so someone in one original photo stays a stranger.

Last line: `vs peer: f1_min=X.XXX/Y.YYY speed=Z.Z×` (facefold's worst F1 / the peer's worst,
and facefold's photos/s over the peer's, all sets together).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.data import celebrity_photos, data_cache_dir  # noqa: E402
from tests.helpers.hardcases import copies, measured_sets  # noqa: E402

from facefold.config import load_settings  # noqa: E402
from facefold.core import Library, Models  # noqa: E402
from facefold.core.scan import scan  # noqa: E402
from facefold.core.training import labelled_photos  # noqa: E402
from facefold.db import faces as face_store  # noqa: E402
from facefold.evaluate import photo_membership  # noqa: E402


@dataclass(frozen=True)
class Side:
    f1: float
    pairwise: float
    folders: int
    people: int
    splits: int
    merges: int
    strays: int
    passer_folders: int
    photos: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.photos / self.seconds if self.seconds else 0.0


def score(faces: list[tuple[str, str | None, float]], root: Path, photos: int,
          seconds: float, extensions: tuple[str, ...]) -> Side:
    m, pairwise = photo_membership(faces, labelled_photos(root, extensions))
    return Side(m.f1, pairwise, m.folders, m.identities, len(m.splits), len(m.merges), m.strays,
                m.passer_folders, photos, seconds)


def facefold_side(root: Path, models: Models, work: Path) -> Side:
    work.mkdir(parents=True)
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump({"models_dir": str(load_settings(REPO / "config.yaml").models_dir)}))
    lib = Library(load_settings(cfg), models)
    shutil.copytree(root, lib.settings.inbox, ignore=shutil.ignore_patterns(".*"))
    lib.engine  # noqa: B018  # migrate before timing
    t0 = time.perf_counter()
    result = scan(lib)
    seconds = time.perf_counter() - t0
    with lib.session() as s:
        faces = [(Path(p).relative_to(lib.settings.inbox).as_posix(),
                  None if pid is None else f"p{pid}", area)
                 for p, pid, area in face_store.photo_faces(s)]
    lib.close()
    return score(faces, root, result.photos, seconds, lib.settings.decode.extensions)


def peer_sides(roots: list[Path], peer_python: Path, extensions: tuple[str, ...]) -> list[Side]:
    proc = subprocess.run([str(peer_python), str(REPO / "bench" / "peer_face_recognition.py"),
                           *map(str, roots)], capture_output=True, text=True, check=True)
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return [score([(p, f, a) for p, f, a in o["faces"]], root, o["photos"], o["seconds"],
                  extensions) for o, root in zip(out, roots, strict=True)]


def default_sets(models: Models) -> list[Path]:
    return measured_sets(celebrity_photos(load_settings(REPO / "config.yaml").models_dir),
                         models.finder)


def with_copies(root: Path) -> Path:
    """`root` with near-duplicates of every photo, made once under the test-data cache."""
    dest = data_cache_dir() / "copies" / "-".join(root.resolve().parts[-2:])
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        copies(root, dest)
        (dest / ".complete").touch()
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("sets", nargs="*", type=Path, help="labelled folders (default: see above)")
    ap.add_argument("--peer-python", type=Path, default=REPO / ".venv-peer" / "bin" / "python")
    ap.add_argument("--copies", action="store_true",
                    help="measure each set with 4 near-duplicates beside every photo")
    args = ap.parse_args()
    if not args.peer_python.exists():
        print(f"{args.peer_python} is missing: `make peer` creates it", file=sys.stderr)
        return 2
    settings = load_settings(REPO / "config.yaml")
    models = Models.from_settings(settings)
    models.load()
    roots = args.sets or default_sets(models)
    if args.copies:
        roots = [with_copies(r) for r in roots]
    with tempfile.TemporaryDirectory() as tmp:
        facefold_side(roots[0], models, Path(tmp) / "warm")  # traces the graphs, off the clock
        ours = [facefold_side(r, models, Path(tmp) / f"set{i}") for i, r in enumerate(roots)]
    theirs = peer_sides(roots, args.peer_python, settings.decode.extensions)
    print(f"{'set':<22} {'membership F1':>15} {'pairwise F1':>13} {'people found':>14} "
          f"{'splits/merges':>15} {'astray':>8} {'passers':>8} {'photos/s':>15} {'speed':>6}")
    print(f"{'':<22} {'facefold/peer':>15} {'facefold/peer':>13} {'ff/peer/real':>14} "
          f"{'ff | peer':>15} {'ff/peer':>8} {'ff/peer':>8} {'facefold/peer':>15}")
    for root, a, b in zip(roots, ours, theirs, strict=True):
        name = root.name if root.name not in ("train", "val") else f"{root.parent.name}/{root.name}"
        name += "+copies" if args.copies else ""
        print(f"{name[:22]:<22} {a.f1:>7.3f}/{b.f1:.3f} {a.pairwise:>6.3f}/{b.pairwise:.3f} "
              f"{a.folders:>5}/{b.folders}/{a.people:<4} {a.splits:>4}/{a.merges} | "
              f"{b.splits}/{b.merges}   {a.strays:>4}/{b.strays:<4}{a.passer_folders:>4}/"
              f"{b.passer_folders:<4} {a.rate:>6.1f}/{b.rate:<6.1f} "
              f"{a.rate / b.rate if b.rate else 0:>5.1f}×")
    speed = (sum(a.photos for a in ours) / sum(a.seconds for a in ours)) / (
        sum(b.photos for b in theirs) / sum(b.seconds for b in theirs))
    print(f"vs peer: f1_min={min(a.f1 for a in ours):.3f}/{min(b.f1 for b in theirs):.3f} "
          f"speed={speed:.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
