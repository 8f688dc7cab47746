"""What the library holds, for people to read: status, persons, a person's faces, thumbnails,
the static review page and contact sheets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facefold.core.library import Library
from facefold.core.people import suggestions
from facefold.core.photo import open_photo, stored_crop
from facefold.core.pipeline import BatchResult
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.db import reports as report_store
from facefold.db.faces import StoredFace
from facefold.db.people import PeopleError, PersonSummary
from facefold.db.reports import StatusSummary
from facefold.files import ReadError
from facefold.people.names import assign_folders
from facefold.review import ReviewPair, ReviewPerson, compose_sheet, render_review
from facefold.thumbs import thumb_path, write_thumb
from facefold.vision.decode import DecodeError

FACES_PER_PERSON = 12  # thumbnails in a person's row of the review page
UNASSIGNED_SHOWN = 400  # faces of nobody shown at the end of the review page
SHEET_MAX_FACES = 100  # faces on a contact sheet
SUGGESTIONS_SHOWN = 20  # "same person?" pairs at the top of the review page


def status(lib: Library) -> StatusSummary:
    """The queue by status, faces, people, the oldest queued photo, the last batch and errors."""
    with lib.session() as s:
        return report_store.status_summary(s)


def record_batch(lib: Library, res: BatchResult, new_persons: int, seconds: float) -> None:
    """Keep what a worker batch did (for `facefold status`)."""
    with lib.session() as s:
        report_store.record_batch(s, res.photos, res.faces, new_persons, len(res.failures),
                                  seconds)
        s.commit()


def persons(lib: Library) -> list[PersonSummary]:
    with lib.session() as s:
        return people_store.person_summaries(s)


def faces_of(lib: Library, pid: int, limit: int | None = None) -> list[StoredFace]:
    """A person's faces, most confident first; raise PeopleError for an unknown person."""
    with lib.session() as s:
        people_store.get_person(s, pid)
        return face_store.faces_of_person(s, pid, limit)


def ensure_thumb(lib: Library, face: StoredFace) -> Path | None:
    """The face's thumbnail, made again from its photo when missing; None when the photo cannot
    be read any more."""
    path = thumb_path(lib.settings.state_dir, face.id)
    if path.exists():
        return path
    try:
        _photo, decoded = open_photo(Path(face.path), lib.settings)
    except (ReadError, DecodeError):
        return None
    write_thumb(path, stored_crop(decoded, face.landmarks, lib.settings.embedding.margin))
    return path


@dataclass(frozen=True)
class ReviewResult:
    path: Path
    persons: int
    faces_shown: int
    unassigned_shown: int


def review(lib: Library, out_dir: Path | None = None) -> ReviewResult:
    """Write `index.html` (default folder: state/review) showing every person's most confident
    faces and the faces of nobody; return where, and what it shows."""
    settings = lib.settings
    out_dir = out_dir or settings.state_dir / "review"
    out_dir.mkdir(parents=True, exist_ok=True)
    with lib.session() as s:
        summaries = people_store.person_summaries(s)
        faces = face_store.top_faces(s, FACES_PER_PERSON, UNASSIGNED_SHOWN)
        folders = assign_folders(people_store.foldered_persons(s))
    thumbs: dict[int | None, list[tuple[int, str]]] = {}
    for f in faces:
        p = ensure_thumb(lib, f)
        if p is not None:
            rel = Path(os.path.relpath(p, out_dir)).as_posix()
            thumbs.setdefault(f.person_id, []).append((f.id, rel))
    visible = sorted((p for p in summaries if p.faces > 0), key=lambda p: (p.hidden, -p.faces, p.id))
    rows = [ReviewPerson(p, thumbs.get(p.id, []), None if p.hidden or p.id not in folders else
                         Path(os.path.relpath(settings.people / folders[p.id], out_dir)).as_posix())
            for p in visible]
    loose = thumbs.get(None, [])
    titles = {p.id: p.name or f"person {p.id}" for p in summaries}
    pairs = [ReviewPair(x.a, x.b, titles[x.a], titles[x.b], x.distance, thumbs.get(x.a, []),
                        thumbs.get(x.b, [])) for x in suggestions(lib, SUGGESTIONS_SHOWN)]
    page = render_review(rows, loose, sum(f.person_id is None for f in faces), str(settings.people),
                         pairs)
    path = out_dir / "index.html"
    tmp = path.with_name("index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return ReviewResult(path, len(visible), sum(len(r.thumbs) for r in rows), len(loose))


def sheet(lib: Library, pid: int, out: Path | None = None) -> tuple[Path, int]:
    """Write a contact sheet PNG of a person's faces (most confident first, default
    state/sheets/person_0001.png); return its path and how many faces it shows."""
    out = out or lib.settings.state_dir / "sheets" / f"person_{pid:04d}.png"
    tiles: list[np.ndarray] = []
    for f in faces_of(lib, pid, SHEET_MAX_FACES):
        p = ensure_thumb(lib, f)
        img = cv2.imread(str(p)) if p is not None else None
        if img is not None:
            tiles.append(img)
    if not tiles:
        raise PeopleError(f"person {pid} has no faces to show")
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), compose_sheet(tiles)):
        raise OSError(f"cannot write {out}")
    return out, len(tiles)
