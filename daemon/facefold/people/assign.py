"""Pure rules for faces and persons that already exist: which stored person a cluster is (so ids
and names survive reclusters), which person a new face or a new cluster joins, and who a face is
named after (`identify`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set

import numpy as np

from facefold.people.cluster import (
    ATTACH_CHOICES,
    NOISE,
    ClusterParams,
    Evidence,
    alike,
    joining_z,
    separation,
)
from facefold.vision.pixels import pixel_similarity_matrix, same_scene_matrix


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


def _person_evidence(vectors: np.ndarray, persons: np.ndarray) -> tuple[np.ndarray, Evidence]:
    """Each person's faces as evidence (every face a unit): (person ids, Evidence)."""
    mask = persons >= 0
    ids = np.unique(persons[mask])
    pos = np.full(len(persons), NOISE, np.int64)
    pos[mask] = np.searchsorted(ids, persons[mask])
    return ids, Evidence.of(vectors, pos, len(ids))


def _matching(query: np.ndarray, stored: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """For `alike`: the pixel similarity of one face's signature to the stored ones masked."""
    return lambda m: pixel_similarity_matrix(query, stored[m])[0]


def _copy_matching(query: np.ndarray, stored: np.ndarray,
                   params: ClusterParams) -> Callable[[np.ndarray], np.ndarray]:
    """For `alike`: whether one face and the stored ones masked are one face in copies of a
    photo (their scenes, vision.pixels)."""
    return lambda m: same_scene_matrix(query, stored[m], params.copy_similarity,
                                       params.copy_place)[0]


def twins(queries: np.ndarray, vectors: np.ndarray, mask: np.ndarray, params: ClusterParams,
          query_pixels: np.ndarray | None = None, pixels: np.ndarray | None = None,
          query_scenes: np.ndarray | None = None,
          scenes: np.ndarray | None = None) -> np.ndarray:
    """For each query, the row of the nearest face among `mask` it is alike to (as
    `burst_units` has it: closer than `burst_distance`, or, given both sides' pixel signatures,
    closer than `burst_pixel_distance` with pixels that match, or, given both sides' scenes,
    closer than `burst_max_distance` and one face in copies of a photo); -1 for none."""
    sims = queries @ vectors.T
    sims[:, ~mask] = -np.inf
    d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims))
    out = np.full(len(queries), -1, np.int64)
    for i in range(len(queries)):
        ok = np.flatnonzero(alike(
            d[i], params.burst_distance, params.burst_pixel_distance,
            params.burst_pixel_similarity, None if query_pixels is None or pixels is None
            else _matching(query_pixels[i:i + 1], pixels), params.burst_max_distance,
            None if query_scenes is None or scenes is None
            else _copy_matching(query_scenes[i:i + 1], scenes, params)))
        if len(ok):
            out[i] = ok[np.argmin(d[i, ok])]
    return out


def attach_to_persons(queries: np.ndarray, query_photos: np.ndarray, vectors: np.ndarray,
                      persons: np.ndarray, photos: np.ndarray, params: ClusterParams,
                      query_quality: np.ndarray | None = None,
                      query_pixels: np.ndarray | None = None,
                      pixels: np.ndarray | None = None,
                      query_scenes: np.ndarray | None = None,
                      scenes: np.ndarray | None = None) -> list[int | None]:
    """Given new unit vectors (and their photo ids) and the stored faces (vectors, person ids
    with -1 for none, photo ids), return a person id or None for each new face, as the batch
    clustering would: a face alike to an assigned face (`twins`, by pixels and scenes too when
    both sides' are given) is that face's person; any other joins the person it
    is fewest standard errors from, below
    `attach_z` and under the `max_distance` cap (a face below `small_min_quality` only a person
    of `attach_min_units` faces or more). Never two faces of one photo in one person
    (faces assigned earlier in this call included)."""
    out: list[int | None] = [None] * len(queries)
    mask = persons >= 0
    if not mask.any() or len(queries) == 0:
        return out
    ids, ev = _person_evidence(vectors, persons)
    near = mask & np.isin(photos, query_photos)  # only these photos can clash
    taken: set[tuple[int, int]] = set(zip(persons[near].tolist(), photos[near].tolist(),
                                          strict=True))
    twin = twins(queries, vectors, mask, params, query_pixels, pixels, query_scenes, scenes)
    n = ev.counts
    z = joining_z(queries, ev, params)
    if query_quality is not None:
        weak = query_quality < params.small_min_quality
        z[np.ix_(weak, n < params.attach_min_units)] = np.inf
    for i in range(len(queries)):
        photo = int(query_photos[i])
        if twin[i] >= 0:
            choices = [int(persons[twin[i]])]
        else:
            order = np.argsort(z[i])[:ATTACH_CHOICES]
            choices = [int(ids[c]) for c in order if z[i, c] < params.attach_z]
        for pid in choices:
            if (pid, photo) not in taken:
                out[i] = pid
                taken.add((pid, photo))
                break
    return out


