"""Reading the library a page at a time, for the web app: people by size with their best face,
a person's faces and photos, the faces of nobody, one photo with its faces.

Every query is bounded by its page (never a scan that grows with what is shown), so a library of
2,000 people and 100,000 faces pages as quickly as a small one. Every function takes the caller's
Session and none writes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from facefold.db.models import Face, Image, ImageStatus, Person
from facefold.db.people import foldered_persons
from facefold.db.types import text_to_path
from facefold.people.names import assign_folders


@dataclass(frozen=True)
class PersonCard:
    """A person as the grid shows them."""

    id: int
    name: str | None
    hidden: bool
    faces: int
    photos: int
    face_id: int | None  # the face shown for them: the best quality one


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    total: int
    rows: list[T]


def folded(text: str) -> str:
    """A name as search compares it: any case, accents and other marks left out, so that
    "inacio", "INÁCIO" and "Inácio" are one ("Ø" and "ß" fold as casefold says)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _face_counts() -> Select[Any, Any]:
    return (select(Face.person_id, func.count(Face.id).label("n"))
            .where(Face.person_id.is_not(None)).group_by(Face.person_id))


def people_page(s: Session, query: str = "", hidden: bool = False, offset: int = 0,
                limit: int = 60) -> Page[PersonCard]:
    """Persons with at least one face, largest first, shown (or, with `hidden`, hidden) ones;
    `query` matches the name (any case) or is an id (`12` or `#12`)."""
    counts = _face_counts().subquery()
    q = (select(Person.id, Person.name, Person.hidden, counts.c.n)
         .join(counts, counts.c.person_id == Person.id).where(Person.hidden == hidden))
    query = query.strip()
    if query:  # names are matched in Python: casefold knows every alphabet, SQL's lower() not
        wanted = folded(query)
        ids = {int(i) for i, n in s.execute(select(Person.id, Person.name).where(
            Person.name.is_not(None))) if wanted in folded(n or "")}
        if query.lstrip("#").isdigit():
            ids.add(int(query.lstrip("#")))
        q = q.where(Person.id.in_(ids))
    total = int(s.scalar(select(func.count()).select_from(q.subquery())) or 0)
    rows = s.execute(q.order_by(counts.c.n.desc(), Person.id).offset(offset).limit(limit)).all()
    return Page(total, _cards(s, [(int(r[0]), r[1], bool(r[2]), int(r[3])) for r in rows]))


def person_cards(s: Session, ids: Sequence[int]) -> dict[int, PersonCard]:
    """Cards for these persons (those that exist), by id."""
    counts: dict[int, int] = {int(p): int(n) for p, n in s.execute(
        _face_counts().where(Face.person_id.in_(list(ids)))) if p is not None}
    rows = s.execute(select(Person.id, Person.name, Person.hidden).where(Person.id.in_(list(ids))))
    return {c.id: c for c in _cards(s, [(int(i), n, bool(h), int(counts.get(i, 0)))
                                        for i, n, h in rows])}


def _cards(s: Session, rows: list[tuple[int, str | None, bool, int]]) -> list[PersonCard]:
    ids = [r[0] for r in rows]
    if not ids:
        return []
    binds = ",".join(str(i) for i in ids)  # ints from the database: safe to inline
    # photos: distinct photos with the person's face (copies of one photo count once)
    photos: dict[int, int] = {int(p): int(n) for p, n in s.execute(text(
        "SELECT person_id, COUNT(DISTINCT image_id) FROM faces "
        f"WHERE person_id IN ({binds}) GROUP BY person_id"))}
    # best face: the best quality, then most confident (one index probe each: ix_faces_person_best)
    best: dict[int, int] = {int(p): int(f) for p, f in s.execute(text(
        "SELECT p.id, (SELECT f.id FROM faces AS f WHERE f.person_id = p.id "
        "ORDER BY f.quality DESC, f.confidence DESC, f.id LIMIT 1) FROM persons AS p "
        f"WHERE p.id IN ({binds})")) if f is not None}
    return [PersonCard(pid, name, hidden, n, int(photos.get(pid, 0)), best.get(pid))
            for pid, name, hidden, n in rows]


@dataclass(frozen=True)
class PhotoRef:
    id: int  # the image id: the photo's address in the web app
    path: str


# the photos that show person :pid (copies of the same content too), as `i`
_PERSON_PHOTOS = ("FROM faces AS f JOIN images AS src ON src.id = f.image_id "
                  "JOIN images AS i ON i.sha256 = src.sha256 WHERE f.person_id = :pid "
                  "AND i.status = 'done'")


