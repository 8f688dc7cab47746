"""Benchmark: facefold's rule against simple, known clustering methods, on the sets of
`bench/quality.py` (its cached scans), each method's parameters chosen leave-one-set-out.

Every method sees what facefold's rule sees: the faces' vectors and quality, with copies of one
photo already made one unit (people.cluster.copy_units, so that no method loses for not
knowing copies); none puts two faces of one photo in one person; a person needs two units.

- `average-linkage`: the issue's three-parameter baseline. Average linkage over the faces of
  quality ≥ 0.4, cut at `cut`; every other face joins the nearest centre within `attach`.
- `chinese-whispers`: label propagation on the 10-NN graph, edges under `edge`.
- `infomap`: the map equation on the 10-NN graph (FaceMap, 2022), edges under `edge`.
- `hdbscan`: HDBSCAN alone, `min_cluster_size` 2 or 3.
- `finch`: FINCH's first, second or third partition (parameter-free but for that).
- `facefold`: people.cluster, its GRID as bench/quality.py chooses among.
- `method: hdbscan`: people.cluster with `clustering.method: hdbscan` (the daemon's other
  method: HDBSCAN over the units, then the same cannot-links and step 3).

For each set, the method runs with the parameters that score best (mean membership F1) on all
the other sets (a set and its copies left out together); the table shows that held-out F1,
then the means over the tune and the test sets and the worst set.

    .venv/bin/pip install -e '.[bench]'   # infomap, chinese-whispers, finch-clust, networkx
    .venv/bin/python bench/methods.py [--only METHOD …]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from quality import GRID, SETS, Faces, _libraries_dir, membership, scanned  # noqa: E402

from facefold.people.cluster import (  # noqa: E402
    NOISE,
    ClusterParams,
    cluster_faces,
    copy_units,
    graph_pairs,
    knn,
    signatures_of,
)

Method = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(unit vectors, unit quality, unit photo sets as one id per unit) → unit labels."""


def units_of(f: Faces) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[set[int]]]:
    """Each face's unit, and per unit its vector (the normalised mean), quality (best) and
    photos."""
    units = copy_units(f.vectors, f.image_ids, ClusterParams(), signatures_of(f.pixels, f.scenes),
                       f.quality)
    u = int(units.max()) + 1
    sums = np.zeros((u, f.vectors.shape[1]))
    np.add.at(sums, units, f.vectors.astype(np.float64))
    uv = (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)
    uq = np.zeros(u)
    np.maximum.at(uq, units, f.quality)
    photos: list[set[int]] = [set() for _ in range(u)]
    for k, ph in zip(units.tolist(), f.image_ids.tolist(), strict=True):
        photos[k].add(int(ph))
    return units, uv, uq, photos


def finish(vectors: np.ndarray, labels: np.ndarray, photos: list[set[int]]) -> np.ndarray:
    """No two units sharing a photo in one person (the unit farther from its person's centre
    leaves), and a person needs two units."""
    labels = labels.copy()
    for lab in np.unique(labels[labels != NOISE]):
        rows = np.flatnonzero(labels == lab)
        centre = vectors[rows].mean(axis=0)
        seen: set[int] = set()
        for r in rows[np.argsort(np.linalg.norm(vectors[rows] - centre, axis=1))]:
            if photos[r] & seen:
                labels[r] = NOISE
            seen |= photos[r]
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    labels[np.isin(labels, ids[counts < 2])] = NOISE
    return labels


def average_linkage(cut: float, attach: float) -> Method:
    def run(v: np.ndarray, q: np.ndarray, photos: list[set[int]]) -> np.ndarray:
        from scipy.cluster.hierarchy import fcluster, linkage

        labels = np.full(len(v), NOISE)
        strong = np.flatnonzero(q >= 0.4)
        if len(strong) >= 2:
            labels[strong] = fcluster(linkage(v[strong].astype(np.float64), "average"), cut,
                                      criterion="distance")
        labels = finish(v, labels, photos)
        ids = np.unique(labels[labels != NOISE])
        if len(ids):
            centres = np.stack([v[labels == i].mean(axis=0) for i in ids])
            held = {int(i): set().union(*(photos[r] for r in np.flatnonzero(labels == i)))
                    for i in ids}
            loose = np.flatnonzero(labels == NOISE)
            d = np.linalg.norm(v[loose, None] - centres[None], axis=2)
            for k in np.argsort(d.min(axis=1)).tolist():
                j = int(np.argmin(d[k]))
                if d[k, j] < attach and not photos[loose[k]] & held[int(ids[j])]:
                    labels[loose[k]] = ids[j]
                    held[int(ids[j])] |= photos[loose[k]]
        return labels
    return run


