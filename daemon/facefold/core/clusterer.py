"""Faces in the store → people in the store: the incremental clusterer and the full recluster.

New faces are placed at once by the full clustering's own rule (`people.assign`): each joins the
person it would merge with, judged against every person's aggregate (one matrix product). Faces
that fit nobody wait in a pool; when the pool has grown enough, or the worker is idle, the pool is
clustered and each cluster either joins the existing person it would merge with or becomes a new
person. A full recluster clusters every face (people.cluster) and maps the clusters onto existing
persons by overlap, so ids, names and folders survive; faces placed by hand (pinned) never move,
named or hidden persons keep their faces together and are never deleted.

Every method takes the caller's session and none commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.people.assign import Persons, attach_to_persons, joining_person, match_clusters
from facefold.people.cluster import (
    NOISE,
    ClusterParams,
    Groups,
    Signatures,
    agglomerate,
    cluster_faces,
)
from facefold.people.index import UNASSIGNED, FaceIndex

log = logging.getLogger(__name__)


def cluster_params(settings: Settings) -> ClusterParams:
    c = settings.clustering
    return ClusterParams(
        merge_distance=c.person_distance, face_noise=c.face_noise,
        small_face_noise=c.small_face_noise, min_quality=c.min_quality,
        weak_distance=c.weak_distance, weak_margin=c.weak_margin,
        copy_distance=c.copy_distance, copy_similarity=c.copy_match, method=c.method,
        hdbscan_min_cluster_size=c.hdbscan_min_cluster_size)


def stored_signatures(s: Session, face_ids: np.ndarray) -> Signatures:
    """`Signatures` of the faces `face_ids` (row-aligned with what is clustered), read from the
    store only for the rows asked for."""
    return lambda rows: face_store.face_signatures(s, face_ids[rows].tolist())


@dataclass(frozen=True)
class ReclusterResult:
    persons: int
    new_persons: int
    removed_persons: int  # emptied by the clustering (unnamed and not hidden): deleted
    assigned_faces: int
    unassigned_faces: int


def _summary(s: Session, new: int, removed: int) -> ReclusterResult:
    c = people_store.people_counts(s)
    return ReclusterResult(c.persons, new, removed, c.assigned_faces,
                           c.faces - c.assigned_faces)


def full_recluster(s: Session, params: ClusterParams) -> int:
    """Cluster every stored face and write the result as persons, keeping ids where clusters and
    existing persons share faces. Pinned faces keep their person (or stay unassigned); faces of
    persons kept apart never end in one cluster; a named or hidden person's faces stay
    together. Return how many persons were created."""
    fm = face_store.face_matrix(s)
    labels = cluster_faces(fm.vectors, fm.image_ids, params, fm.quality, fm.person_ids,
                           people_store.apart_pairs(s), stored_signatures(s, fm.face_ids),
                           people_store.fixed_persons(s))
    clusters = {int(lab): set(fm.face_ids[labels == lab].tolist())
                for lab in np.unique(labels[labels != NOISE])}
    before: dict[int, int | None] = {
        int(f): (None if p == UNASSIGNED else int(p))
        for f, p in zip(fm.face_ids.tolist(), fm.person_ids.tolist(), strict=True)}
    current: dict[int, set[int]] = {}
    for fid, pid in before.items():
        if pid is not None:
            current.setdefault(pid, set()).add(fid)
    mapping = match_clusters(clusters, current)
    pinned_ids = set(fm.face_ids[fm.pinned].tolist())
    target = {f: (p if f in pinned_ids else None) for f, p in before.items()}
    photo_of = dict(zip(fm.face_ids.tolist(), fm.image_ids.tolist(), strict=True))
    pinned_at = {(target[f], photo_of[f]) for f in pinned_ids}
    new = 0
    for lab, pid in sorted(mapping.items()):
        members = [f for f in sorted(clusters[lab]) if f not in pinned_ids]
        if not members:
            continue
        if pid is None:
            pid = people_store.create_person(s).id
            new += 1
        for f in members:
            if (pid, photo_of[f]) not in pinned_at:  # a hand-placed face of that photo wins
                target[f] = pid
    face_store.set_face_persons(s, {f: p for f, p in target.items() if before[f] != p})
    s.flush()
    return new


class Clusterer:
    """The incremental clusterer of one process: the FaceIndex, the persons' aggregates and the
    pool bookkeeping. `settings` may be replaced between calls (a config reload)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = FaceIndex()
        self.persons = Persons.of(np.zeros((0, self.index.dim), np.float32), np.zeros(0, np.int64),
                                  np.zeros(0, np.int64), np.zeros(0), cluster_params(settings))
        self._pool_at_last_cluster = 0
        self._pool_dirty = False
        self._changed = False
        self.people_rev = -1

    def load(self, s: Session) -> None:
        """(Re)load who is who from the store."""
        fm = face_store.face_matrix(s)
        self.index = FaceIndex(capacity=max(1024, len(fm.face_ids)))
        self.index.add(fm.face_ids, fm.vectors, fm.person_ids, fm.image_ids, fm.pinned,
                       fm.quality)
        self.persons = Persons.of(fm.vectors, fm.person_ids, fm.image_ids, fm.quality,
                                  cluster_params(self.settings))
        self.people_rev = people_store.people_rev(s)
        self._pool_dirty = self._changed = True

    def behind(self, s: Session) -> bool:
        """The store holds faces the index has not seen, or lost some it has (stored or
        removed by another process, such as a `facefold worker`)."""
        return face_store.faces_signature(s) != self._signature()

    def _signature(self) -> tuple[int, int]:
        """(faces in the index, its highest face id): comparable with faces_signature."""
        ids = self.index.view()[0]
        return len(ids), int(ids.max()) if len(ids) else 0

    @property
    def pool_dirty(self) -> bool:
        """The pool changed since it was last clustered."""
        return self._pool_dirty

    def _count(self, rows: np.ndarray, sign: float) -> None:
        """Count the index's rows into (or, sign -1, out of) their persons' aggregates."""
        ix = self.index
        self.persons.add(ix.vectors[rows], ix.persons[rows], ix.photos[rows], ix.quality[rows],
                         cluster_params(self.settings), sign)

    def _move(self, changes: dict[int, int | None]) -> None:
        """Faces change person: in the index and the persons' aggregates."""
        rows = self.index.rows(list(changes))
        self._count(rows, -1.0)
        self.index.set_persons(changes)
        self._count(rows, 1.0)

    def update(self, s: Session) -> int:
        """Bring the index in step with the store (faces added or removed by a batch) and assign
        the new faces; return how many were assigned."""
        stored = face_store.face_persons(s)
        ids, _, _, _ = self.index.view()
        known = set(ids.tolist())
        gone = [f for f in known if f not in stored]
        if gone:
            self._count(self.index.rows(gone), -1.0)
            self.index.remove(gone)
            self._changed = True
        fresh = sorted(f for f in stored if f not in known)
        if not fresh:
            return 0
        self._changed = True
        fm = face_store.face_matrix(s, fresh)
        wanted = [i for i in range(len(fm.face_ids)) if fm.person_ids[i] == UNASSIGNED
                  and not fm.pinned[i]]
        got = attach_to_persons(fm.vectors[wanted], fm.image_ids[wanted], fm.quality[wanted],
                                self.persons, cluster_params(self.settings)) if wanted else []
        persons_new = fm.person_ids.copy()
        changes: dict[int, int | None] = {}
        for i, pid in zip(wanted, got, strict=True):
            if pid is not None:
                persons_new[i] = pid
                changes[int(fm.face_ids[i])] = pid
        face_store.set_face_persons(s, changes)
        self.index.add(fm.face_ids, fm.vectors, persons_new, fm.image_ids, fm.pinned,
                       fm.quality)
        self._count(self.index.rows(fresh), 1.0)
        if len(changes) < len(wanted):
            self._pool_dirty = True
        return len(changes)

    def cluster_pool(self, s: Session, idle: bool) -> int:
        """Cluster the pool of unassigned faces when it grew by `pool_growth` (or, when `idle`,
        by anything); return how many persons were created."""
        c = self.settings.clustering
        ix = self.index
        pool_rows = np.flatnonzero((ix.persons[: ix.n] == UNASSIGNED) & ~ix.pinned[: ix.n])
        grown = len(pool_rows) - self._pool_at_last_cluster
        if not self._pool_dirty or len(pool_rows) == 0:
            return 0
        if not idle and grown < c.pool_growth:
            return 0
        self._pool_dirty = False
        ids, vecs, _persons, photos = ix.view()
        params = cluster_params(self.settings)
        labels = cluster_faces(vecs[pool_rows], photos[pool_rows], params,
                               ix.quality[: ix.n][pool_rows],
                               signatures=stored_signatures(s, ids[pool_rows]))
        created: list[int] = []
        changes: dict[int, int | None] = {}
        for lab in np.unique(labels[labels != NOISE]):
            rows = pool_rows[labels == lab]
            pid = joining_person(vecs[rows], set(photos[rows].tolist()), ix.quality[rows],
                                 self.persons, params)
            if pid is None:
                pid = people_store.create_person(s).id
                created.append(pid)
            for r in rows:
                changes[int(ids[r])] = pid
        # what is still alone joins a person that was there before, as in a full clustering
        # (the persons just made of the pool already had their chance in it)
        before = Persons(self.persons.ids.copy(), _copy_groups(self.persons.groups))
        self._move(changes)
        alone = pool_rows[labels == NOISE]
        if len(alone):
            got = attach_to_persons(vecs[alone], photos[alone], ix.quality[alone], before,
                                    params)
            late: dict[int, int | None] = {
                int(ids[r]): p for r, p in zip(alone, got, strict=True) if p is not None}
            self._move(late)
            changes.update(late)
        face_store.set_face_persons(s, changes)
        self._pool_at_last_cluster = len(pool_rows) - len(changes)
        if idle:
            self.merge_close_persons(s)
        return len(created)

    def merge_close_persons(self, s: Session) -> int:
        """Merge persons the clustering would have made one (as a full run merges groups): no
        photo in common, nobody kept apart, and at most one of them named, hidden or holding
        faces placed by hand, which then absorbs the others. Return faces moved."""
        p = self.persons
        live = np.flatnonzero(p.groups.counts > 0.5)
        if len(live) < 2:
            return 0
        ix = self.index
        fixed = (people_store.fixed_persons(s)
                 | set(ix.persons[: ix.n][ix.pinned[: ix.n]].tolist()))
        fixed.discard(UNASSIGNED)
        apart = people_store.apart_pairs(s)
        pid = p.ids[live]
        g = Groups(np.zeros((len(live), ix.dim), np.float32), np.zeros(len(live)),
                   [set(p.groups.photos[k]) for k in live],
                   [{int(x)} for x in pid], frozenset(apart),
                   np.isin(pid, list(fixed)))
        g.sums, g.counts, g.noise = (p.groups.sums[live].copy(), p.groups.counts[live].copy(),
                                     p.groups.noise[live].copy())
        params = cluster_params(self.settings)
        labels = agglomerate(g, np.arange(len(live)), np.zeros(0, np.int64),
                             np.zeros(0, np.int64), params.merge_distance ** 2)
        changes: dict[int, int | None] = {}
        persons_now = ix.persons[: ix.n]
        for lab in np.unique(labels):
            group = set(pid[labels == lab].tolist())
            if len(group) < 2:
                continue
            keep = min(group & fixed) if group & fixed else min(group)
            for r in np.flatnonzero(np.isin(persons_now, list(group - {keep}))):
                changes[int(ix.face_ids[r])] = keep
            log.info("merged persons %s into %d", sorted(group - {keep}), keep)
        face_store.set_face_persons(s, changes)
        self._move(changes)
        return len(changes)

    def step(self, s: Session, idle: bool) -> ReclusterResult:
        """After a batch: assign the new faces; then, when idle and a small library changed, a
        full recluster (what a batch run gives, ids and names kept), else the pool's turn.
        Persons the clustering emptied are deleted (unless named or hidden)."""
        self.update(s)
        if (idle and self._changed
                and len(self.index) <= self.settings.clustering.full_when_idle_max_faces):
            new = self._full(s)
        else:
            new = self.cluster_pool(s, idle)
        return _summary(s, new, people_store.delete_empty_unnamed_persons(s))

    def full(self, s: Session) -> ReclusterResult:
        """Recluster every face (ids, names, hidden persons and pinned faces kept)."""
        new = self._full(s)
        return _summary(s, new, people_store.delete_empty_unnamed_persons(s))

    def _full(self, s: Session) -> int:
        seen = face_store.faces_signature(s)
        new = full_recluster(s, cluster_params(self.settings))
        self.load(s)
        # faces another process (a worker) stored meanwhile were loaded, not clustered: they
        # keep the pool dirty, so the next idle turn clusters them
        self._pool_dirty = self._changed = self._signature() != seen
        return new


def _copy_groups(g: Groups) -> Groups:
    out = Groups(np.zeros((0, g.sums.shape[1]), np.float32), np.zeros(0), [])
    out.sums, out.counts, out.noise = g.sums.copy(), g.counts.copy(), g.noise.copy()
    out.photos = [set(x) for x in g.photos]
    return out
