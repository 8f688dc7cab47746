"""The images table as a durable work queue: photos by path, what was last made of each, and the
queue states queued → processing → done / failed.

Every function takes the caller's Session and none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facefold.db.faces import NewFace, face_rows
from facefold.db.models import Face, Image, ImageStatus, utcnow

# A path list longer than this is looked up by loading every stored path once instead of as an
# `IN (…)` list: one statement either way, and well inside SQLite's limit on bound parameters.
IN_LIST_MAX = 500


def image_by_path(s: Session, path: str) -> Image | None:
    return s.scalars(select(Image).where(Image.path == path)).one_or_none()


def images_by_path(s: Session, paths: Sequence[str] | None = None) -> dict[str, Image]:
    """Stored images by path: those given, or all."""
    q = select(Image)
    if paths is not None and len(paths) <= IN_LIST_MAX:
        q = q.where(Image.path.in_(list(paths)))
    return {img.path: img for img in s.scalars(q)}


@dataclass(frozen=True)
class PathState:
    status: ImageStatus
    size: int | None
    mtime: float | None


def path_states(s: Session) -> dict[str, PathState]:
    """Every stored path with its queue status and the size and mtime last seen."""
    return {path: PathState(status, size, mtime) for path, status, size, mtime in
            s.execute(select(Image.path, Image.status, Image.size, Image.mtime))}


def image_with_content(s: Session, sha256: str, exclude_path: str | None = None) -> Image | None:
    """The image (lowest id) whose content was last processed without error and is this one,
    other than `exclude_path`. It may be queued again (a rescan queues a path whose file is gone)
    and still holds the faces of that content."""
    q = select(Image).where(Image.sha256 == sha256, Image.error.is_(None),
                            Image.status != ImageStatus.failed)
    if exclude_path is not None:
        q = q.where(Image.path != exclude_path)
    return s.scalars(q.order_by(Image.id).limit(1)).one_or_none()


def _detach_faces(s: Session, img: Image) -> None:
    """Before `img` loses its content: hand its faces to another path with the same content, or
    delete them when there is none."""
    if img.sha256 is None:
        return
    heir = image_with_content(s, img.sha256, exclude_path=img.path)
    if heir is not None:
        s.execute(update(Face).where(Face.image_id == img.id).values(image_id=heir.id))
    else:
        s.execute(delete(Face).where(Face.image_id == img.id))
    s.expire(img, ["faces"])


def _row_for(s: Session, path: str, sha256: str | None) -> Image:
    """The row of `path` (new if there is none), ready to take content `sha256`: faces of other
    content it held are handed on or deleted."""
    img = image_by_path(s, path)
    if img is None:
        img = Image(path=path, status=ImageStatus.queued, attempts=0)
        s.add(img)
    elif img.sha256 != sha256:
        _detach_faces(s, img)
    return img


def _upsert(s: Session, path: str, sha256: str | None, size: int | None,
            mtime: float | None) -> Image:
    img = _row_for(s, path, sha256)
    img.sha256, img.size, img.mtime = sha256, size, mtime
    img.claimed_by = img.lease_until = None  # no longer anyone's: done, failed or queued
    return img


def record_processed(s: Session, path: str, sha256: str, size: int, mtime: float,
                     width: int, height: int, faces: Sequence[NewFace],
                     pixels: bytes | None = None) -> list[int]:
    """Store a processed photo (with its `pixels`, vision.pixels.photo_signature) and its faces
    (replacing what the path held before); return the new faces' ids, in the order given."""
    img = _upsert(s, path, sha256, size, mtime)
    img.width, img.height, img.pixels = width, height, pixels
    img.status, img.error, img.next_attempt_at = ImageStatus.done, None, None
    img.attempts += 1
    s.flush()
    s.execute(delete(Face).where(Face.image_id == img.id))
    rows = face_rows(img.id, faces)
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
        img.claimed_by = img.lease_until = None


def record_moved(s: Session, old: Image, path: str, size: int, mtime: float) -> Image:
    """`old`'s file is gone and its content now lives at `path`: `path` takes over its faces (no
    re-embedding) and the old row goes."""
    img = _row_for(s, path, old.sha256)
    img.sha256, img.size, img.mtime = old.sha256, size, mtime
    img.claimed_by = img.lease_until = None
    img.width, img.height, img.pixels = old.width, old.height, old.pixels
    img.status, img.error = ImageStatus.done, None
    s.flush()
    s.execute(update(Face).where(Face.image_id == old.id).values(image_id=img.id))
    s.expire(old, ["faces"])
    s.delete(old)
    return img


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
    existing = images_by_path(s, paths)
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


