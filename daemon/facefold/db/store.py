"""Reading and writing facefold's data. Every function takes the caller's Session; none commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from facefold.db.models import (
    EMBEDDING_DTYPE,
    Batch,
    Face,
    Image,
    ImageStatus,
    Meta,
    Person,
    utcnow,
)


class PeopleError(ValueError):
    """A change to people that cannot be made; the message says why."""


@dataclass(frozen=True)
class NewFace:
    box: tuple[float, float, float, float]
    landmarks: list[list[float]]
    confidence: float
    embedding: np.ndarray  # (128,) float32, unit length
    weights: str = ""  # which FaceNet weights made the embedding (Embedder.weights_id)


@dataclass(frozen=True)
class FaceMatrix:
    """Stored faces as arrays, row-aligned: what clustering needs, loaded in one query."""

    face_ids: np.ndarray
    image_ids: np.ndarray
    person_ids: np.ndarray  # -1 where unassigned
    vectors: np.ndarray  # (N, 128) float32
    pinned: np.ndarray  # bool: placed (or unassigned) by hand, never moved by clustering


def image_by_path(s: Session, path: str) -> Image | None:
    return s.scalars(select(Image).where(Image.path == path)).one_or_none()


def images_by_path(s: Session) -> dict[str, Image]:
    return {img.path: img for img in s.scalars(select(Image))}


def done_image_with_content(s: Session, sha256: str, exclude_path: str | None = None) -> Image | None:
    """The image (lowest id) already processed with this content, other than `exclude_path`."""
    q = select(Image).where(Image.sha256 == sha256, Image.status == ImageStatus.done)
    if exclude_path is not None:
        q = q.where(Image.path != exclude_path)
    return s.scalars(q.order_by(Image.id).limit(1)).one_or_none()


def _detach_faces(s: Session, img: Image) -> None:
    """Before `img` loses its content: hand its faces to another path with the same content, or
    delete them when there is none."""
    if img.sha256 is None:
        return
    heir = done_image_with_content(s, img.sha256, exclude_path=img.path)
    if heir is not None:
        s.execute(update(Face).where(Face.image_id == img.id).values(image_id=heir.id))
    else:
        s.execute(delete(Face).where(Face.image_id == img.id))
    s.expire(img, ["faces"])


def _upsert(s: Session, path: str, sha256: str | None, size: int | None,
            mtime: float | None) -> Image:
    img = image_by_path(s, path)
    if img is None:
        img = Image(path=path, status=ImageStatus.queued, attempts=0)
        s.add(img)
    elif img.sha256 != sha256:
        _detach_faces(s, img)
    img.sha256, img.size, img.mtime = sha256, size, mtime
    return img


def record_processed(s: Session, path: str, sha256: str, size: int, mtime: float,
                     width: int, height: int, faces: Sequence[NewFace]) -> list[int]:
    """Store a processed photo and its faces (replacing what the path held before); return the
    new faces' ids, in the order given."""
    img = _upsert(s, path, sha256, size, mtime)
    img.width, img.height = width, height
    img.status, img.error, img.next_attempt_at = ImageStatus.done, None, None
    img.attempts += 1
    s.flush()
    s.execute(delete(Face).where(Face.image_id == img.id))
    rows = [Face(
        image_id=img.id, box_x=f.box[0], box_y=f.box[1], box_w=f.box[2], box_h=f.box[3],
        landmarks=json.dumps(f.landmarks), confidence=f.confidence,
        embedding=np.asarray(f.embedding, dtype=EMBEDDING_DTYPE).tobytes(), weights=f.weights,
    ) for f in faces]
    s.add_all(rows)
    s.flush()
    return [r.id for r in rows]


def record_duplicate(s: Session, path: str, sha256: str, size: int, mtime: float) -> Image:
    """Store a path whose content was already processed under another path: no faces of its own."""
    img = _upsert(s, path, sha256, size, mtime)
    img.status, img.error = ImageStatus.done, None
    if img.id is not None:
        s.execute(delete(Face).where(Face.image_id == img.id))
    return img


def record_unchanged(s: Session, path: str, size: int, mtime: float) -> None:
    """The path's content is what was already processed: done again, nothing recomputed."""
    img = image_by_path(s, path)
    if img is not None:
        img.size, img.mtime, img.status, img.error = size, mtime, ImageStatus.done, None


