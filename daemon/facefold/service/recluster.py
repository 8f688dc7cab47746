"""Faces in the store → people in the store → folders on disk: the clusterer and folder stages.

New faces are assigned at once to the person their nearest assigned faces vote for (one matrix
product against the in-memory FaceIndex). Faces that fit nobody wait in a pool; when the pool has
grown enough, or the worker is idle, HDBSCAN runs over the pool and each cluster either joins the
existing person it is close to or becomes a new person. A full recluster reruns HDBSCAN over every
face and maps the clusters onto existing persons by overlap, so ids, names and folders survive;
faces placed by hand (pinned) never move, and named or hidden persons are never deleted.
"""

from __future__ import annotations

import fcntl
import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.people.assign import (
    AssignParams,
    assign_to_persons,
    fits_person,
    match_clusters,
    nearest_person,
)
from facefold.people.cluster import NOISE, ClusterParams, cluster_faces, merge_close_clusters
from facefold.people.folders import SyncResult, plan_links, sync_folders
from facefold.people.index import UNASSIGNED, FaceIndex
from facefold.people.names import assign_folders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReclusterResult:
    persons: int
    new_persons: int
    removed_persons: int
    assigned_faces: int
    unassigned_faces: int


def cluster_params(settings: Settings) -> ClusterParams:
    c = settings.clustering
    return ClusterParams(c.min_cluster_size, c.min_samples, c.merge_distance, c.max_distance)


def assign_params(settings: Settings) -> AssignParams:
    c = settings.clustering
    return AssignParams(c.max_distance, c.neighbours, c.min_support)


def _counts(s: Session, new: int) -> ReclusterResult:
    st = store.status_summary(s, last_errors=0)
    removed = store.delete_empty_unnamed_persons(s)
    return ReclusterResult(persons=st.persons - removed, new_persons=new, removed_persons=removed,
                           assigned_faces=st.assigned_faces,
                           unassigned_faces=st.faces - st.assigned_faces)


def full_recluster(s: Session, params: ClusterParams) -> ReclusterResult:
    """Cluster every stored face and write the result as persons, keeping ids where clusters and
    existing persons share faces. Pinned faces keep their person (or stay unassigned)."""
    fm = store.face_matrix(s)
    labels = cluster_faces(fm.vectors, fm.image_ids, params)
    free = ~fm.pinned
    clusters = {int(lab): set(fm.face_ids[labels == lab].tolist())
                for lab in np.unique(labels[labels != NOISE])}
    current: dict[int, set[int]] = {}
    for fid, pid in zip(fm.face_ids.tolist(), fm.person_ids.tolist(), strict=True):
        if pid != UNASSIGNED:
            current.setdefault(pid, set()).add(fid)
    mapping = match_clusters(clusters, current)
    target: dict[int, int | None] = {
        int(f): (None if p == UNASSIGNED else int(p))
        for f, p in zip(fm.face_ids.tolist(), fm.person_ids.tolist(), strict=True)
    }
    for i in np.flatnonzero(free):
        target[int(fm.face_ids[i])] = None
    new = 0
    photo_of = dict(zip(fm.face_ids.tolist(), fm.image_ids.tolist(), strict=True))
    pinned_ids = set(fm.face_ids[fm.pinned].tolist())
    pinned_at = {(target[int(f)], int(im)) for f, im, pin in
                 zip(fm.face_ids, fm.image_ids, fm.pinned, strict=True) if pin}
    for lab, pid in sorted(mapping.items()):
        members = [f for f in sorted(clusters[lab]) if f not in pinned_ids]
        if not members:
            continue
        if pid is None:
            pid = store.create_person(s).id
            new += 1
        for f in members:
            if (pid, photo_of[f]) not in pinned_at:  # a hand-placed face of that photo wins
                target[f] = pid
    before = {int(f): (None if p == UNASSIGNED else int(p))
              for f, p in zip(fm.face_ids, fm.person_ids, strict=True)}
    store.set_face_persons(s, {f: p for f, p in target.items() if before[f] != p})
    s.flush()
    return _counts(s, new)


