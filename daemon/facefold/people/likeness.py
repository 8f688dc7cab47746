"""Faces in an order a person can act on: runs of faces that look alike, the closest first.

Used for the faces of nobody: a person seen in several photos the clustering left alone (weak
faces, copies of one photo) shows as one run, ticked and made a person in one go.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facefold.people.cluster import NEIGHBOURS, knn


@dataclass(frozen=True)
class Run:
    """Positions of faces that look alike (one face: a run of one), and how close the closest
    two of them are (None for a run of one)."""

    members: tuple[int, ...]
    closest: float | None


def alike_runs(vectors: np.ndarray, image_ids: np.ndarray, max_distance: float) -> list[Run]:
    """Unit face vectors in runs: faces join (single linkage, along the k-nearest-neighbour
    graph) when closer than `max_distance`, never two faces of one photo in one run. Runs of
    several first, the tightest first; then single faces, those with the nearest neighbour
    first. Within a run, faces follow the order they joined in."""
    n = len(vectors)
    if n == 0:
        return []
    idx, dist = knn(vectors, min(NEIGHBOURS, n - 1))
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols, d = idx.ravel(), dist.ravel()
    keep = (cols >= 0) & (d < max_distance)
    edges = sorted(zip(d[keep].tolist(), rows[keep].tolist(), cols[keep].tolist(), strict=True))
    root = list(range(n))
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    photos: dict[int, set[int]] = {i: {int(image_ids[i])} for i in range(n)}
    closest: dict[int, float] = {}

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for dd, a, b in edges:
        ra, rb = find(a), find(b)
        if ra == rb or photos[ra] & photos[rb]:
            continue
        root[rb] = ra
        members[ra] += members.pop(rb)
        photos[ra] |= photos.pop(rb)
        closest[ra] = min(closest.get(ra, dd), closest.pop(rb, dd))
    nearest = np.where(idx[:, 0] >= 0, dist[:, 0], np.inf) if idx.shape[1] else np.full(n, np.inf)
    runs = [Run(tuple(m), closest.get(r)) for r, m in members.items()]
    return sorted(runs, key=lambda r: (len(r.members) == 1,
                                       r.closest if r.closest is not None
                                       else float(nearest[r.members[0]]), r.members[0]))