def record_moved(s: Session, old: Image, path: str, size: int, mtime: float) -> Image:
    """`old`'s file is gone and its content now lives at `path`: `path` takes over its faces (no
    re-embedding) and the old row goes."""
    img = image_by_path(s, path)
    if img is None:
        img = Image(path=path, status=ImageStatus.queued, attempts=0)
        s.add(img)
    elif img.sha256 != old.sha256:
        _detach_faces(s, img)
    img.sha256, img.size, img.mtime = old.sha256, size, mtime
    img.width, img.height = old.width, old.height
    img.status, img.error = ImageStatus.done, None
    s.flush()
    s.execute(update(Face).where(Face.image_id == old.id).values(image_id=img.id))
    s.expire(old, ["faces"])
    s.delete(old)
    return img


def move_path(s: Session, src: str, dest: str) -> bool:
    """A file was renamed: the stored row follows it. Return False when there is nothing to move
    (src unknown, or dest already stored)."""
    img = image_by_path(s, src)
    if img is None or image_by_path(s, dest) is not None:
        return False
    img.path = dest
    return True


def move_folder(s: Session, src: str, dest: str) -> int:
    """A folder was renamed: every stored path under it follows. Return how many."""
    prefix = src.rstrip("/") + "/"
    moved = 0
    rows = s.scalars(select(Image).where(Image.path.startswith(prefix, autoescape=True))).all()
    taken = set(s.scalars(select(Image.path).where(
        Image.path.startswith(dest.rstrip("/") + "/", autoescape=True))))
    for img in rows:
        new = dest.rstrip("/") + "/" + img.path[len(prefix):]
        if new not in taken:
            img.path = new
            moved += 1
    return moved


def enqueue(s: Session, paths: Sequence[str]) -> int:
    """Put paths on the work queue (new rows, or existing ones back to queued unless a worker
    holds them). Return how many were queued."""
    now = utcnow()
    existing = {img.path: img for img in s.scalars(select(Image).where(Image.path.in_(paths)))} \
        if len(paths) <= 500 else images_by_path(s)
    n = 0
    for path in paths:
        img = existing.get(path)
        if img is None:
            s.add(Image(path=path, status=ImageStatus.queued, attempts=0, queued_at=now))
            n += 1
        elif img.status != ImageStatus.processing:
            img.status, img.queued_at = ImageStatus.queued, now
            n += 1
    return n


@dataclass(frozen=True)
class QueueItem:
    id: int
    path: str
    sha256: str | None  # the content last processed (None: never)
    processed_ok: bool  # that content was processed without error
    attempts: int = 0  # tries so far


def claim_batch(s: Session, limit: int) -> list[QueueItem]:
    """Take up to `limit` queued photos, oldest first, and mark them processing."""
    due = (Image.next_attempt_at.is_(None)) | (Image.next_attempt_at <= utcnow())
    rows = s.scalars(
        select(Image).where(Image.status == ImageStatus.queued, due)
        .order_by(Image.queued_at, Image.id).limit(limit)
    ).all()
    for img in rows:
        img.status = ImageStatus.processing
    return [QueueItem(img.id, img.path, img.sha256, img.error is None, img.attempts)
            for img in rows]


def requeue(s: Session, ids: Sequence[int], to_back: bool = False) -> None:
    """Put claimed photos back on the queue (at the back when `to_back`)."""
    if not ids:
        return
    values: dict[str, object] = {"status": ImageStatus.queued}
    if to_back:
        values["queued_at"] = utcnow()
    s.execute(update(Image).where(Image.id.in_(ids)).values(**values))


def recover_interrupted(s: Session) -> int:
    """After a crash: photos left `processing` go back to the queue. Return how many."""
    res = s.execute(update(Image).where(Image.status == ImageStatus.processing)
                    .values(status=ImageStatus.queued))
    return int(getattr(res, "rowcount", 0) or 0)


def queued_count(s: Session) -> int:
    return int(s.scalar(select(func.count(Image.id)).where(Image.status == ImageStatus.queued)) or 0)


def forget_path(s: Session, path: str) -> bool:
    img = image_by_path(s, path)
    if img is None:
        return False
    forget_image(s, img)
    return True