class Assigner:
    """The incremental clusterer of a running worker: the FaceIndex plus the pool bookkeeping."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = FaceIndex()
        self._pool_at_last_cluster = 0
        self._pool_dirty = False
        self._changed = False
        self.people_rev = -1

    def load(self, s: Session) -> None:
        fm = store.face_matrix(s)
        self.index = FaceIndex(capacity=max(1024, len(fm.face_ids)))
        self.index.add(fm.face_ids, fm.vectors, fm.person_ids, fm.image_ids, fm.pinned)
        self.people_rev = store.people_rev(s)
        self._pool_dirty = self._changed = True

    @property
    def pool_dirty(self) -> bool:
        """The pool changed since it was last clustered."""
        return self._pool_dirty

    def update(self, s: Session) -> int:
        """Bring the index in step with the store (faces added or removed by a batch) and assign
        the new faces; return how many were assigned."""
        stored = store.face_persons(s)
        ids, _, _, _ = self.index.view()
        known = set(ids.tolist())
        gone = [f for f in known if f not in stored]
        if gone:
            self.index.remove(gone)
            self._changed = True
        fresh = sorted(f for f in stored if f not in known)
        if not fresh:
            return 0
        self._changed = True
        fm = store.face_matrix(s, fresh)
        _, vecs, persons, photos = self.index.view()
        wanted = [i for i in range(len(fm.face_ids)) if fm.person_ids[i] == UNASSIGNED
                  and not fm.pinned[i]]
        got = assign_to_persons(fm.vectors[wanted], fm.image_ids[wanted], vecs, persons, photos,
                                assign_params(self.settings)) if wanted else []
        persons_new = fm.person_ids.copy()
        changes: dict[int, int | None] = {}
        for i, pid in zip(wanted, got, strict=True):
            if pid is not None:
                persons_new[i] = pid
                changes[int(fm.face_ids[i])] = pid
        # what the vote left alone: the `identify` rule, the nearest face of a named person
        left = [i for i, pid in zip(wanted, got, strict=True) if pid is None]
        named = store.named_persons(s) if left else set()
        if named:
            only_named = np.where(np.isin(persons, list(named)), persons, UNASSIGNED)
            taken = set(zip(persons.tolist(), photos.tolist(), strict=True))
            for i, (pid, _d) in zip(left, nearest_person(
                    fm.vectors[left], vecs, only_named, self.settings.identify.max_distance),
                    strict=True):
                if pid is not None and (pid, int(fm.image_ids[i])) not in taken:
                    persons_new[i] = pid
                    changes[int(fm.face_ids[i])] = pid
                    taken.add((pid, int(fm.image_ids[i])))
        store.set_face_persons(s, changes)
        self.index.add(fm.face_ids, fm.vectors, persons_new, fm.image_ids, fm.pinned)
        if len(changes) < len(wanted):
            self._pool_dirty = True
        return len(changes)

    def cluster_pool(self, s: Session, idle: bool) -> int:
        """Cluster the pool of unassigned faces when it grew by `pool_growth` (or, when `idle`,
        by anything); return how many persons were created."""
        pool_rows = np.flatnonzero((self.index.persons[: self.index.n] == UNASSIGNED)
                                   & ~self.index.pinned[: self.index.n])
        grown = len(pool_rows) - self._pool_at_last_cluster
        if not self._pool_dirty or len(pool_rows) == 0:
            return 0
        if not idle and grown < self.settings.clustering.pool_growth:
            return 0
        self._pool_dirty = False
        ids, vecs, persons, photos = self.index.view()
        labels = cluster_faces(vecs[pool_rows], photos[pool_rows], cluster_params(self.settings))
        sums: dict[int, np.ndarray] = {}
        counts: dict[int, int] = {}
        person_photos: dict[int, set[int]] = {}
        for pid in np.unique(persons[persons != UNASSIGNED]):
            rows = persons == pid
            sums[int(pid)] = vecs[rows].sum(axis=0, dtype=np.float64)
            counts[int(pid)] = int(rows.sum())
            person_photos[int(pid)] = set(photos[rows].tolist())
        new = 0
        changes: dict[int, int | None] = {}
        nearest = AssignParams(self.settings.clustering.max_distance, neighbours=1, min_support=1)
        for lab in np.unique(labels[labels != NOISE]):
            rows = pool_rows[labels == lab]
            cphotos = set(photos[rows].tolist())
            # the person most members have as nearest neighbour, else the one close on average
            votes = Counter(p for p in assign_to_persons(vecs[rows], photos[rows], vecs, persons,
                                                         photos, nearest) if p is not None)
            pid = next((p for p, n in votes.most_common(1) if 2 * n >= len(rows)
                        and not cphotos & person_photos.get(p, set())), None)
            if pid is None:
                pid = fits_person(vecs[rows], cphotos, sums, counts, person_photos,
                                  self.settings.clustering.merge_distance)
            if pid is None:
                pid = store.create_person(s).id
                new += 1
            for r in rows:
                changes[int(ids[r])] = pid
        self.index.set_persons(changes)
        # what is still alone joins the person of its nearest face, as in a batch clustering
        alone = pool_rows[labels == NOISE]
        if len(alone):
            got = assign_to_persons(vecs[alone], photos[alone], vecs, persons, photos, nearest)
            late: dict[int, int | None] = {
                int(ids[r]): p for r, p in zip(alone, got, strict=True) if p is not None}
            self.index.set_persons(late)
            changes.update(late)
        store.set_face_persons(s, changes)
        self._pool_at_last_cluster = len(pool_rows) - len(changes)
        if idle:
            self.merge_close_persons(s)
        return new

    def merge_close_persons(self, s: Session) -> int:
        """Merge persons the clustering would have made one (as a batch run merges clusters):
        closer than `merge_distance`, no photo in common, and at most one of them named, hidden
        or holding faces placed by hand, which then absorbs the others. Return faces moved."""
        ids, vecs, persons, photos = self.index.view()
        rows = np.flatnonzero(persons != UNASSIGNED)
        if len(np.unique(persons[rows])) < 2:
            return 0
        fixed = store.fixed_persons(s) | set(persons[self.index.pinned[: self.index.n]].tolist())
        fixed.discard(UNASSIGNED)

        def allowed(group: set[int]) -> bool:
            return len(group & fixed) <= 1

        labels = merge_close_clusters(vecs[rows], photos[rows], persons[rows],
                                      self.settings.clustering.merge_distance, allowed)
        changes: dict[int, int | None] = {}
        for lab in np.unique(labels):
            members = rows[labels == lab]
            group = set(persons[members].tolist())
            if len(group) < 2:
                continue
            keep = min(group & fixed) if group & fixed else min(group)
            for r in members:
                if persons[r] != keep:
                    changes[int(ids[r])] = keep
            log.info("merged persons %s into %d", sorted(group - {keep}), keep)
        store.set_face_persons(s, changes)
        self.index.set_persons(changes)
        return len(changes)

    def step(self, s: Session, idle: bool) -> ReclusterResult:
        """After a batch: assign the new faces; then, when idle and a small library changed, a
        full recluster (what a batch run gives, ids and names kept), else the pool's turn."""
        self.update(s)
        n = len(self.index)
        if idle and self._changed and n <= self.settings.clustering.full_when_idle_max_faces:
            before = set(self.index.persons[: self.index.n].tolist())
            self.full(s)
            after = set(self.index.persons[: self.index.n].tolist())
            return self.result(s, len(after - before - {UNASSIGNED}))
        return self.result(s, self.cluster_pool(s, idle))

    def full(self, s: Session) -> ReclusterResult:
        res = full_recluster(s, cluster_params(self.settings))
        s.flush()
        self.load(s)
        self._pool_dirty = self._changed = False
        return res

    def result(self, s: Session, new: int) -> ReclusterResult:
        return _counts(s, new)


def person_folders(rows: list[tuple[int, str | None, str]]) -> dict[int, str]:
    """person id → folder name, for the (person, name, photo) rows of visible persons."""
    return assign_folders(sorted({pid: name for pid, name, _path in rows}.items()))


def sync_people_folders(s: Session, settings: Settings) -> SyncResult:
    """Bring the people folder in line with the persons in the store: one folder per visible
    person with photos, named after the person (or `person_0001`). Runs under a lock in the state
    dir, so the daemon and a CLI command never sync at once."""
    rows = store.person_photo_rows(s)
    folders = person_folders(rows)
    plan = plan_links((folders[pid], path) for pid, _name, path in rows)
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (settings.state_dir / "sync.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return sync_folders(settings.people, plan, settings.state_dir / "links.json")
