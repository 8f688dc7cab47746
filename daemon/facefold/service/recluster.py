"""Faces in the store → people in the store → folders on disk (the clusterer and folder stages)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.people.assign import match_clusters
from facefold.people.cluster import NOISE, ClusterParams, cluster_faces
from facefold.people.folders import SyncResult, person_folder_name, plan_links, sync_folders


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


def recluster(s: Session, params: ClusterParams) -> ReclusterResult:
    """Cluster every stored face and write the result as persons, keeping ids where clusters and
    existing persons share faces; unnamed persons left without faces are deleted."""
    fm = store.face_matrix(s)
    labels = cluster_faces(fm.vectors, fm.image_ids, params)
    clusters = {int(lab): set(fm.face_ids[labels == lab].tolist())
                for lab in np.unique(labels[labels != NOISE])}
    current: dict[int, set[int]] = {}
    for fid, pid in zip(fm.face_ids.tolist(), fm.person_ids.tolist(), strict=True):
        if pid != -1:
            current.setdefault(pid, set()).add(fid)
    mapping = match_clusters(clusters, current)
    target: dict[int, int | None] = {int(f): None for f in fm.face_ids.tolist()}
    new = 0
    for lab, pid in sorted(mapping.items()):
        if pid is None:
            pid = store.create_person(s).id
            new += 1
        for f in clusters[lab]:
            target[f] = pid
    before = {int(f): (None if p == -1 else int(p)) for f, p in zip(fm.face_ids, fm.person_ids, strict=True)}
    store.set_face_persons(s, {f: p for f, p in target.items() if before[f] != p})
    s.flush()
    removed = store.delete_empty_unnamed_persons(s)
    assigned = sum(1 for p in target.values() if p is not None)
    return ReclusterResult(
        persons=len(clusters), new_persons=new, removed_persons=removed,
        assigned_faces=assigned, unassigned_faces=len(target) - assigned,
    )


def sync_people_folders(s: Session, settings: Settings) -> SyncResult:
    """Bring the people folder in line with the persons in the store."""
    rows = store.person_photo_rows(s)
    plan = plan_links((person_folder_name(pid), path) for pid, _name, path in rows)
    return sync_folders(settings.people, plan, settings.state_dir / "links.json")