def _graph(v: np.ndarray, edge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    idx, _ = knn(v)
    a, b = graph_pairs(idx)
    s = np.einsum("ij,ij->i", v[a], v[b])
    keep = np.sqrt(np.maximum(2 - 2 * s, 0)) < edge
    return a[keep], b[keep], s[keep]


def chinese_whispers(edge: float) -> Method:
    def run(v: np.ndarray, q: np.ndarray, photos: list[set[int]]) -> np.ndarray:
        import networkx as nx
        from chinese_whispers import chinese_whispers as cw

        a, b, s = _graph(v, edge)
        g = nx.Graph()
        g.add_nodes_from(range(len(v)))
        g.add_weighted_edges_from(zip(a.tolist(), b.tolist(), s.tolist(), strict=True))
        cw(g, weighting="top", iterations=20, seed=1)
        return finish(v, np.array([g.nodes[i]["label"] for i in range(len(v))]), photos)
    return run


def infomap(edge: float) -> Method:
    def run(v: np.ndarray, q: np.ndarray, photos: list[set[int]]) -> np.ndarray:
        import infomap as im

        a, b, s = _graph(v, edge)
        m = im.Infomap("--two-level --silent --num-trials 3 --seed 1")
        for i in range(len(v)):
            m.add_node(i)
        for x, y, w in zip(a.tolist(), b.tolist(), s.tolist(), strict=True):
            m.add_link(x, y, max(w, 1e-6))
            m.add_link(y, x, max(w, 1e-6))
        m.run()
        labels = np.full(len(v), NOISE)
        for node, module in m.get_modules().items():
            labels[node] = module
        return finish(v, labels, photos)
    return run


def hdbscan_alone(min_cluster_size: int) -> Method:
    def run(v: np.ndarray, q: np.ndarray, photos: list[set[int]]) -> np.ndarray:
        import hdbscan

        if len(v) <= min_cluster_size:
            return np.full(len(v), NOISE)
        labels = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, min_samples=1).fit_predict(
            v.astype(np.float64))
        return finish(v, labels, photos)
    return run


def finch(level: int) -> Method:
    def run(v: np.ndarray, q: np.ndarray, photos: list[set[int]]) -> np.ndarray:
        from finch import FINCH

        if len(v) < 3:
            return np.full(len(v), NOISE)
        c, _, _ = FINCH(v, distance="cosine", verbose=False)
        return finish(v, c[:, min(level, c.shape[1] - 1)], photos)
    return run


FAMILIES: dict[str, dict[str, Method]] = {
    "average-linkage": {f"cut {c} attach {a}": average_linkage(c, a)
                        for c in (0.85, 0.9, 0.95, 1.0) for a in (0.9, 1.0, 1.1)},
    "chinese-whispers": {f"edge {e}": chinese_whispers(e) for e in (0.8, 0.85, 0.9, 0.95, 1.0)},
    "infomap": {f"edge {e}": infomap(e) for e in (0.9, 1.0, 1.1, 1.2)},
    "hdbscan": {f"min_cluster_size {m}": hdbscan_alone(m) for m in (2, 3)},
    "finch": {f"partition {k + 1}": finch(k) for k in (0, 1, 2)},
}


def hdbscan_setting() -> dict[str, Callable[[Faces], np.ndarray]]:
    """`clustering.method: hdbscan`, as the daemon runs it."""
    return {f"min_cluster_size {m}": (
        lambda f, p=replace(ClusterParams(), method="hdbscan", hdbscan_min_cluster_size=m):
        cluster_faces(f.vectors, f.image_ids, p, f.quality,
                      signatures=signatures_of(f.pixels, f.scenes))) for m in (2, 3)}


def facefold_family() -> dict[str, Callable[[Faces], np.ndarray]]:
    out = {}
    for values in itertools.product(*GRID.values()):
        params = replace(ClusterParams(), **dict(zip(GRID, values, strict=True)))
        out[" ".join(f"{v}" for v in values)] = (
            lambda f, p=params: cluster_faces(f.vectors, f.image_ids, p, f.quality,
                                              signatures=signatures_of(f.pixels, f.scenes)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--only", nargs="*", help="only these methods")
    args = ap.parse_args()
    sets = [scanned(spec, cp) for cp in (False, True) for spec in SETS
            if (_libraries_dir() / f"{spec.name}{'+copies' if cp else ''}.npz").exists()]
    if not sets:
        print("no scanned sets: run bench/quality.py --both first")
        return 1
    units = {f.name: units_of(f) for f in sets}
    families: dict[str, dict[str, Callable[[Faces], np.ndarray]]] = {
        "facefold": facefold_family(), "method: hdbscan": hdbscan_setting()}
    for name, cfgs in FAMILIES.items():
        families[name] = {
            k: (lambda f, m=m: (lambda u: m(u[1], u[2], u[3])[u[0]])(units[f.name]))
            for k, m in cfgs.items()}
    print(f"{'method':<18} {'tune':>6} {'test':>6} {'worst':>6}  held-out F1 per set")
    for name, cfgs in families.items():
        if args.only and name not in args.only:
            continue
        f1 = {(k, f.name): membership(f, run(f)).f1 for k, run in cfgs.items() for f in sets}
        held = {}
        for f in sets:
            family = f.name.replace("+copies", "")
            rest = [g.name for g in sets if g.name.replace("+copies", "") != family]
            best = max(cfgs, key=lambda k: np.mean([f1[(k, r)] for r in rest]))
            held[f.name] = f1[(best, f.name)]
        tune = [held[f.name] for f in sets if f.spec.split == "tune"]
        test = [held[f.name] for f in sets if f.spec.split == "test"]
        print(f"{name:<18} {np.mean(tune):>6.3f} {np.mean(test):>6.3f} {min(held.values()):>6.3f}  "
              + " ".join(f"{f.name}={held[f.name]:.3f}" for f in sets), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