def record_batch(s: Session, photos: int, faces: int, new_persons: int, failed: int,
                 seconds: float) -> None:
    s.add(Batch(photos=photos, faces=faces, new_persons=new_persons, failed=failed,
                seconds=seconds))


def record_failure(s: Session, path: str, error: str, sha256: str | None = None,
                   size: int | None = None, mtime: float | None = None,
                   retry_after: float | None = None) -> Image:
    """Store a photo that could not be processed, with the reason: failed, or, with
    `retry_after` seconds, back on the queue to be tried again no sooner than that."""
    img = _upsert(s, path, sha256, size, mtime)
    img.error = error
    img.attempts += 1
    if retry_after is None:
        img.status, img.next_attempt_at = ImageStatus.failed, None
    else:
        img.status = ImageStatus.queued
        img.queued_at = utcnow()
        img.next_attempt_at = utcnow() + timedelta(seconds=retry_after)
    return img


def retry_failed(s: Session, paths: Sequence[str] = ()) -> int:
    """Put failed photos (all, or those given) back on the queue with their attempts reset."""
    q = update(Image).where(Image.status == ImageStatus.failed)
    if paths:
        q = q.where(Image.path.in_(list(paths)))
    res = s.execute(q.values(status=ImageStatus.queued, attempts=0, next_attempt_at=None,
                             queued_at=utcnow()))
    return int(getattr(res, "rowcount", 0) or 0)


def forget_image(s: Session, img: Image) -> None:
    """Remove a path that no longer exists; its faces move to a duplicate path if there is one."""
    _detach_faces(s, img)
    s.delete(img)


def face_matrix(s: Session, face_ids: Sequence[int] | None = None) -> FaceMatrix:
    """All faces (or those with the given ids) as one matrix."""
    q = select(Face.id, Face.image_id, Face.person_id, Face.embedding, Face.pinned).order_by(Face.id)
    if face_ids is not None:
        q = q.where(Face.id.in_(list(face_ids)))
    rows = s.execute(q).all()
    if not rows:
        return FaceMatrix(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          np.zeros((0, 128), np.float32), np.zeros(0, bool))
    vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype=EMBEDDING_DTYPE).reshape(len(rows), -1)
    return FaceMatrix(
        face_ids=np.array([r[0] for r in rows], dtype=np.int64),
        image_ids=np.array([r[1] for r in rows], dtype=np.int64),
        person_ids=np.array([r[2] if r[2] is not None else -1 for r in rows], dtype=np.int64),
        vectors=vectors.astype(np.float32),
        pinned=np.array([bool(r[4]) for r in rows], dtype=bool),
    )


def face_persons(s: Session) -> dict[int, int | None]:
    """face id → person id for every face (what a running daemon reloads after CLI changes)."""
    return {int(f): (None if p is None else int(p))
            for f, p in s.execute(select(Face.id, Face.person_id))}


def people_rev(s: Session) -> int:
    v = s.scalar(select(Meta.value).where(Meta.key == "people_rev"))
    return int(v) if v is not None else 0


def bump_people_rev(s: Session) -> int:
    """Record that people changed outside the daemon; return the new revision."""
    rev = people_rev(s) + 1
    meta = s.get(Meta, "people_rev")
    if meta is None:
        s.add(Meta(key="people_rev", value=str(rev)))
    else:
        meta.value = str(rev)
    return rev


def named_persons(s: Session) -> set[int]:
    """Persons with a name that are not hidden: the classes `identify` knows."""
    return set(s.scalars(select(Person.id).where(Person.name.is_not(None), ~Person.hidden)))


def fixed_persons(s: Session) -> set[int]:
    """Persons a user has decided something about: named or hidden."""
    return set(s.scalars(select(Person.id).where(Person.name.is_not(None) | Person.hidden)))


def _person(s: Session, pid: int) -> Person:
    p = s.get(Person, pid)
    if p is None:
        raise PeopleError(f"no person {pid}")
    return p


def _face(s: Session, fid: int) -> Face:
    f = s.get(Face, fid)
    if f is None:
        raise PeopleError(f"no face {fid}")
    return f


def name_person(s: Session, pid: int, name: str | None) -> Person:
    """Give a person a (clean) name, or take it away with None."""
    from facefold.people.names import clean_name

    p = _person(s, pid)
    p.name = None if name is None else clean_name(name)
    return p


