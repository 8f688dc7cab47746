"""Benchmark: who ends up in which folder, on labelled sets of many kinds, with the rule's
parameters chosen on other sets than the one measured; facefold beside the peer
(face_recognition + dlib) and beside the rule it replaced.

Each set of `bench/datasets.py` (plain, and with 4 near-copies of each photo) is scanned once by
the real pipeline into a library of its own under the test-data cache; its stored faces are then
clustered by people.cluster (as `facefold recluster --full` runs it) and scored photo by photo
(`facefold.evaluate.photo_membership`: membership F1, folders matched one to one to people,
people seen in one photo are strangers). The peer runs once per set in `.venv-peer`
(`make peer`) and is cached too.

Columns, per set: F1 with the configured parameters; F1 *held out*: with the parameters of
GRID that score best on every other set (the set and its copies left out together: a
leave-one-set-out), so the number says how the rule does on a library it was not chosen on; the
rule before (commit PREVIOUS, read from git history); the peer; folders and people; people
with 3 or more distinct photos left without a folder; people of 2 photos merged into someone
else's folder; the pairs `facefold suggest` would offer (of them, how many are one person). Then the means over the tune and the test sets and their gap.

    .venv/bin/python bench/quality.py [--copies | --both] [--loso] [--set KEY=VALUE …] [SET …]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from datasets import SETS, SetSpec, build, sets_dir, sources_dir  # noqa: E402
from tests.helpers.data import data_cache_dir  # noqa: E402
from tests.helpers.hardcases import copies  # noqa: E402

from facefold.config import load_settings  # noqa: E402
from facefold.core.training import labelled_photos  # noqa: E402
from facefold.evaluate import Membership, photo_membership  # noqa: E402
from facefold.people.cluster import ClusterParams  # noqa: E402

CACHE_VERSION = 2  # bump when what a scan stores for the bench changes


@dataclass(frozen=True)
class Faces:
    """One scanned set: its stored faces as arrays, row-aligned, and who each photo shows."""

    name: str
    spec: SetSpec
    copies: bool
    vectors: np.ndarray  # (N, 128) float32
    image_ids: np.ndarray  # the photo of each face
    quality: np.ndarray
    pixels: np.ndarray  # each face's vision.pixels signatures
    scenes: np.ndarray
    photos: list[str]  # each face's photo, relative to the set's folder
    areas: np.ndarray  # each face's box area
    truth: dict[str, set[str]] = field(default_factory=dict)  # photo → who it shows
    seconds: float = 0.0  # the scan's time


def _libraries_dir() -> Path:
    return data_cache_dir().parent / "quality-libs" / f"v{CACHE_VERSION}"


def _set_folder(spec: SetSpec, with_copies: bool) -> Path:
    plain = build(spec, sources_dir(), sets_dir())
    if not with_copies:
        return plain
    dest = sets_dir() / f"{spec.name}+copies"
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        copies(plain, dest)
        (dest / ".complete").touch()
    return dest


def scanned(spec: SetSpec, with_copies: bool, models: object | None = None) -> Faces:
    """The set's faces as the real pipeline stores them, scanned once (cached as .npz)."""
    from facefold.core import Library, Models
    from facefold.core.scan import scan
    from facefold.db import faces as face_store
    from facefold.db.models import Face, Image

    folder = _set_folder(spec, with_copies)
    name = folder.name
    cache = _libraries_dir() / f"{name}.npz"
    settings = load_settings(REPO / "config.yaml")
    truth = labelled_photos(folder, settings.decode.extensions)
    if not cache.exists():
        work = _libraries_dir() / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "config.yaml").write_text(yaml.safe_dump({
            "models_dir": str(settings.models_dir), "inbox": str(folder),
            "people": str(work / "people"), "state_dir": str(work / "state"),
            "database": f"sqlite:///{work / 'state' / 'facefold.db'}"}))
        lib = Library(load_settings(work / "config.yaml"),
                      models if isinstance(models, Models) else None)
        t0 = time.perf_counter()
        scan(lib)
        seconds = time.perf_counter() - t0
        with lib.session() as s:
            fm = face_store.face_matrix(s)
            pixels, scenes = face_store.face_signatures(s, fm.face_ids.tolist())
            where = dict(s.query(Face.id, Image.path).join(Image, Image.id == Face.image_id))
            area = dict(s.query(Face.id, Face.box_w * Face.box_h))
        lib.close()
        np.savez_compressed(
            cache, vectors=fm.vectors, image_ids=fm.image_ids, quality=fm.quality,
            pixels=pixels, scenes=scenes, seconds=seconds,
            photos=np.array([Path(where[int(f)]).relative_to(folder).as_posix()
                             for f in fm.face_ids]),
            areas=np.array([area[int(f)] for f in fm.face_ids], np.float64))
        shutil.rmtree(work, ignore_errors=True)
    z = np.load(cache)
    return Faces(name, spec, with_copies, z["vectors"], z["image_ids"], z["quality"],
                 z["pixels"], z["scenes"], [str(p) for p in z["photos"]],
                 z["areas"], truth, float(z["seconds"]))


