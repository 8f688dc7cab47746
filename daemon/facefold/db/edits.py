"""The edit log: before a hand edit, the persons, faces and apart links it touches are saved as
they are, and after it, which persons exist; undoing the edit puts them back (persons it deleted
come back with their ids, persons it created go).

Every function takes the caller's Session and none commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from facefold.db.models import EditLog, Face, Person, PersonApart
from facefold.db.people import PeopleError


class UndoRefused(PeopleError):
    """The newest edit cannot be undone any more (the library moved on in a way that conflicts)."""


@dataclass(frozen=True)
class Touched:
    """What an edit may change: these persons (their name, hidden flag, apart links, existence)
    and these faces (their person, pin, and whether they are a face)."""

    persons: frozenset[int]
    faces: frozenset[int]


def touched(s: Session, persons: Iterable[int], faces: Iterable[int],
            with_faces_of_persons: bool) -> Touched:
    """The persons and faces given, plus the persons those faces are in now (and, when asked,
    every face of the persons)."""
    pids = set(persons)
    fids = set(faces)
    if fids:
        pids |= {p for p in s.scalars(select(Face.person_id).where(Face.id.in_(fids)))
                 if p is not None}
    if with_faces_of_persons and pids:
        fids |= set(s.scalars(select(Face.id).where(Face.person_id.in_(pids))))
    return Touched(frozenset(pids), frozenset(fids))


def record(s: Session, action: str, what: Touched) -> EditLog:
    """Save the state of what an edit touches, before the edit runs."""
    persons = [{"id": p.id, "name": p.name, "hidden": p.hidden}
               for p in s.scalars(select(Person).where(Person.id.in_(what.persons)))]
    faces = [{"id": fid, "person_id": pid, "pinned": bool(pinned), "not_face": bool(nf)}
             for fid, pid, pinned, nf in s.execute(select(
                 Face.id, Face.person_id, Face.pinned, Face.not_face).where(
                 Face.id.in_(what.faces)))]
    apart = [[a, b] for a, b in s.execute(select(PersonApart.person_a, PersonApart.person_b).where(
        or_(PersonApart.person_a.in_(what.persons), PersonApart.person_b.in_(what.persons))))]
    entry = EditLog(action=action, before=json.dumps(
        {"persons": persons, "faces": faces, "apart": apart, "touched": sorted(what.persons),
         "touched_faces": sorted(what.faces)}))
    s.add(entry)
    s.flush()
    return entry


def finish(s: Session, entry: EditLog) -> None:
    """After the edit ran: note which persons exist among those it touched or put faces in."""
    s.flush()
    before = json.loads(entry.before)
    pids = set(before["touched"])
    pids |= {p for p in s.scalars(select(Face.person_id).where(
        Face.id.in_(before["touched_faces"]))) if p is not None}
    before["after"] = sorted(s.scalars(select(Person.id).where(Person.id.in_(pids))))
    entry.before = json.dumps(before)


def last(s: Session) -> EditLog | None:
    # pragma below: any LIMIT of 1 or more (or none) gives first() the same newest row
    return s.scalars(select(EditLog).order_by(EditLog.id.desc()).limit(1)).first()  # pragma: no mutate


def undo_last(s: Session) -> str | None:
    """Put back what the newest edit touched and forget it; return its action, or None when
    there is nothing to undo."""
    entry = last(s)
    if entry is None:
        return None
    before = json.loads(entry.before)
    had = {p["id"] for p in before["persons"]}
    after = set(before["after"])
    gone = had - after  # persons the edit deleted (merged away)
    reused = set(s.scalars(select(Person.id).where(Person.id.in_(gone))))
    if reused:
        raise UndoRefused(f"cannot undo {entry.action!r}: person id(s) {sorted(reused)} have "
                          "been given to new people since")
    made = set(s.scalars(select(Person.id).where(Person.id.in_(after - had))))
    touched_ids = had | made
    for p in before["persons"]:
        person = s.get(Person, p["id"])
        if person is None:
            s.add(Person(id=p["id"], name=p["name"], hidden=p["hidden"]))
        else:
            person.name, person.hidden = p["name"], p["hidden"]
    s.flush()
    for f in before["faces"]:
        s.execute(update(Face).where(Face.id == f["id"]).values(
            person_id=f["person_id"], pinned=f["pinned"], not_face=f.get("not_face", False)))
    s.execute(delete(PersonApart).where(or_(PersonApart.person_a.in_(touched_ids),
                                            PersonApart.person_b.in_(touched_ids))))
    for a, b in before["apart"]:
        if s.get(Person, a) is not None and s.get(Person, b) is not None:
            s.add(PersonApart(person_a=a, person_b=b))
    s.flush()
    if made:  # their faces become nobody's (ON DELETE SET NULL)
        s.execute(delete(Person).where(Person.id.in_(made)))
    s.delete(entry)
    return entry.action