def set_hidden(s: Session, pid: int, hidden: bool) -> Person:
    p = _person(s, pid)
    p.hidden = hidden
    return p


def merge_persons(s: Session, target: int, others: Sequence[int]) -> int:
    """Move every face of `others` to `target` (pinned: a person said they are one), delete the
    others; `target` keeps its name, or takes the first of theirs. Return faces moved."""
    into = _person(s, target)
    sources = [_person(s, o) for o in others if o != target]
    if not sources:
        raise PeopleError("merge needs at least one other person")
    moved = 0
    for src in sources:
        if into.name is None and src.name is not None:
            into.name = src.name
        res = s.execute(update(Face).where(Face.person_id == src.id)
                        .values(person_id=into.id, pinned=True))
        moved += int(getattr(res, "rowcount", 0) or 0)
    s.execute(update(Face).where(Face.person_id == into.id).values(pinned=True))
    s.flush()
    for src in sources:
        s.delete(src)
    return moved


def move_face(s: Session, fid: int, pid: int) -> Face:
    """Put a face into a person by hand (pinned). Refused when the person already has another
    face of the same photo."""
    f = _face(s, fid)
    _person(s, pid)
    clash = s.scalar(select(Face.id).where(Face.person_id == pid, Face.image_id == f.image_id,
                                           Face.id != fid))
    if clash is not None:
        raise PeopleError(f"person {pid} already has face {clash} of the same photo; "
                          f"move or unassign that one first")
    f.person_id, f.pinned = pid, True
    return f


def unassign_face(s: Session, fid: int) -> Face:
    """Take a face out of its person by hand (pinned: clustering leaves it out)."""
    f = _face(s, fid)
    f.person_id, f.pinned = None, True
    return f


@dataclass(frozen=True)
class FaceRow:
    id: int
    path: str
    box: tuple[float, float, float, float]
    confidence: float
    pinned: bool


def faces_of(s: Session, pid: int) -> list[FaceRow]:
    _person(s, pid)
    rows = s.execute(
        select(Face.id, Image.path, Face.box_x, Face.box_y, Face.box_w, Face.box_h,
               Face.confidence, Face.pinned)
        .join(Image, Image.id == Face.image_id).where(Face.person_id == pid).order_by(Face.id)
    ).all()
    return [FaceRow(r[0], r[1], (r[2], r[3], r[4], r[5]), r[6], bool(r[7])) for r in rows]


def create_person(s: Session) -> Person:
    p = Person()
    s.add(p)
    s.flush()
    return p


def set_face_persons(s: Session, assignment: dict[int, int | None]) -> None:
    """Set face id → person id (None: unassigned) in bulk."""
    if assignment:
        s.execute(update(Face), [{"id": f, "person_id": p} for f, p in assignment.items()])


def delete_empty_unnamed_persons(s: Session) -> int:
    """Delete persons with no faces, no name and not hidden; return how many."""
    has_face = select(Face.id).where(Face.person_id == Person.id).exists()
    res = s.execute(delete(Person).where(Person.name.is_(None), ~Person.hidden, ~has_face))
    return int(getattr(res, "rowcount", 0) or 0)


def person_photo_rows(s: Session, include_hidden: bool = False) -> list[tuple[int, str | None, str]]:
    """(person id, name, photo path) for every photo that shows a person (the `person_photos`
    view), hidden persons left out unless asked for."""
    rows = s.execute(
        text("SELECT v.person_id, v.person_name, v.photo_path FROM person_photos AS v "
             "JOIN persons AS p ON p.id = v.person_id "
             + ("" if include_hidden else "WHERE NOT p.hidden ") +
             "ORDER BY v.person_id, v.photo_path")
    ).all()
    return [(int(r[0]), r[1], str(r[2])) for r in rows]


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
class StatusSummary:
    images_by_status: dict[str, int]
    faces: int
    assigned_faces: int
    persons: int
    failures: list[tuple[str, str]]  # (path, error), most recent first
    oldest_queued: tuple[str, str] | None  # (path, ISO time queued)
    last_batch: dict[str, object] | None
    retrying: int = 0  # queued again after a failure that may pass


