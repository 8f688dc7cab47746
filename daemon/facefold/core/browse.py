"""Browsing the library a page at a time (the web app's reads): people, a person, the faces of
nobody, one photo with its faces, who a chosen set of faces looks like, the queue; and the
images it shows, made once and cached in the state dir.

Images are found by id, never by a path from outside: a face's thumbnail, or a photo the
database knows, read again from the inbox with the same checks as the worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facefold.core.library import Library
from facefold.core.people import Suggestion, suggestions
from facefold.core.photo import open_photo
from facefold.core.reports import ensure_thumb
from facefold.db import browse as store
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.db import reports as report_store
from facefold.db.browse import Page, PersonCard, PhotoRef, PhotoView
from facefold.db.faces import StoredFace
from facefold.db.people import PeopleError
from facefold.db.reports import BatchRow, StatusSummary
from facefold.files import ReadError
from facefold.people.assign import closest_persons
from facefold.vision.decode import DecodeError

PREVIEW_SIDES = {"large": 1600, "small": 360}  # longest side, pixels, of a photo as shown
PREVIEW_QUALITY = 85  # JPEG quality of the cached previews
PREVIEWS_PER_FOLDER = 1000  # image ids are spread over folders of at most this many files


def people(lib: Library, query: str = "", hidden: bool = False, offset: int = 0,
           limit: int = 60) -> Page[PersonCard]:
    """Persons with faces, largest first; `query` matches names (or an id)."""
    with lib.session() as s:
        return store.people_page(s, query, hidden, offset, limit)


@dataclass(frozen=True)
class PersonView:
    card: PersonCard
    folder: Path | None  # the person's folder; None: hidden, or no photos yet
    faces: Page[StoredFace]  # most confident first
    photos: Page[PhotoRef]


def person(lib: Library, pid: int, faces_offset: int = 0, photos_offset: int = 0,
           limit: int = 60) -> PersonView:
    """A person, a page of their faces and a page of their photos; raise PeopleError for an
    unknown id."""
    with lib.session() as s:
        people_store.get_person(s, pid)
        card = store.person_cards(s, [pid])[pid]
        folder = store.folder_of(s, pid)
        faces = Page(card.faces, face_store.faces_of_person(s, pid, limit, faces_offset))
        photos = store.photos_of_person(s, pid, photos_offset, limit)
    return PersonView(card, None if folder is None else lib.settings.people / folder, faces,
                      photos)


def unassigned(lib: Library, offset: int = 0, limit: int = 120) -> Page[StoredFace]:
    """The faces of nobody, most confident first."""
    with lib.session() as s:
        return Page(store.count_faces_of(s, None),
                    face_store.faces_of_person(s, None, limit, offset))


@dataclass(frozen=True)
class PhotoPage:
    photo: PhotoView
    persons: dict[int, PersonCard]  # the persons its faces belong to


def photo(lib: Library, image_id: int) -> PhotoPage:
    """A processed photo, its faces and their persons; raise PeopleError for an unknown id."""
    with lib.session() as s:
        view = store.photo(s, image_id)
        if view is None:
            raise PeopleError(f"no photo {image_id}")
        ids = sorted({f.person_id for f in view.faces if f.person_id is not None})
        return PhotoPage(view, store.person_cards(s, ids))


def photo_of_face(lib: Library, fid: int) -> int:
    """The id of the photo a face is in; raise PeopleError for an unknown face."""
    with lib.session() as s:
        image_id = store.photo_of_face(s, fid)
    if image_id is None:
        raise PeopleError(f"no face {fid}")
    return image_id


def similar(lib: Library, fid: int, limit: int = 10) -> list[tuple[StoredFace, float]]:
    """The faces that look most like face `fid`, nearest first, with their distances; raise
    PeopleError when there is no such face."""
    with lib.session() as s:
        try:
            return face_store.nearest_faces(s, fid, limit)
        except KeyError:
            raise PeopleError(f"no face {fid}") from None


def similar_sql(lib: Library, fid: int, limit: int = 10) -> str:
    """The same question in SQL, for a user's own database session (psql, or the sqlite3
    shell with the sqlite-vec extension loaded)."""
    if lib.engine.dialect.name == "postgresql":
        return ("SELECT f.id, f.person_id, i.path, f.embedding <-> q.embedding AS distance\n"
                "FROM faces f JOIN images i ON i.id = f.image_id,\n"
                f"     (SELECT embedding FROM faces WHERE id = {fid}) AS q\n"
                f"WHERE f.id <> {fid} ORDER BY f.embedding <-> q.embedding LIMIT {limit};")
    import sqlite_vec

    return (f".load {sqlite_vec.loadable_path()}\n"
            "SELECT f.id, f.person_id, i.path,\n"
            f"       vec_distance_l2(f.embedding, (SELECT embedding FROM faces WHERE id = {fid}))"
            " AS distance\n"
            "FROM faces f JOIN images i ON i.id = f.image_id\n"
            f"WHERE f.id <> {fid} ORDER BY distance LIMIT {limit};")


def pick_person(lib: Library, query: str, limit: int = 10) -> list[PersonCard]:
    """Shown persons matching a name (or id) typed so far, largest first."""
    with lib.session() as s:
        return store.people_page(s, query, False, 0, limit).rows


@dataclass(frozen=True)
class Candidate:
    card: PersonCard
    distance: float  # RMS distance between the chosen faces and the person's faces


def closest(lib: Library, fids: list[int], limit: int = 5) -> list[Candidate]:
    """The shown persons the chosen faces look most like (their own persons left out)."""
    with lib.session() as s:
        fm = face_store.face_matrix(s)
        hidden = {p.id for p in people_store.person_summaries(s) if p.hidden}
        chosen = np.isin(fm.face_ids, fids)
        own = {int(p) for p in fm.person_ids[chosen] if p >= 0}
        keep = (fm.person_ids >= 0) & ~np.isin(fm.person_ids, list(hidden | own)) & ~chosen
        persons = np.where(keep, fm.person_ids, -1)
        ranked = closest_persons(fm.vectors[chosen], fm.vectors, persons, limit)
        cards = store.person_cards(s, [p for p, _d in ranked])
    return [Candidate(cards[p], round(d, 3)) for p, d in ranked if p in cards]


@dataclass(frozen=True)
class Doubt:
    pair: Suggestion
    a: PersonCard
    b: PersonCard
    faces_a: list[int]  # face ids, most confident first
    faces_b: list[int]


def doubts(lib: Library, limit: int = 50, faces: int = 5) -> list[Doubt]:
    """The "same person?" pairs, closest first, with each person's card and first faces."""
    pairs = suggestions(lib, limit)
    ids = sorted({p for x in pairs for p in (x.a, x.b)})
    with lib.session() as s:
        cards = store.person_cards(s, ids)
        shown = {p: [f.id for f in face_store.faces_of_person(s, p, faces)] for p in ids}
    return [Doubt(x, cards[x.a], cards[x.b], shown[x.a], shown[x.b]) for x in pairs
            if x.a in cards and x.b in cards]