def membership(faces: Faces, labels: np.ndarray) -> Membership:
    """Score per-face labels (-1: nobody) of a scanned set, photo by photo."""
    rows = [(p, None if lab < 0 else f"c{lab}", float(a))
            for p, lab, a in zip(faces.photos, labels.tolist(), faces.areas.tolist(),
                                 strict=True)]
    return photo_membership(rows, faces.truth)[0]


def peer(faces: Faces, peer_python: Path) -> Membership | None:
    """The peer's membership on the same photos (cached); None when `.venv-peer` is missing."""
    cache = _libraries_dir() / f"{faces.name}.peer.json"
    if not cache.exists():
        if not peer_python.exists():
            return None
        folder = _set_folder(faces.spec, faces.copies)
        out = subprocess.run([str(peer_python), str(REPO / "bench" / "peer_face_recognition.py"),
                              str(folder)], capture_output=True, text=True, check=True).stdout
        cache.write_text(next(line for line in out.splitlines() if line.startswith("{")))
    found = json.loads(cache.read_text())
    return photo_membership([(p, f, a) for p, f, a in found["faces"]], faces.truth)[0]


Rule = Callable[[Faces], np.ndarray]


def facefold_rule(params: ClusterParams) -> Rule:
    """people.cluster with `params`, as a full recluster runs it on a library's faces."""
    from facefold.people.cluster import cluster_faces, signatures_of

    def run(f: Faces) -> np.ndarray:
        return cluster_faces(f.vectors, f.image_ids, params, f.quality,
                             signatures=signatures_of(f.pixels, f.scenes))
    return run


PREVIOUS = "71a9014"  # main before issue 29: 22 clustering parameters


