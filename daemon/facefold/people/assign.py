"""Pure bookkeeping: which existing person each new cluster is, so ids and names survive reclusters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Set
from dataclasses import dataclass

import numpy as np


def match_clusters(clusters: Mapping[int, Set[int]],
                   persons: Mapping[int, Set[int]]) -> dict[int, int | None]:
    """Given cluster label → face ids and person id → face ids, return cluster label → person id
    (None: a new person).

    Pairs are taken greedily by the number of faces they share (ties: older person first); a person
    goes to at most one cluster and only when they share a face.
    """
    face_person = {f: pid for pid, faces in persons.items() for f in faces}
    overlap: dict[tuple[int, int], int] = {}
    for lab, faces in clusters.items():
        for f in faces:
            pid = face_person.get(f)
            if pid is not None:
                overlap[(lab, pid)] = overlap.get((lab, pid), 0) + 1
    result: dict[int, int | None] = {lab: None for lab in clusters}
    used: set[int] = set()
    for (lab, pid), _n in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if result[lab] is None and pid not in used:
            result[lab] = pid
            used.add(pid)
    return result


@dataclass(frozen=True)
class AssignParams:
    max_distance: float = 1.0  # neighbours farther than this do not count
    neighbours: int = 8  # how many nearest assigned faces vote
    min_support: int = 2  # votes a person needs (at most its own number of faces)


def assign_to_persons(queries: np.ndarray, query_photos: np.ndarray, vectors: np.ndarray,
                      persons: np.ndarray, photos: np.ndarray,
                      params: AssignParams) -> list[int | None]:
    """Given new unit vectors (and their photo ids) and the assigned faces (vectors, person ids
    with -1 for none, photo ids), return a person id or None for each new face.

    A face goes to the person with most votes among its `neighbours` nearest assigned faces within
    `max_distance` (ties: the nearer), when that person has at least min(`min_support`, its size)
    votes and no face in the same photo (including faces assigned earlier in this call).
    """
    out: list[int | None] = [None] * len(queries)
    mask = persons >= 0
    if not mask.any() or len(queries) == 0:
        return out
    vecs, pers, phs = vectors[mask], persons[mask], photos[mask]
    sizes = Counter(pers.tolist())
    taken: set[tuple[int, int]] = set(zip(pers.tolist(), phs.tolist(), strict=True))
    sq = np.maximum(0.0, 2.0 - 2.0 * (queries @ vecs.T))  # squared distances, unit vectors
    k = min(params.neighbours, vecs.shape[0])
    near = np.argpartition(sq, k - 1, axis=1)[:, :k] if k < vecs.shape[0] else \
        np.broadcast_to(np.arange(vecs.shape[0]), (len(queries), vecs.shape[0]))
    limit = params.max_distance ** 2
    for i in range(len(queries)):
        idx = near[i][sq[i, near[i]] <= limit]
        if len(idx) == 0:
            continue
        votes: dict[int, list[float]] = {}
        for j in idx:
            votes.setdefault(int(pers[j]), []).append(float(sq[i, j]))
        ranked = sorted(votes.items(), key=lambda kv: (-len(kv[1]), min(kv[1])))
        for pid, ds in ranked:
            if len(ds) < min(params.min_support, sizes[pid]):
                break
            if (pid, int(query_photos[i])) in taken:
                continue
            out[i] = pid
            taken.add((pid, int(query_photos[i])))
            break
    return out


def fits_person(cluster: np.ndarray, cluster_photos: set[int], sums: dict[int, np.ndarray],
                counts: dict[int, int], person_photos: dict[int, set[int]],
                merge_distance: float) -> int | None:
    """Return the existing person a new cluster of unit vectors belongs to: the one with the
    smallest root-mean-square face distance below `merge_distance` and no photo in common."""
    if not sums:
        return None
    s = cluster.sum(axis=0, dtype=np.float64)
    best, best_d = None, merge_distance ** 2
    for pid, psum in sums.items():
        ms = 2.0 - 2.0 * float(s @ psum) / (len(cluster) * counts[pid])
        if ms < best_d and not (cluster_photos & person_photos.get(pid, set())):
            best, best_d = pid, ms
    return best


def nearest_named(queries: np.ndarray, vectors: np.ndarray, persons: np.ndarray,
                  named: Set[int], max_distance: float,
                  query_photos: np.ndarray | None = None,
                  photos: np.ndarray | None = None) -> list[tuple[int | None, float]]:
    """The identify rule: each query is the named person whose nearest face is within
    `max_distance` (with that distance), else None. Given photo ids, a person never takes a
    second face of a photo it already has a face in (earlier queries included)."""
    only_named = np.where(np.isin(persons, np.fromiter(named, np.int64, len(named))), persons, -1)
    found = nearest_person(queries, vectors, only_named, max_distance)
    if query_photos is None or photos is None:
        return found
    taken = set(zip(persons.tolist(), photos.tolist(), strict=True))
    out: list[tuple[int | None, float]] = []
    for (pid, d), photo in zip(found, query_photos.tolist(), strict=True):
        if pid is not None and (pid, photo) in taken:
            pid = None
        if pid is not None:
            taken.add((pid, photo))
        out.append((pid, d))
    return out


def nearest_person(queries: np.ndarray, vectors: np.ndarray, persons: np.ndarray,
                   max_distance: float) -> list[tuple[int | None, float]]:
    """For each query, the person of its nearest face among `vectors` (persons -1 are skipped) and
    that distance; the person is None when the distance exceeds `max_distance` or no face has one."""
    mask = persons >= 0
    if not mask.any():
        return [(None, float("inf")) for _ in range(len(queries))]
    vecs, pers = vectors[mask], persons[mask]
    sims = queries @ vecs.T
    j = sims.argmax(axis=1)
    d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims[np.arange(len(queries)), j]))
    return [(int(pers[k]) if d[i] <= max_distance else None, float(d[i]))
            for i, k in enumerate(j)]