@dataclass(frozen=True)
class QueueView:
    summary: StatusSummary
    processing: list[str]
    batches: list[BatchRow]  # newest first


def queue(lib: Library, batches: int = 10) -> QueueView:
    """The queue by status, what is being processed, failures and the last batches."""
    with lib.session() as s:
        return QueueView(report_store.status_summary(s), report_store.processing_paths(s),
                         report_store.recent_batches(s, batches))


# The images shown: made on first request, kept in the state dir.

def face_thumbnail(lib: Library, fid: int) -> Path | None:
    """A face's thumbnail JPEG; None for an unknown face or one whose photo is gone."""
    with lib.session() as s:
        found = face_store.faces_by_id(s, [fid])
    return ensure_thumb(lib, found[0]) if found else None


def _preview_path(state_dir: Path, image_id: int, sha: str, size: str) -> Path:
    return (state_dir / "previews" / size / f"{image_id // PREVIEWS_PER_FOLDER:04d}"
            / f"{image_id}-{sha[:16]}.jpg")


def photo_preview(lib: Library, image_id: int, size: str = "large") -> Path | None:
    """A processed photo, upright and downscaled to PREVIEW_SIDES[size], as a cached JPEG; None
    when the database does not know the photo, it has changed or gone, or it lies outside the
    inbox (a folder replaced by a symlink)."""
    settings = lib.settings
    with lib.session() as s:
        path = store.image_path(s, image_id)
        sha = store.image_sha(s, image_id)
    if path is None or sha is None:
        return None
    out = _preview_path(settings.state_dir, image_id, sha, size)
    if out.exists():
        return out
    src = Path(path)
    inbox = settings.inbox.resolve()
    if not settings.follow_symlinks and not src.resolve().is_relative_to(inbox):
        return None
    try:
        photo_file, decoded = open_photo(src, settings)
    except (ReadError, DecodeError):
        return None
    if photo_file.sha256 != sha:
        return None  # changed since it was processed: the worker will look at it again
    img = decoded.pixels
    side = PREVIEW_SIDES[size]
    h, w = img.shape[:2]
    if max(h, w) > side:
        f = side / max(h, w)
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))),
                         interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, PREVIEW_QUALITY])
    if not ok:
        return None
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, out)
    return out
