"""Pure rules for faces and persons that already exist: which stored person a cluster is (so ids
and names survive reclusters), which person a new face or a new cluster joins, as the full
clustering would (people.cluster), which pairs may be one person, and who a face is named after
(`identify`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Set
from dataclasses import dataclass

import numpy as np

from facefold.people.cluster import NEIGHBOURS, ClusterParams, Groups, face_noise


def match_clusters(clusters: Mapping[int, Set[int]],
                   persons: Mapping[int, Set[int]]) -> dict[int, int | None]:
    """Given cluster label → face ids and person id → face ids, return cluster label → person id
    (None: a new person).

    Pairs are taken greedily by the number of faces they share (ties: older person first); a person
    goes to at most one cluster and only when they share a face.
    """
    face_person = {f: pid for pid, faces in persons.items() for f in faces}
    overlap = Counter((lab, face_person[f]) for lab, faces in clusters.items() for f in faces
                      if f in face_person)
    result: dict[int, int | None] = {lab: None for lab in clusters}
    used: set[int] = set()
    for (lab, pid), _n in sorted(overlap.items(), key=lambda kv: (-kv[1], kv[0][1], kv[0][0])):
        if result[lab] is None and pid not in used:
            result[lab] = pid
            used.add(pid)
    return result


@dataclass
class Persons:
    """The stored persons as groups: per person the sum of its faces' vectors, their count,
    their expected noise and their photos. Enough to judge a new face or cluster against
    every person as people.cluster does, with one matrix product."""

    ids: np.ndarray  # person ids, one per group, ascending
    groups: Groups

    @classmethod
    def of(cls, vectors: np.ndarray, persons: np.ndarray, photos: np.ndarray,
           quality: np.ndarray, params: ClusterParams) -> Persons:
        """From every stored face: its vector, person (-1: none), photo and quality."""
        mask = persons >= 0
        ids = np.unique(persons[mask])
        pos = np.searchsorted(ids, persons[mask])
        sums = np.zeros((len(ids), vectors.shape[1]))
        np.add.at(sums, pos, vectors[mask])
        noise = np.zeros(len(ids))
        np.add.at(noise, pos, face_noise(quality[mask], params))
        held: list[set[int]] = [set() for _ in ids]
        for k, ph in zip(pos.tolist(), photos[mask].tolist(), strict=True):
            held[k].add(int(ph))
        g = Groups(sums, noise, held, counts=np.bincount(pos))
        return cls(ids, g)

    def add(self, vectors: np.ndarray, persons: np.ndarray, photos: np.ndarray,
            quality: np.ndarray, params: ClusterParams, sign: float = 1.0) -> None:
        """Count faces into their persons (-1: none, skipped), a new person getting a group of
        its own; with `sign` -1, count them out (their photos stay: a person keeps a photo it
        may still hold through another face)."""
        mask = persons >= 0
        if not mask.any():
            return
        new = np.setdiff1d(np.unique(persons[mask]), self.ids)
        if len(new):
            g, k, d = self.groups, len(new), vectors.shape[1]
            self.ids = np.concatenate([self.ids, new])
            g.sums = np.vstack([g.sums, np.zeros((k, d))])
            g.counts = np.concatenate([g.counts, np.zeros(k)])
            g.noise = np.concatenate([g.noise, np.zeros(k)])
            g.photos += [set() for _ in range(k)]
            order = np.argsort(self.ids)  # ids are unique
            self.ids, g.sums, g.counts, g.noise = (self.ids[order], g.sums[order],
                                                   g.counts[order], g.noise[order])
            g.photos = [g.photos[i] for i in order]
        pos = np.searchsorted(self.ids, persons[mask])
        g = self.groups
        np.add.at(g.sums, pos, sign * vectors[mask])
        np.add.at(g.counts, pos, sign)
        np.add.at(g.noise, pos, sign * face_noise(quality[mask], params))
        if sign > 0:
            for k, ph in zip(pos.tolist(), photos[mask].tolist(), strict=True):
                g.photos[k].add(int(ph))
        empty = g.counts < 0.5
        if empty.any():  # a person without faces no longer takes any
            g.sums[empty], g.counts[empty], g.noise[empty] = 0.0, 0.0, 0.0

    def nearest(self, queries: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
        """(q, ≤k) positions of the persons whose centres are nearest each query."""
        g = self.groups
        live = g.counts > 0.5
        k = min(k, int(live.sum()))
        if not k:
            return np.zeros((len(queries), 0), np.int64)
        sims = (queries.astype(np.float64) @ g.sums.T) / np.maximum(g.counts, 1.0)
        # pragma below: NaN in place of -inf sorts after every number all the same
        sims[:, ~live] = -np.inf  # pragma: no mutate
        # row by row (numpy's last axis); k ≤ NEIGHBOURS: numpy sorts under 17 values by
        # insertion, stably
        part = np.argpartition(-sims, k - 1)[:, :k]
        return np.take_along_axis(part, np.argsort(-np.take_along_axis(sims, part, -1)), -1)


def attach_to_persons(queries: np.ndarray, query_photos: np.ndarray, query_quality: np.ndarray,
                      persons: Persons, params: ClusterParams) -> list[int | None]:
    """A person id (or None) for each new face, as the full clustering would place it: it
    joins the nearest person it would merge with (people.cluster's criterion under
    merge_distance²), or, a weak face, its nearest person when close enough and clearly nearer
    than the runner-up. Never two faces of one photo in one person (faces placed earlier in
    this call included)."""
    out: list[int | None] = [None] * len(queries)
    if not len(persons.ids) or not len(queries):
        return out
    g = persons.groups
    placed: dict[int, set[int]] = {}  # photos given to each person in this call
    noise = face_noise(query_quality, params)
    near = persons.nearest(queries)
    limit = params.merge_distance ** 2
    for i in range(len(queries)):
        photo = int(query_photos[i])
        cand = near[i]
        m = g.criterion_to(np.repeat(queries[i:i + 1], len(cand), axis=0),
                           np.full(len(cand), noise[i]), cand)
        choices = [int(cand[k]) for k in np.argsort(m) if m[k] < limit]  # NEIGHBOURS at most
        if not choices and len(cand) and query_quality[i] < params.min_quality:
            rms = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (g.sums[cand] @ queries[i])
                                     / g.counts[cand]))
            order = np.argsort(rms)
            runner_up = rms[order[1]] if len(order) > 1 else np.inf
            best = rms[order[0]]
            if best < params.weak_distance and best < params.weak_margin * runner_up:
                choices = [int(cand[order[0]])]
        for pos in choices:
            if photo not in g.photos[pos] and photo not in placed.setdefault(pos, set()):
                out[i] = int(persons.ids[pos])
                placed[pos].add(photo)
                break
    return out


def joining_person(cluster: np.ndarray, cluster_photos: set[int], cluster_quality: np.ndarray,
                   persons: Persons, params: ClusterParams) -> int | None:
    """The stored person a new cluster (one or more unit vectors) is one with, as the full
    clustering would merge them (the criterion under merge_distance², the smallest), with no
    photo in common; None: a new person."""
    g = persons.groups
    mean = cluster.sum(axis=0, dtype=np.float64)
    cand = persons.nearest(mean[None, :])[0]
    new = len(cand)  # the cluster's place among its candidates
    noise = face_noise(cluster_quality, params).sum()
    both = Groups(np.vstack([g.sums[cand], mean]), np.append(g.noise[cand], noise),
                  [*(g.photos[c] for c in cand), cluster_photos],
                  counts=np.append(g.counts[cand], len(cluster)))
    m = both.criterion(np.arange(new), np.full(new, new))
    for k in np.argsort(m).tolist():
        if m[k] >= params.merge_distance ** 2:
            return None
        if not both.conflict(k, new):
            return int(persons.ids[cand[k]])
    return None


def doubtful_pairs(persons: Persons, params: ClusterParams, max_distance: float,
                   apart: Set[tuple[int, int]] = frozenset()) -> list[tuple[int, int, float]]:
    """Pairs of persons that may be one: (a, b, distance) with a < b, where distance is the
    square root of people.cluster's criterion (their centres' distance, noise taken away),
    under `max_distance`; no photo in common, not kept apart; closest first. Pairs under
    merge_distance appear too when something kept them apart (a name on each, say)."""
    if len(persons.ids) < 2:
        return []
    from facefold.people.cluster import graph_pairs, knn

    g = persons.groups
    centres = g.sums / np.linalg.norm(g.sums, axis=1, keepdims=True)
    a, b = graph_pairs(knn(centres)[0])
    m = g.criterion(a, b)
    out = []
    for x, y, v in zip(a.tolist(), b.tolist(), m.tolist(), strict=True):
        pa, pb = sorted((int(persons.ids[x]), int(persons.ids[y])))
        if v < max_distance ** 2 and (pa, pb) not in apart and not g.photos[x] & g.photos[y]:
            out.append((pa, pb, float(np.sqrt(max(v, 0.0)))))
    return sorted(out, key=lambda t: t[2])


def nearest_named(queries: np.ndarray, vectors: np.ndarray, persons: np.ndarray,
                  named: Set[int], max_distance: float,
                  query_photos: np.ndarray | None = None,
                  photos: np.ndarray | None = None) -> list[tuple[int | None, float]]:
    """The identify rule: each query is the named person whose nearest face is within
    `max_distance` (with that distance), else None. Given photo ids, a person never takes a
    second face of a photo it already has a face in (earlier queries included)."""
    only_named = np.where(np.isin(persons, list(named)), persons, -1)
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


def closest_persons(queries: np.ndarray, vectors: np.ndarray, persons: np.ndarray,
                    k: int) -> list[tuple[int, float]]:
    """The `k` persons whose faces are closest to the query faces taken together: (person id,
    RMS distance between the queries and the person's faces), closest first. Persons -1 are
    skipped."""
    mask = persons >= 0
    ids = np.unique(persons[mask])
    if len(ids) == 0 or len(queries) == 0:
        return []
    pos = np.searchsorted(ids, persons[mask])
    sums = np.zeros((len(ids), vectors.shape[1]))
    np.add.at(sums, pos, vectors[mask].astype(np.float64))
    counts = np.bincount(pos)
    q = queries.sum(axis=0)
    ms = 2.0 - 2.0 * (sums @ q) / (counts * len(queries))
    order = np.argsort(ms, kind="stable")[:k]
    return [(int(ids[i]), float(np.sqrt(max(ms[i], 0.0)))) for i in order]
