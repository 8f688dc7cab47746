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
from facefold.db.browse import Neighbours, Page, PersonCard, PhotoRef, PhotoView
from facefold.db.faces import StoredFace
from facefold.db.people import PeopleError
from facefold.db.reports import BatchRow, StatusSummary
from facefold.files import ReadError
from facefold.people.assign import closest_persons
from facefold.people.likeness import Run, alike_runs
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


# the last ordering of the faces of nobody per library, with what it was made from: a page of
# them costs a query while nobody's faces stay the same
_RUNS: dict[str, tuple[object, np.ndarray, list[Run]]] = {}


@dataclass(frozen=True)
class FaceRun:
    faces: list[StoredFace]  # faces that look alike, in the order they joined
    closest: float | None  # distance of the closest two; None for a single face


@dataclass(frozen=True)
class RunsPage:
    total: int  # faces of nobody in all
    pages: int
    runs: list[FaceRun]

    @property
    def rows(self) -> list[StoredFace]:
        """The page's faces in the order shown."""
        return [f for r in self.runs for f in r.faces]


def unassigned(lib: Library, page_no: int = 1, per_page: int = 120) -> RunsPage:
    """A page of the faces of nobody, in runs of faces that look alike (closer than
    `clustering.suggest_distance`), the closest runs first, then single faces; a run is not
    cut between pages unless it is longer than a page."""
    with lib.session() as s:
        key = (store.unassigned_signature(s), lib.settings.clustering.suggest_distance)
        cached = _RUNS.get(lib.settings.database)
        if cached is None or cached[0] != key:  # the faces of nobody changed: order them again
            fm = face_store.face_matrix(s, unassigned=True)
            cached = (key, fm.face_ids, alike_runs(fm.vectors, fm.image_ids, key[1]))
            _RUNS[lib.settings.database] = cached
    _key, face_ids, runs = cached
    pages: list[list[Run]] = [[]]
    filled = 0
    for run in runs:
        for start in range(0, len(run.members), per_page):
            part = Run(run.members[start:start + per_page], run.closest)
            if filled and filled + len(part.members) > per_page:
                pages.append([])
                filled = 0
            pages[-1].append(part)
            filled += len(part.members)
    shown = pages[min(max(page_no, 1), len(pages)) - 1]
    wanted = [int(face_ids[i]) for r in shown for i in r.members]
    with lib.session() as s:
        by_id = {f.id: f for f in face_store.faces_by_id(s, wanted)}
    return RunsPage(len(face_ids), len(pages),
                    [FaceRun([by_id[int(face_ids[i])] for i in r.members
                              if int(face_ids[i]) in by_id],
                             None if r.closest is None else round(r.closest, 2))
                     for r in shown])


@dataclass(frozen=True)
class PhotoPage:
    photo: PhotoView
    persons: dict[int, PersonCard]  # the persons its faces belong to
    person: PersonCard | None = None  # the person whose photos it is browsed among
    around: Neighbours | None = None  # its place among that person's photos


def photo(lib: Library, image_id: int, among: int | None = None) -> PhotoPage:
    """A processed photo, its faces and their persons, and (`among`: a person id) its place
    among that person's photos; raise PeopleError for an unknown id."""
    with lib.session() as s:
        view = store.photo(s, image_id)
        if view is None:
            raise PeopleError(f"no photo {image_id}")
        ids = sorted({f.person_id for f in view.faces if f.person_id is not None})
        cards = store.person_cards(s, ids + ([among] if among is not None else []))
        around = None if among is None else store.neighbours_in_person(s, among, image_id)
        return PhotoPage(view, {p: cards[p] for p in ids if p in cards},
                         cards.get(among) if around is not None and among is not None else None,
                         around)


def display_name(card: PersonCard | None, pid: int | None) -> str:
    """How a message names a person: their name, else "person 12"."""
    if card is not None and card.name:
        return card.name
    return "nobody" if pid is None else f"person {pid}"


def names(lib: Library, pids: list[int]) -> dict[int, str]:
    """Each person's name as messages show it, by id."""
    with lib.session() as s:
        cards = store.person_cards(s, pids)
    return {p: display_name(cards.get(p), p) for p in pids}


def card(lib: Library, pid: int) -> PersonCard | None:
    """One person's card (faces, photos, best face), or None."""
    with lib.session() as s:
        return store.person_cards(s, [pid]).get(pid)


def owners(lib: Library, fids: list[int]) -> dict[int, int | None]:
    """The person each face belongs to now, by face id."""
    with lib.session() as s:
        return store.persons_of_faces(s, fids)


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


@dataclass(frozen=True)
class Doubts:
    total: int  # pairs left to answer, all of them
    shown: list[Doubt]  # the closest of them


def doubts(lib: Library, limit: int = 50, faces: int = 5) -> Doubts:
    """The "same person?" pairs, closest first, with each person's card and first faces, and
    how many are left in all."""
    every = suggestions(lib, None)
    pairs = every[:limit]
    ids = sorted({p for x in pairs for p in (x.a, x.b)})
    with lib.session() as s:
        cards = store.person_cards(s, ids)
        shown = {p: [f.id for f in face_store.faces_of_person(s, p, faces)] for p in ids}
    return Doubts(len(every), [Doubt(x, cards[x.a], cards[x.b], shown[x.a], shown[x.b])
                               for x in pairs if x.a in cards and x.b in cards])


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