def joining_person(cluster: np.ndarray, cluster_photos: set[int], vectors: np.ndarray,
                   persons: np.ndarray, photos: np.ndarray, params: ClusterParams) -> int | None:
    """The existing person a new cluster of unit vectors is one with, as the batch clustering
    would merge them: fewest standard errors apart below `merge_z`, under the `merge_distance`
    cap, and no photo in common. None: a new person."""
    mask = persons >= 0
    if not mask.any() or len(cluster) == 0:
        return None
    ids, ev = _person_evidence(vectors, persons)
    c_sum = cluster.sum(axis=0, dtype=np.float64)
    c_n = float(len(cluster))
    c_s2 = max(0.0, 1.0 - float((c_sum / c_n) @ (c_sum / c_n)))
    w = params.prior_weight
    c_se2 = (c_n * c_s2 + w * ev.prior_s2) / (c_n + w) / c_n
    n = ev.counts
    ms = 2.0 - 2.0 * (ev.sums @ c_sum) / (n * c_n)
    z = separation(ms, ev.s2(), ev.shrunk(w) / n, c_s2, c_se2)
    z[ms >= params.merge_distance ** 2] = np.inf
    held: dict[int, set[int]] = {int(p): set() for p in ids}
    for pid, ph in zip(persons[mask].tolist(), photos[mask].tolist(), strict=True):
        held[int(pid)].add(int(ph))
    for c in np.argsort(z):
        if z[c] >= params.merge_z:
            return None
        if not cluster_photos & held[int(ids[c])]:
            return int(ids[c])
    return None


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


def doubtful_pairs(vectors: np.ndarray, persons: np.ndarray, photos: np.ndarray,
                   params: ClusterParams, max_z: float, max_distance: float,
                   apart: Set[tuple[int, int]] = frozenset()) -> list[tuple[int, int, float, float]]:
    """Pairs of persons that may be one: (a, b, z, RMS distance) with a < b, fewer than `max_z`
    standard errors apart, an RMS face distance below `max_distance`, no photo in common and
    not kept apart; closest first. Pairs below `merge_z` appear too when something kept them
    apart (a name on each, say)."""
    mask = persons >= 0
    ids, ev = _person_evidence(vectors, persons)
    if len(ids) < 2:
        return []
    n = ev.counts
    s2, se2 = ev.s2(), ev.shrunk(params.prior_weight) / n
    ms = 2.0 - 2.0 * (ev.sums @ ev.sums.T) / np.outer(n, n)
    z = separation(ms, s2[:, None], se2[:, None], s2[None, :], se2[None, :])
    held: dict[int, set[int]] = {int(p): set() for p in ids}
    for pid, ph in zip(persons[mask].tolist(), photos[mask].tolist(), strict=True):
        held[int(pid)].add(int(ph))
    out = []
    for a, b in zip(*np.nonzero((z < max_z) & (ms < max_distance ** 2)), strict=True):
        pa, pb = int(ids[a]), int(ids[b])
        if pa < pb and (pa, pb) not in apart and not held[pa] & held[pb]:
            out.append((pa, pb, float(z[a, b]), float(np.sqrt(ms[a, b]))))
    return sorted(out, key=lambda t: t[2])


def closest_persons(queries: np.ndarray, vectors: np.ndarray, persons: np.ndarray,
                    k: int) -> list[tuple[int, float]]:
    """The `k` persons whose faces are closest to the query faces taken together: (person id,
    RMS distance between the queries and the person's faces), closest first. Persons -1 are
    skipped."""
    ids, ev = _person_evidence(vectors, persons)
    if len(ids) == 0 or len(queries) == 0:
        return []
    q = queries.sum(axis=0)
    ms = 2.0 - 2.0 * (ev.sums @ q) / (ev.counts * len(queries))
    order = np.argsort(ms, kind="stable")[:k]
    return [(int(ids[i]), float(np.sqrt(max(ms[i], 0.0)))) for i in order]