def previous_rule() -> Rule:
    """The clustering rule of commit PREVIOUS with its defaults, read from git history."""
    import importlib.util
    import tempfile

    source = subprocess.run(["git", "-C", str(REPO), "show",
                             f"{PREVIOUS}:daemon/facefold/people/cluster.py"],
                            capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "previous_cluster.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("previous_cluster", path)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # its dataclasses look themselves up there
    spec.loader.exec_module(old)

    def run(f: Faces) -> np.ndarray:
        side = np.sqrt(f.areas)  # passers-by: each face's size over its photo's largest face's
        largest = np.zeros(int(f.image_ids.max()) + 1 if len(f.image_ids) else 0)
        np.maximum.at(largest, f.image_ids, side)
        return np.asarray(old.cluster_faces(
            f.vectors, f.image_ids, old.ClusterParams(), f.quality, pixels=f.pixels,
            scenes=f.scenes, shares=side / np.maximum(largest[f.image_ids], 1e-9)))
    return run


# the parameters the leave-one-set-out chooses among: the three the rule's outcome turns on
GRID = {"merge_distance": (0.7, 0.75, 0.8), "face_noise": (0.15, 0.2, 0.25),
        "small_face_noise": (0.0, 1.0, 2.0, 3.0)}


@dataclass(frozen=True)
class Row:
    faces: Faces
    configured: Membership
    held_out: Membership | None
    held_out_params: str
    previous: Membership | None
    peer: Membership | None
    suggested: tuple[int, int] = (0, 0)  # (pairs of one person, pairs offered)


def _people(faces: Faces) -> dict[str, set[str]]:
    """Each labelled person's distinct photos (copies of one photo count once)."""
    out: dict[str, set[str]] = {}
    for photo, who in faces.truth.items():
        for w in who:
            if "@" not in w:  # a stranger's copy, labelled apart by tests.helpers.hardcases
                out.setdefault(w, set()).add(re.sub(r"-d\d+(\.\w+)$", r"\1", photo))
    return out


def left_without_folder(faces: Faces, m: Membership) -> int:
    """People with 3 or more distinct photos who have no folder."""
    return sum(1 for w, ps in _people(faces).items()
               if len(ps) >= 3 and w not in m.matched.values())


def pairs_merged(faces: Faces, m: Membership) -> int:
    """People of exactly 2 distinct photos whose photos are in a folder matched to someone
    else."""
    merged = 0
    for w, ps in _people(faces).items():
        if len(ps) == 2:
            merged += any(w in ids[1:] for ids in m.merges.values())
    return merged


def suggested(faces: Faces, labels: np.ndarray, params: ClusterParams,
               max_distance: float) -> tuple[int, int]:
    """What `facefold suggest` would offer after this clustering: (pairs of one person, pairs
    offered). A folder is taken to show the person most of its photos show."""
    from collections import Counter

    from facefold.people.assign import Persons, doubtful_pairs

    persons = Persons.of(faces.vectors, labels, faces.image_ids, faces.quality, params)
    pairs = doubtful_pairs(persons, params, max_distance)
    shows: dict[int, Counter[str]] = {}
    for lab, photo in zip(labels.tolist(), faces.photos, strict=True):
        if lab >= 0:
            shows.setdefault(lab, Counter()).update(faces.truth.get(photo, set()))
    who = {lab: c.most_common(1)[0][0] if c else "" for lab, c in shows.items()}
    return sum(1 for a, b, _ in pairs if who.get(a) and who.get(a) == who.get(b)), len(pairs)


def loso(sets: Sequence[Faces]) -> dict[str, tuple[str, Membership]]:
    """For each set, the membership with the GRID parameters that score best (mean F1) on the
    other sets (a set and its copies left out together), and which they were."""
    from dataclasses import replace

    base = ClusterParams()
    combos = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    scores: dict[tuple[int, str], Membership] = {}
    for k, combo in enumerate(combos):
        rule = facefold_rule(replace(base, **combo))
        for f in sets:
            scores[(k, f.name)] = membership(f, rule(f))
    out = {}
    for f in sets:
        family = f.name.replace("+copies", "")
        rest = [g.name for g in sets if g.name.replace("+copies", "") != family]
        best = max(range(len(combos)), key=lambda k: np.mean([scores[(k, r)].f1 for r in rest]))
        out[f.name] = (" ".join(f"{v}" for v in combos[best].values()), scores[(best, f.name)])
    return out


def table(rows: Sequence[Row]) -> None:
    print(f"{'set':<22} {'kind':<36} {'split':<5} {'F1':>6} {'held':>6} {'before':>6} "
          f"{'peer':>6} {'folders':>8} {'3+ no':>5} {'2 in':>4} {'suggest':>7}")
    cols: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        f, m = r.faces, r.configured
        vals = {"F1": m.f1, "held": r.held_out.f1 if r.held_out else np.nan,
                "before": r.previous.f1 if r.previous else np.nan,
                "peer": r.peer.f1 if r.peer else np.nan}
        print(f"{f.name:<22} {f.spec.kind[:36]:<36} {f.spec.split:<5} "
              + " ".join(f"{vals[k]:>6.3f}" for k in ("F1", "held", "before", "peer"))
              + f" {m.folders:>4}/{m.identities:<3} {left_without_folder(f, m):>5} "
                f"{pairs_merged(f, m):>4} {r.suggested[0]:>3}/{r.suggested[1]:<3}")
        for k, v in vals.items():
            cols.setdefault(f.spec.split, {}).setdefault(k, []).append(v)
    for split in ("tune", "test"):
        if split in cols:
            c = cols[split]
            print(f"mean {split:<5} ({len(c['F1'])}){'':<49}"
                  + " ".join(f"{np.nanmean(c[k]):>6.3f}" for k in ("F1", "held", "before",
                                                                    "peer"))
                  + f"   worst {min(c['F1']):.3f}")
    if "tune" in cols and "test" in cols:
        print(f"gap tune - test: {np.nanmean(cols['tune']['F1']) - np.nanmean(cols['test']['F1']):+.3f}")


def main() -> int:
    from facefold.core.clusterer import cluster_params

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("names", nargs="*", help="only these sets (bench/datasets.py)")
    ap.add_argument("--copies", action="store_true", help="each photo with 4 near-copies")
    ap.add_argument("--both", action="store_true", help="plain and with copies")
    ap.add_argument("--loso", action="store_true", help="the held-out column (slow: GRID)")
    ap.add_argument("--previous", action="store_true", help="the rule before (from git)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a clustering setting of config.yaml")
    ap.add_argument("--peer-python", type=Path, default=REPO / ".venv-peer" / "bin" / "python")
    args = ap.parse_args()
    config = yaml.safe_load((REPO / "config.yaml").read_text()) or {}
    for kv in args.set:
        key, _, value = kv.partition("=")
        config.setdefault("clustering", {})[key] = yaml.safe_load(value)
    tmp = _libraries_dir() / "bench-config.yaml"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(yaml.safe_dump(config))
    configured = load_settings(tmp)
    params = cluster_params(configured)
    rule = facefold_rule(params)
    variants = [False, True] if args.both else [args.copies]
    models = None
    sets = []
    for with_copies in variants:
        for spec in SETS:
            if args.names and spec.name not in args.names:
                continue
            cache = _libraries_dir() / f"{spec.name}{'+copies' if with_copies else ''}.npz"
            if not cache.exists() and models is None:
                from facefold.core import Models

                models = Models.from_settings(load_settings(REPO / "config.yaml"))
                models.load()
            sets.append(scanned(spec, with_copies, models))
    held = loso(sets) if args.loso else {}
    before = previous_rule() if args.previous else None
    rows = []
    for f in sets:
        labels = rule(f)
        rows.append(Row(f, membership(f, labels), held[f.name][1] if f.name in held else None,
                        held[f.name][0] if f.name in held else "",
                        membership(f, before(f)) if before else None, peer(f, args.peer_python),
                        suggested(f, labels, params, configured.clustering.suggest_distance)))
    table(rows)
    if held:
        print("held-out parameters (" + " ".join(GRID) + "): "
              + "; ".join(f"{r.faces.name} {r.held_out_params}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