def claim_batch(s: Session, limit: int, claimer: str, lease_seconds: float) -> list[QueueItem]:
    """Take up to `limit` queued photos, oldest first, and mark them processing by `claimer`
    until the lease ends. Rows another process is claiming right now are skipped, not waited
    for (PostgreSQL's `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time anyway). Photos
    whose lease ended first go back to the queue: their claimer died or was cut off."""
    now = utcnow()
    release_expired(s, now)
    due = (Image.next_attempt_at.is_(None)) | (Image.next_attempt_at <= now)
    rows = s.scalars(
        select(Image).where(Image.status == ImageStatus.queued, due)
        .order_by(Image.queued_at, Image.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    until = now + timedelta(seconds=lease_seconds)
    for img in rows:
        img.status, img.claimed_by, img.lease_until = ImageStatus.processing, claimer, until
    return [QueueItem(img.id, img.path, img.sha256, img.error is None, img.attempts)
            for img in rows]


def release_expired(s: Session, now: datetime | None = None) -> int:
    """Photos whose lease ended while `processing` go back to the queue; return how many."""
    res = s.execute(update(Image).where(Image.status == ImageStatus.processing,
                                        Image.lease_until < (now or utcnow()))
                    .values(status=ImageStatus.queued, claimed_by=None, lease_until=None))
    return int(getattr(res, "rowcount", 0) or 0)


def renew_lease(s: Session, ids: Sequence[int], claimer: str, lease_seconds: float) -> int:
    """Extend the lease on photos `claimer` still holds; return how many it still holds."""
    if not ids:
        return 0
    res = s.execute(update(Image).where(Image.id.in_(list(ids)), Image.claimed_by == claimer,
                                        Image.status == ImageStatus.processing)
                    .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    return int(getattr(res, "rowcount", 0) or 0)


def holds(s: Session, path: str, claimer: str) -> bool:
    """`claimer` still holds the photo at `path` (its lease did not end and pass it on); the
    row stays locked until the transaction ends, so no one takes it over meanwhile."""
    return s.scalars(select(Image.id).where(
        Image.path == path, Image.claimed_by == claimer, Image.status == ImageStatus.processing,
    ).with_for_update()).first() is not None


def requeue(s: Session, ids: Sequence[int], to_back: bool = False) -> None:
    """Put claimed photos back on the queue (at the back when `to_back`)."""
    if not ids:
        return
    values: dict[str, object] = {"status": ImageStatus.queued, "claimed_by": None,
                                 "lease_until": None}
    if to_back:
        values["queued_at"] = utcnow()
    s.execute(update(Image).where(Image.id.in_(ids)).values(**values))


def recover_interrupted(s: Session, claimer: str) -> int:
    """After a crash: photos `claimer` (an earlier run of this same process, by name) or no one
    left `processing` go back to the queue, and those whose lease ended. Return how many."""
    mine = (Image.claimed_by == claimer) | Image.claimed_by.is_(None)
    res = s.execute(update(Image).where(Image.status == ImageStatus.processing, mine)
                    .values(status=ImageStatus.queued, claimed_by=None, lease_until=None))
    return int(getattr(res, "rowcount", 0) or 0) + release_expired(s)


def queued_count(s: Session) -> int:
    return int(s.scalar(select(func.count(Image.id)).where(Image.status == ImageStatus.queued)) or 0)


def forget_image(s: Session, img: Image) -> None:
    """Remove a path that no longer exists; its faces move to a duplicate path if there is one."""
    _detach_faces(s, img)
    s.delete(img)


def forget_path(s: Session, path: str) -> bool:
    img = image_by_path(s, path)
    if img is None:
        return False
    forget_image(s, img)
    return True


def retry_failed(s: Session, paths: Sequence[str] = ()) -> int:
    """Put failed photos (all, or those given) back on the queue with their attempts reset."""
    q = update(Image).where(Image.status == ImageStatus.failed)
    if paths:
        q = q.where(Image.path.in_(list(paths)))
    res = s.execute(q.values(status=ImageStatus.queued, attempts=0, next_attempt_at=None,
                             queued_at=utcnow()))
    return int(getattr(res, "rowcount", 0) or 0)
