"""The persons table and who each face is: names, hidden persons, hand fixes, the revision
counter a running daemon watches, and the (person, photo) rows the folders are made from.

Every function takes the caller's Session and none commits. Names arrive already cleaned
(`people.names.clean_name`): this layer stores, it does not judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, exists, func, select, text, update
from sqlalchemy.orm import Session

from facefold.db.engine import rows_changed
from facefold.db.models import Face, KeptFace, Meta, Person, PersonApart
from facefold.db.types import text_to_path

PEOPLE_REV = "people_rev"  # the Meta key bumped by every change to people made outside the worker


class PeopleError(ValueError):
    """A change to people that cannot be made; the message says why."""


def create_person(s: Session) -> Person:
    p = Person()
    s.add(p)
    s.flush()
    return p


def get_person(s: Session, pid: int) -> Person:
    p = s.get(Person, pid)
    if p is None:
        raise PeopleError(f"no person {pid}")
    return p


def get_face(s: Session, fid: int) -> Face:
    f = s.get(Face, fid)
    if f is None:
        raise PeopleError(f"no face {fid}")
    return f


def set_name(s: Session, pid: int, name: str | None) -> Person:
    """Give a person a name (already cleaned), or take it away with None."""
    p = get_person(s, pid)
    p.name = name
    return p


def set_hidden(s: Session, pid: int, hidden: bool) -> Person:
    p = get_person(s, pid)
    p.hidden = hidden
    return p


def merge_persons(s: Session, target: int, others: Sequence[int]) -> int:
    """Move every face of `others` to `target` (pinned: a person said they are one), delete the
    others; `target` keeps its name, or takes the first of theirs. Return faces moved."""
    into = get_person(s, target)
    sources = [get_person(s, o) for o in others if o != target]
    if not sources:
        raise PeopleError("merge needs at least one other person")
    moved = 0
    merged = {into.id} | {src.id for src in sources}
    kept = {p for pair in apart_pairs(s) if set(pair) & merged for p in pair} - merged
    for src in sources:
        if into.name is None and src.name is not None:
            into.name = src.name
        res = s.execute(update(Face).where(Face.person_id == src.id)
                        .values(person_id=into.id, pinned=True))
        moved += rows_changed(res)
    s.execute(update(Face).where(Face.person_id == into.id).values(pinned=True))
    # who was kept apart from any of them is kept apart from the merged person; apart links
    # among them go with the persons merged away (ON DELETE CASCADE)
    for other in kept:
        set_apart(s, into.id, other, True)
    s.flush()
    for src in sources:
        s.delete(src)
    return moved


def move_face(s: Session, fid: int, pid: int) -> Face:
    """Put a face into a person by hand (pinned). Refused when the person already has another
    face of the same photo."""
    f = get_face(s, fid)
    get_person(s, pid)
    clash = s.scalar(select(Face.id).where(Face.person_id == pid, Face.image_id == f.image_id,
                                           Face.id != fid))
    if clash is not None:
        raise PeopleError(f"person {pid} already has face {clash} of the same photo; "
                          f"move or unassign that one first")
    f.person_id, f.pinned, f.not_face = pid, True, False
    return f


def unassign_face(s: Session, fid: int) -> Face:
    """Take a face out of its person by hand (pinned: clustering leaves it out)."""
    f = get_face(s, fid)
    f.person_id, f.pinned = None, True
    return f


def set_not_face(s: Session, fid: int, not_face: bool = True) -> Face:
    """Say a detection is not a face (a poster, a statue, a pattern): nobody's and pinned, no
    clustering sees it; with `not_face` False, a face again, of nobody until it is placed."""
    f = get_face(s, fid)
    f.not_face = not_face
    f.person_id, f.pinned = None, not_face
    return f


def set_apart(s: Session, a: int, b: int, apart: bool = True) -> None:
    """Record (or, with `apart` False, forget) that persons a and b are different people."""
    if a == b:
        raise PeopleError("a person cannot be kept apart from themselves")
    lo, hi = sorted((get_person(s, a).id, get_person(s, b).id))
    link = s.get(PersonApart, (lo, hi))
    if apart and link is None:
        s.add(PersonApart(person_a=lo, person_b=hi))
    elif not apart and link is not None:
        s.delete(link)
    s.flush()


def apart_pairs(s: Session) -> set[tuple[int, int]]:
    """Every (a, b) with a < b kept apart by a user."""
    return {(int(a), int(b)) for a, b in s.execute(select(PersonApart.person_a,
                                                          PersonApart.person_b))}


def delete_empty_unnamed_persons(s: Session) -> int:
    """Delete persons with no faces, no name and not hidden (their apart links go with them),
    unless faces kept for a forgotten photo name them (`KeptFace`): those wait for it to come
    back. Return how many."""
    has_face = exists().where(Face.person_id == Person.id)
    awaited = exists().where(KeptFace.person_id == Person.id)
    res = s.execute(delete(Person).where(Person.name.is_(None), ~Person.hidden, ~has_face,
                                         ~awaited))
    return rows_changed(res)


def foldered_persons(s: Session) -> list[tuple[int, str | None]]:
    """(id, name) of the persons that have a folder: those not hidden with faces, and those
    named (a named person's folder stays, empty, while their photos are away)."""
    has_face = Person.id.in_(select(Face.person_id).where(Face.person_id.is_not(None)))
    return [(int(i), n) for i, n in s.execute(
        select(Person.id, Person.name).where(~Person.hidden,
                                             has_face | Person.name.is_not(None)))]


def named_persons(s: Session) -> set[int]:
    """Persons with a name that are not hidden: the classes `identify` knows."""
    return set(s.scalars(select(Person.id).where(Person.name.is_not(None), ~Person.hidden)))


def fixed_persons(s: Session) -> set[int]:
    """Persons a user has decided something about: named or hidden."""
    return set(s.scalars(select(Person.id).where(Person.name.is_not(None) | Person.hidden)))


def person_names(s: Session) -> dict[int, str | None]:
    return {int(pid): name for pid, name in s.execute(select(Person.id, Person.name))}


def people_rev(s: Session) -> int:
    v = s.scalar(select(Meta.value).where(Meta.key == PEOPLE_REV))
    return int(v) if v is not None else 0


def bump_people_rev(s: Session) -> int:
    """Record that people changed outside the worker; return the new revision."""
    rev = people_rev(s) + 1
    meta = s.get(Meta, PEOPLE_REV)
    if meta is None:
        s.add(Meta(key=PEOPLE_REV, value=str(rev)))
    else:
        meta.value = str(rev)
    return rev


def person_photo_rows(s: Session, include_hidden: bool = False) -> list[tuple[int, str | None, str]]:
    """(person id, name, photo path) for every photo that shows a person (the `person_photos`
    view), hidden persons left out unless asked for."""
    rows = s.execute(
        text("SELECT v.person_id, v.person_name, v.photo_path FROM person_photos AS v "
             "JOIN persons AS p ON p.id = v.person_id "
             + ("" if include_hidden else "WHERE NOT p.hidden ") +
             "ORDER BY v.person_id, v.photo_path")
    ).all()
    return [(int(r[0]), r[1], text_to_path(str(r[2]))) for r in rows]


@dataclass(frozen=True)
class PersonSummary:
    id: int
    name: str | None
    faces: int
    photos: int
    hidden: bool


def person_summaries(s: Session) -> list[PersonSummary]:
    faces = dict(
        s.execute(select(Face.person_id, func.count(Face.id)).group_by(Face.person_id)).all()
    )
    photos: dict[int, int] = {
        int(pid): int(n) for pid, n in
        s.execute(text("SELECT person_id, COUNT(*) FROM person_photos GROUP BY person_id"))
    }
    return [
        PersonSummary(p.id, p.name, int(faces.get(p.id, 0)), int(photos.get(p.id, 0)), p.hidden)
        for p in s.scalars(select(Person).order_by(Person.id))
    ]


@dataclass(frozen=True)
class PeopleCounts:
    persons: int
    faces: int
    assigned_faces: int


def people_counts(s: Session) -> PeopleCounts:
    """How many persons and faces there are, and how many faces have a person: two queries."""
    faces, assigned = s.execute(
        select(func.count(Face.id), func.count(Face.person_id)).where(~Face.not_face)).one()
    return PeopleCounts(int(s.scalar(select(func.count(Person.id))) or 0), int(faces),
                        int(assigned))