def photos_of_person(s: Session, pid: int, offset: int = 0, limit: int = 60) -> Page[PhotoRef]:
    """The photos that show a person (copies of the same content too), by path."""
    total = int(s.execute(text(f"SELECT COUNT(DISTINCT i.id) {_PERSON_PHOTOS}"),
                          {"pid": pid}).scalar() or 0)
    rows = s.execute(text(f"SELECT DISTINCT i.id, i.path {_PERSON_PHOTOS} ORDER BY i.path "
                          "LIMIT :limit OFFSET :offset"),
                     {"pid": pid, "limit": limit, "offset": offset}).all()
    return Page(total, [PhotoRef(int(i), text_to_path(str(p))) for i, p in rows])


@dataclass(frozen=True)
class Neighbours:
    """Where a photo stands among a person's photos (as photos_of_person orders them)."""

    previous: int | None  # image ids; None at either end
    next: int | None
    position: int  # 1-based
    total: int


def neighbours_in_person(s: Session, pid: int, image_id: int) -> Neighbours | None:
    """The photos before and after `image_id` among person `pid`'s; None when it is not one
    of theirs."""
    ids = [int(r[0]) for r in s.execute(text(
        f"SELECT DISTINCT i.id, i.path {_PERSON_PHOTOS} ORDER BY i.path"), {"pid": pid})]
    if image_id not in ids:
        return None
    k = ids.index(image_id)
    return Neighbours(ids[k - 1] if k > 0 else None, ids[k + 1] if k + 1 < len(ids) else None,
                      k + 1, len(ids))


def persons_of_faces(s: Session, fids: Sequence[int]) -> dict[int, int | None]:
    """The person each face belongs to now (None: nobody), by face id."""
    return {int(f): (None if p is None else int(p)) for f, p in s.execute(
        select(Face.id, Face.person_id).where(Face.id.in_(list(fids))))}


def unassigned_signature(s: Session) -> tuple[int, int, int]:
    """(how many, sum and highest of their ids) of the faces of nobody: changes whenever one
    joins or leaves them."""
    n, total, top = s.execute(select(func.count(Face.id), func.sum(Face.id), func.max(Face.id))
                              .where(Face.person_id.is_(None), ~Face.not_face)).one()
    return int(n), int(total or 0), int(top or 0)


def count_faces_of(s: Session, pid: int | None) -> int:
    """How many faces a person has (None: how many faces have nobody, not-a-face detections
    left out)."""
    where = (Face.person_id.is_(None) & ~Face.not_face) if pid is None else Face.person_id == pid
    return int(s.scalar(select(func.count(Face.id)).where(where)) or 0)


def folder_of(s: Session, pid: int) -> str | None:
    """The person's folder name under the people folder, or None when they have none (hidden,
    or unnamed without faces)."""
    return assign_folders(foldered_persons(s)).get(pid)


@dataclass(frozen=True)
class BoxedFace:
    id: int
    person_id: int | None
    box: tuple[float, float, float, float]  # x, y, w, h in full-size upright pixels
    confidence: float


@dataclass(frozen=True)
class PhotoView:
    id: int
    path: str
    width: int
    height: int
    faces: list[BoxedFace]


def photo(s: Session, image_id: int) -> PhotoView | None:
    """A processed photo and its faces (faces hang off the first copy of the content); None for
    an id the database does not know or a photo not processed."""
    img = s.get(Image, image_id)
    if img is None or img.status != ImageStatus.done or img.sha256 is None:
        return None
    src = select(Image.id).where(Image.sha256 == img.sha256)
    faces = s.execute(select(Face.id, Face.person_id, Face.box_x, Face.box_y, Face.box_w,
                             Face.box_h, Face.confidence)
                      .where(Face.image_id.in_(src), ~Face.not_face)  # thrown away: not shown
                      .order_by(Face.box_x)).all()
    return PhotoView(img.id, img.path, int(img.width or 0), int(img.height or 0),
                     [BoxedFace(int(f[0]), f[1], (f[2], f[3], f[4], f[5]), float(f[6]))
                      for f in faces])


def image_path(s: Session, image_id: int) -> str | None:
    """The path of a processed photo the database knows, else None."""
    return s.scalar(select(Image.path).where(Image.id == image_id,
                                             Image.status == ImageStatus.done))


def photo_of_face(s: Session, fid: int) -> int | None:
    """The image id a face was found in."""
    return s.scalar(select(Face.image_id).where(Face.id == fid))


def persons_named(s: Session, query: str, limit: int = 10) -> list[tuple[int, str | None, int]]:
    """(id, name, faces) of shown persons whose name contains `query` (any case), or whose id
    it is; largest first."""
    page = people_page(s, query, hidden=False, limit=limit)
    return [(c.id, c.name, c.faces) for c in page.rows]


def image_sha(s: Session, image_id: int) -> str | None:
    """The content hash a processed photo had when it was processed."""
    return s.scalar(select(Image.sha256).where(Image.id == image_id,
                                               Image.status == ImageStatus.done))
