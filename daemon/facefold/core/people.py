"""People as the user sees them: reclustering, the per-person folders, and the hand edits (name,
merge, move, unassign, ignore), each written to the database first, then the folders follow.

A running daemon notices edits made by other processes through the people revision counter.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from sqlalchemy.orm import Session

from facefold.core.clusterer import Clusterer, ReclusterResult
from facefold.core.library import Library
from facefold.db import people as store
from facefold.people.folders import SyncResult, plan_links, sync_folders
from facefold.people.names import clean_name, person_folders
from facefold.timing import Stopwatch

T = TypeVar("T")


def sync_people_folders(lib: Library) -> SyncResult:
    """Bring the people folder in line with the persons in the store: one folder per visible
    person with photos, named after the person (or `person_0001`). Runs under a lock in the state
    dir, so the daemon and a CLI command never sync at once."""
    settings = lib.settings
    with lib.session() as s:
        rows = store.person_photo_rows(s)
    folders = person_folders(rows)
    plan = plan_links((folders[pid], path) for pid, _name, path in rows)
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (settings.state_dir / "sync.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return sync_folders(settings.people, plan, settings.state_dir / "links.json")


@dataclass(frozen=True)
class Settled:
    recluster: ReclusterResult
    sync: SyncResult


def settle(lib: Library, clusterer: Clusterer, idle: bool, full: bool = False,
           stages: Stopwatch | None = None) -> Settled:
    """After photos were processed (or people edited): assign and cluster (`full`: everything),
    commit, then sync the folders. Time goes to `stages` under "cluster" and "folders"."""
    sw = stages or Stopwatch()
    with sw.stage("cluster"), lib.session() as s:
        rc = clusterer.full(s) if full else clusterer.step(s, idle)
        s.commit()
    with sw.stage("folders"):
        return Settled(rc, sync_people_folders(lib))


def _edit(lib: Library, change: Callable[[Session], T]) -> T:
    """Make one change to people, record it for a running daemon, commit, sync the folders.
    Raise PeopleError (or NameRefused) when the change cannot be made; nothing is written then."""
    with lib.session() as s:
        out = change(s)
        store.bump_people_rev(s)
        s.commit()
    sync_people_folders(lib)
    return out


def name(lib: Library, pid: int, new_name: str | None) -> str | None:
    """Name a person (its folder takes the name), or take the name away; return the name as
    stored (cleaned: NFC, whitespace tidied)."""
    cleaned = None if new_name is None else clean_name(new_name)
    return _edit(lib, lambda s: store.set_name(s, pid, cleaned).name)


def merge(lib: Library, target: int, others: Sequence[int]) -> int:
    """Merge persons into `target` (their faces are pinned to it); return faces moved."""
    return _edit(lib, lambda s: store.merge_persons(s, target, others))


def move(lib: Library, fid: int, pid: int) -> None:
    """Put one face into a person by hand (pinned: clustering never moves it)."""
    _edit(lib, lambda s: store.move_face(s, fid, pid))


def unassign(lib: Library, fid: int) -> None:
    """Take one face out of its person by hand (pinned: it stays out)."""
    _edit(lib, lambda s: store.unassign_face(s, fid))


def ignore(lib: Library, pid: int, hidden: bool = True) -> None:
    """Hide a person (no folder; new faces that match go to them quietly), or show them again."""
    _edit(lib, lambda s: store.set_hidden(s, pid, hidden))


def apart(lib: Library, a: int, b: int, keep_apart: bool = True) -> None:
    """Record that persons a and b are different people (a cannot-link every later recluster
    honours, and suggestions never offer again), or, with `keep_apart` False, forget it."""
    _edit(lib, lambda s: store.set_apart(s, a, b, keep_apart))


@dataclass(frozen=True)
class Suggestion:
    """Two persons that may be one: how far apart (standard errors and RMS face distance)."""

    a: int
    b: int
    z: float
    distance: float
    name_a: str | None
    name_b: str | None
    faces_a: int
    faces_b: int


def suggestions(lib: Library, limit: int = 50) -> list[Suggestion]:
    """Pairs of visible persons in the doubtful band (closer than `clustering.suggest_z`
    standard errors and `suggest_distance`, not merged, not kept apart, no photo in common),
    closest first."""
    from facefold.core.clusterer import cluster_params
    from facefold.db import faces as face_store
    from facefold.people.assign import doubtful_pairs

    with lib.session() as s:
        fm = face_store.face_matrix(s)
        summaries = {p.id: p for p in store.person_summaries(s) if not p.hidden}
        apart_pairs = store.apart_pairs(s)
    visible = np.isin(fm.person_ids, list(summaries))
    persons = np.where(visible, fm.person_ids, -1)
    c = lib.settings.clustering
    pairs = doubtful_pairs(fm.vectors, persons, fm.image_ids, cluster_params(lib.settings),
                           c.suggest_z, c.suggest_distance, apart_pairs)
    return [Suggestion(a, b, round(z, 3), round(d, 4), summaries[a].name, summaries[b].name,
                       summaries[a].faces, summaries[b].faces) for a, b, z, d in pairs[:limit]]


def recluster(lib: Library, full: bool = False) -> ReclusterResult:
    """Assign waiting faces and cluster the pool, or (`full`) recluster every face keeping ids,
    names, hidden persons and faces placed by hand."""
    clusterer = Clusterer(lib.settings)

    def run(s: Session) -> ReclusterResult:
        clusterer.load(s)
        return clusterer.full(s) if full else clusterer.step(s, idle=True)

    return _edit(lib, run)
