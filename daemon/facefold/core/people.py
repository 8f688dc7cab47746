"""People as the user sees them: reclustering, the per-person folders, and the hand edits (name,
merge, move, unassign, ignore), each written to the database first, then the folders follow.

A running daemon notices edits made by other processes through the people revision counter.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from sqlalchemy.orm import Session

from facefold.core.clusterer import Clusterer, ReclusterResult
from facefold.core.library import Library
from facefold.db import edits
from facefold.db import people as store
from facefold.db.models import EditLog
from facefold.people.folders import SyncResult, plan_links, sync_folders
from facefold.people.names import assign_folders, clean_name
from facefold.timing import Stopwatch

T = TypeVar("T")


def sync_people_folders(lib: Library) -> SyncResult:
    """Bring the people folder in line with the persons in the store: one folder per visible
    person with photos, named after the person (or `person_0001`); a named person's folder stays
    while they have none (their photos away: a disk unplugged). Runs under a lock in the state
    dir, so the daemon and a CLI command never sync at once."""
    settings = lib.settings
    with lib.session() as s:
        rows = store.person_photo_rows(s)
        folders = assign_folders(store.foldered_persons(s))
    plan = plan_links((folders[pid], path) for pid, _name, path in rows)
    for folder in folders.values():
        plan.setdefault(folder, {})
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


def _commit_and_sync(lib: Library, s: Session) -> None:
    store.bump_people_rev(s)  # a running daemon reloads who is who
    s.commit()
    sync_people_folders(lib)


def _edit(lib: Library, action: str, change: Callable[[Session, EditLog], T],
          persons: Iterable[int] = (), faces: Iterable[int] = (),
          whole_persons: bool = False) -> T:
    """Make one hand change to people, logged so that it can be undone, record it for a
    running daemon, commit, sync the folders. `persons` and `faces` (and, with `whole_persons`,
    every face of those persons) are what the change may touch. Raise PeopleError (or
    NameRefused) when the change cannot be made; nothing is written then."""
    with lib.session() as s:
        entry = edits.record(s, action, edits.touched(s, persons, faces, whole_persons))
        out = change(s, entry)
        edits.finish(s, entry)
        _commit_and_sync(lib, s)
    return out


def _faces(fids: Sequence[int]) -> str:
    """ "face 7" or "3 faces (7, 8, 9)": what an edit touched, as its undo names it."""
    if len(fids) == 1:
        return f"face {fids[0]}"
    listed = ", ".join(str(f) for f in fids[:5]) + (", …" if len(fids) > 5 else "")
    return f"{len(fids)} faces ({listed})"


def _persons(pids: Sequence[int]) -> str:
    return f"person {pids[0]}" if len(pids) == 1 else \
        "persons " + ", ".join(str(p) for p in pids[:-1]) + f" and {pids[-1]}"


def undo(lib: Library) -> str | None:
    """Undo the newest hand change not undone yet (name, merge, move, …); return what it was,
    or None when there is nothing left to undo."""
    with lib.session() as s:
        action = edits.undo_last(s)
        if action is not None:
            _commit_and_sync(lib, s)
    return action


def name(lib: Library, pid: int, new_name: str | None) -> str | None:
    """Name a person (its folder takes the name), or take the name away; return the name as
    stored (cleaned: NFC, whitespace tidied)."""
    cleaned = None if new_name is None else clean_name(new_name)
    return _edit(lib, f"naming person {pid}", lambda s, _e: store.set_name(s, pid, cleaned).name,
                 persons=[pid])


def merge(lib: Library, target: int, others: Sequence[int]) -> int:
    """Merge persons into `target` (their faces are pinned to it); return faces moved."""
    return _edit(lib, f"merging {_persons(others)} into person {target}",
                 lambda s, _e: store.merge_persons(s, target, others),
                 persons=[target, *others], whole_persons=True)


def move(lib: Library, fid: int, pid: int) -> None:
    """Put one face into a person by hand (pinned: clustering never moves it)."""
    move_faces(lib, [fid], pid)


def move_faces(lib: Library, fids: Sequence[int], pid: int) -> None:
    """Put faces into a person by hand (pinned); refused when the person would hold two faces
    of one photo."""
    def change(s: Session, _e: EditLog) -> None:
        for fid in fids:
            store.move_face(s, fid, pid)
            s.flush()

    _edit(lib, f"moving {_faces(fids)} to person {pid}", change, persons=[pid], faces=fids)


def unassign(lib: Library, fid: int) -> None:
    """Take one face out of its person by hand (pinned: it stays out)."""
    unassign_faces(lib, [fid])


def unassign_faces(lib: Library, fids: Sequence[int]) -> None:
    """Take faces out of their persons by hand (pinned: they stay out)."""
    def change(s: Session, _e: EditLog) -> None:
        for fid in fids:
            store.unassign_face(s, fid)

    _edit(lib, f"taking {_faces(fids)} out", change, faces=fids)


def not_a_face(lib: Library, fids: Sequence[int], undo: bool = False) -> None:
    """Say detections are not faces (for good: kept by content, no recluster brings them
    back, they leave every folder), or, with `undo`, that they are faces after all."""
    def change(s: Session, _e: EditLog) -> None:
        for fid in fids:
            store.set_not_face(s, fid, not undo)

    what = "as faces again" if undo else "as not a face"
    _edit(lib, f"marking {_faces(fids)} {what}", change, faces=fids)


def new_person(lib: Library, fids: Sequence[int], new_name: str | None = None) -> int:
    """Make a new person of the given faces (pinned to it), named or not; return its id."""
    cleaned = None if new_name is None else clean_name(new_name)
    if not fids:
        raise store.PeopleError("a new person needs at least one face")

    def change(s: Session, entry: EditLog) -> int:
        pid = store.create_person(s).id
        store.set_name(s, pid, cleaned)
        for fid in fids:
            store.move_face(s, fid, pid)
            s.flush()
        return pid

    return _edit(lib, f"making a new person of {_faces(fids)}", change, faces=fids)


def ignore(lib: Library, pid: int, hidden: bool = True) -> None:
    """Hide a person (no folder; new faces that match go to them quietly), or show them again."""
    _edit(lib, f"hiding person {pid}" if hidden else f"showing person {pid} again",
          lambda s, _e: store.set_hidden(s, pid, hidden), persons=[pid])


def apart(lib: Library, a: int, b: int, keep_apart: bool = True) -> None:
    """Record that persons a and b are different people (a cannot-link every later recluster
    honours, and suggestions never offer again), or, with `keep_apart` False, forget it."""
    _edit(lib, f"{'keeping' if keep_apart else 'no longer keeping'} persons {a} and {b} apart",
          lambda s, _e: store.set_apart(s, a, b, keep_apart), persons=[a, b])


@dataclass(frozen=True)
class Suggestion:
    """Two persons that may be one: how far apart their centres are once the noise of their
    faces is taken away (people.cluster's criterion; they merge below clustering.person_distance)."""

    a: int
    b: int
    distance: float
    name_a: str | None
    name_b: str | None
    faces_a: int
    faces_b: int


def suggestions(lib: Library, limit: int | None = 50) -> list[Suggestion]:
    """Pairs of visible persons that may be one (closer than `clustering.suggest_distance`, not
    merged, not kept apart, no photo in common), closest first."""
    from facefold.core.clusterer import cluster_params
    from facefold.db import faces as face_store
    from facefold.people.assign import Persons, doubtful_pairs

    with lib.session() as s:
        fm = face_store.face_matrix(s)
        summaries = {p.id: p for p in store.person_summaries(s) if not p.hidden}
        apart_pairs = store.apart_pairs(s)
    visible = np.isin(fm.person_ids, list(summaries))
    params = cluster_params(lib.settings)
    persons = Persons.of(fm.vectors, np.where(visible, fm.person_ids, -1), fm.image_ids,
                         fm.quality, params)
    pairs = doubtful_pairs(persons, params, lib.settings.clustering.suggest_distance,
                           apart_pairs)
    return [Suggestion(a, b, round(d, 4), summaries[a].name, summaries[b].name,
                       summaries[a].faces, summaries[b].faces) for a, b, d in pairs[:limit]]


def recluster(lib: Library, full: bool = False) -> ReclusterResult:
    """Assign waiting faces and cluster the pool, or (`full`) recluster every face keeping ids,
    names, hidden persons and faces placed by hand."""
    clusterer = Clusterer(lib.settings)
    with lib.session() as s:
        clusterer.load(s)
        rc = clusterer.full(s) if full else clusterer.step(s, idle=True)
        _commit_and_sync(lib, s)
    return rc