def status_summary(s: Session, last_errors: int = 20) -> StatusSummary:
    counts = {st.value: 0 for st in ImageStatus}
    for status, n in s.execute(select(Image.status, func.count(Image.id)).group_by(Image.status)):
        counts[status.value if isinstance(status, ImageStatus) else str(status)] = int(n)
    failures = s.execute(
        select(Image.path, Image.error).where(Image.status == ImageStatus.failed)
        .order_by(Image.updated_at.desc(), Image.id.desc()).limit(last_errors)
    ).all()
    oldest = s.execute(
        select(Image.path, Image.queued_at).where(Image.status == ImageStatus.queued)
        .order_by(Image.queued_at, Image.id).limit(1)
    ).first()
    batch = s.scalars(select(Batch).order_by(Batch.id.desc()).limit(1)).first()
    last = None if batch is None else {
        "finished_at": batch.finished_at.isoformat(timespec="seconds"), "photos": batch.photos,
        "faces": batch.faces, "new_persons": batch.new_persons, "failed": batch.failed,
        "seconds": round(batch.seconds, 2),
    }
    retrying = int(s.scalar(select(func.count(Image.id)).where(
        Image.status == ImageStatus.queued, Image.next_attempt_at.is_not(None))) or 0)
    return StatusSummary(
        retrying=retrying,
        oldest_queued=None if oldest is None else (
            str(oldest[0]), oldest[1].isoformat(timespec="seconds") if oldest[1] else ""),
        last_batch=last,
        images_by_status=counts,
        faces=int(s.scalar(select(func.count(Face.id))) or 0),
        assigned_faces=int(s.scalar(select(func.count(Face.id)).where(Face.person_id.is_not(None))) or 0),
        persons=int(s.scalar(select(func.count(Person.id))) or 0),
        failures=[(str(p), str(e or "")) for p, e in failures],
    )


@dataclass(frozen=True)
class ReviewFace:
    id: int
    person_id: int | None
    path: str
    landmarks: str
    confidence: float


def review_faces(s: Session, per_person: int, unassigned: int) -> list[ReviewFace]:
    """Up to `per_person` faces of each person (most confident first) and up to `unassigned`
    faces of nobody, in one query."""
    ranked = select(
        Face.id, Face.person_id, Image.path, Face.landmarks, Face.confidence,
        func.row_number().over(partition_by=Face.person_id,
                               order_by=(Face.confidence.desc(), Face.id)).label("rank"),
    ).join(Image, Image.id == Face.image_id).subquery()
    rows = s.execute(
        select(ranked).where(
            ((ranked.c.person_id.is_not(None)) & (ranked.c.rank <= per_person))
            | ((ranked.c.person_id.is_(None)) & (ranked.c.rank <= unassigned)))
        .order_by(ranked.c.person_id, ranked.c.rank)
    ).all()
    return [ReviewFace(r[0], r[1], r[2], r[3], r[4]) for r in rows]


@dataclass(frozen=True)
class StaleFace:
    id: int
    path: str
    landmarks: str


def stale_faces(s: Session, weights: str, limit: int) -> list[StaleFace]:
    """Faces of processed photos embedded with other weights than `weights`, by photo."""
    rows = s.execute(
        select(Face.id, Image.path, Face.landmarks).join(Image, Image.id == Face.image_id)
        .where(Face.weights != weights, Image.status == ImageStatus.done)
        .order_by(Face.image_id, Face.id).limit(limit)
    ).all()
    return [StaleFace(r[0], r[1], r[2]) for r in rows]


def count_stale_faces(s: Session, weights: str) -> int:
    return int(s.scalar(select(func.count(Face.id)).join(Image, Image.id == Face.image_id)
                        .where(Face.weights != weights, Image.status == ImageStatus.done)) or 0)


def set_embeddings(s: Session, vectors: dict[int, np.ndarray], weights: str) -> None:
    """Replace faces' embeddings (made with `weights`)."""
    if vectors:
        s.execute(update(Face), [
            {"id": fid, "embedding": np.asarray(v, dtype=EMBEDDING_DTYPE).tobytes(),
             "weights": weights} for fid, v in vectors.items()])


def delete_faces(s: Session, ids: Sequence[int]) -> None:
    s.execute(delete(Face).where(Face.id.in_(list(ids))))
