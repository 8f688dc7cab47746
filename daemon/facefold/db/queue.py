"""The images table as a durable work queue: photos by path, what was last made of each, and the
queue states queued → processing → done / failed.

Every function takes the caller's Session and none commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from facefold.db.engine import rows_changed
from facefold.db.faces import NewFace, face_rows
from facefold.db.models import Face, Image, ImageStatus, KeptFace, Person, PersonApart, utcnow

KEPT_MIN_IOU = 0.5  # a face found again is the kept one when their boxes overlap this much
# (intersection over union; re-detection moves a box by a few pixels)

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
    # pragma below: expiring all of img's attributes, not only its faces, loads the same again
    s.expire(img, ["faces"])  # pragma: no mutate


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
    img.interrupted = 0  # this turn came to an end
    return img


def _again_if_changed(img: Image) -> None:
    """A photo whose file changed while it was being processed (`enqueue` asked for it again)
    goes back on the queue now that this turn is over."""
    if img.requeue:
        img.status, img.queued_at, img.next_attempt_at = ImageStatus.queued, utcnow(), None
        img.requeue = False


def record_processed(s: Session, path: str, sha256: str, size: int, mtime: float,
                     width: int, height: int, faces: Sequence[NewFace],
                     pixels: bytes | None = None) -> list[int]:
    """Store a processed photo (with its `pixels`, vision.pixels.photo_signature) and its faces
    (replacing what the path held before); return the new faces' ids, in the order given."""
    img = _upsert(s, path, sha256, size, mtime)
    img.width, img.height, img.pixels = width, height, pixels
    img.status, img.error, img.next_attempt_at = ImageStatus.done, None, None
    img.attempts += 1
    _again_if_changed(img)
    s.flush()
    _keep_work(s, img.id, sha256)  # faces of the same content, processed again, keep it
    s.execute(delete(Face).where(Face.image_id == img.id))
    rows = face_rows(img.id, faces)
    _restore_work(s, sha256, rows)
    s.add_all(rows)
    s.flush()
    return [r.id for r in rows]


def record_duplicate(s: Session, path: str, sha256: str, size: int, mtime: float) -> Image:
    """Store a path whose content was already processed under another path: no faces of its own."""
    img = _upsert(s, path, sha256, size, mtime)
    img.status, img.error = ImageStatus.done, None
    _again_if_changed(img)
    if img.id is not None:
        s.execute(delete(Face).where(Face.image_id == img.id))
    return img


def record_unchanged(s: Session, path: str, size: int, mtime: float) -> None:
    """The path's content is what was already processed: done again, nothing recomputed."""
    img = image_by_path(s, path)
    if img is not None:
        img.size, img.mtime, img.status, img.error = size, mtime, ImageStatus.done, None
        img.claimed_by = img.lease_until = None
        img.interrupted = 0
        _again_if_changed(img)


def record_moved(s: Session, old: Image, path: str, size: int, mtime: float) -> Image:
    """`old`'s file is gone and its content now lives at `path`: `path` takes over its faces (no
    re-embedding) and the old row goes."""
    img = _row_for(s, path, old.sha256)
    img.sha256, img.size, img.mtime = old.sha256, size, mtime
    img.claimed_by = img.lease_until = None
    img.width, img.height, img.pixels = old.width, old.height, old.pixels
    img.status, img.error = ImageStatus.done, None
    img.interrupted = 0
    img.requeue = img.requeue or old.requeue
    _again_if_changed(img)
    s.flush()
    s.execute(update(Face).where(Face.image_id == old.id).values(image_id=img.id))
    # pragma below: expiring all of old's attributes, not only its faces, before it is deleted
    s.expire(old, ["faces"])  # pragma: no mutate
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
    _again_if_changed(img)  # changed since: the new file may well be fine
    return img


def move_path(s: Session, src: str, dest: str) -> bool:
    """A file was renamed: the stored row follows it. Return False when there is nothing to move
    (src unknown, or dest already stored) or src is being processed (its claimer stores it under
    src; src is then queued again and dest taken as new: its content finds src's faces)."""
    img = image_by_path(s, src)
    if img is None or img.status == ImageStatus.processing or image_by_path(s, dest) is not None:
        return False
    img.path = dest
    return True


def move_folder(s: Session, src: str, dest: str) -> int:
    """A folder was renamed: every stored path under it follows, but for photos being processed
    (their claimer stores them under the old path: they are queued again, and the caller
    reconciles both folders). Return how many followed."""
    prefix = src.rstrip("/") + "/"
    moved = 0
    rows = s.scalars(select(Image).where(Image.path.startswith(prefix, autoescape=True))).all()
    taken = set(s.scalars(select(Image.path).where(
        Image.path.startswith(dest.rstrip("/") + "/", autoescape=True))))
    for img in rows:
        new = dest.rstrip("/") + "/" + img.path[len(prefix):]
        if img.status == ImageStatus.processing:
            img.requeue = True
        elif new not in taken:
            img.path = new
            moved += 1
    return moved


def enqueue(s: Session, paths: Sequence[str]) -> int:
    """Put paths on the work queue (new rows, or existing ones back to queued; one a worker holds
    goes back on the queue when its turn ends). Return how many were queued."""
    now = utcnow()
    existing = images_by_path(s, paths)
    n = 0
    for path in paths:
        img = existing.get(path)
        if img is None:
            s.add(Image(path=path, status=ImageStatus.queued, attempts=0, queued_at=now))
            n += 1
        elif img.status == ImageStatus.processing:
            img.requeue = True
            n += 1
        else:
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


def claim_batch(s: Session, limit: int, claimer: str, lease_seconds: float,
                max_interrupted: int = 0) -> list[QueueItem]:
    """Take up to `limit` queued photos, oldest first, and mark them processing by `claimer`
    until the lease ends. A photo that was being processed when its process stopped (a crash,
    a kill) is taken alone: if it is what stops the process, it stops no one else's turn.
    Rows another process is claiming right now are skipped, not waited for (PostgreSQL's
    `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time anyway). Photos whose lease ended
    first go back to the queue (or fail, after `max_interrupted` such ends; 0: never)."""
    now = utcnow()
    release_expired(s, now, max_interrupted)
    due = (Image.next_attempt_at.is_(None)) | (Image.next_attempt_at <= now)
    rows = s.scalars(
        select(Image).where(Image.status == ImageStatus.queued, due)
        .order_by(Image.queued_at, Image.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    if rows and rows[0].interrupted:
        rows = rows[:1]
    else:
        rows = [img for img in rows if not img.interrupted]
    until = now + timedelta(seconds=lease_seconds)
    for img in rows:
        img.status, img.claimed_by, img.lease_until = ImageStatus.processing, claimer, until
    return [QueueItem(img.id, img.path, img.sha256, img.error is None, img.attempts)
            for img in rows]


def record_attempt(s: Session, image_id: int, size: int, mtime: float) -> None:
    """Work starts on the file of a claimed photo as it is now (`size`, `mtime`): recorded
    before the work, so that a photo that stops the process is known by its file, and a
    rescan does not queue it again unless the file changes."""
    s.execute(update(Image).where(Image.id == image_id).values(size=size, mtime=mtime))


STOPPED = "stopped the process {n} times while it was being processed: it is set aside"


def _interrupted(s: Session, where: ColumnElement[bool], max_interrupted: int) -> int:
    """Photos `processing` that match `where` were cut off: count it, and put them back on the
    queue, or fail them after `max_interrupted` such ends (0: never). Return how many."""
    rows = s.scalars(select(Image).where(Image.status == ImageStatus.processing, where)).all()
    for img in rows:
        img.interrupted += 1
        img.claimed_by = img.lease_until = None
        if max_interrupted and img.interrupted >= max_interrupted:
            img.status, img.error = ImageStatus.failed, STOPPED.format(n=img.interrupted)
            img.next_attempt_at = None
        elif img.requeue:
            img.status, img.queued_at, img.requeue = ImageStatus.queued, utcnow(), False
        else:
            img.status = ImageStatus.queued
    return len(rows)


def release_expired(s: Session, now: datetime | None, max_interrupted: int) -> int:
    """Photos whose lease ended while `processing` (their claimer died or was cut off) go back
    to the queue, or fail after `max_interrupted` such ends; return how many."""
    return _interrupted(s, Image.lease_until < (now or utcnow()), max_interrupted)


def renew_lease(s: Session, ids: Sequence[int], claimer: str, lease_seconds: float) -> int:
    """Extend the lease on photos `claimer` still holds; return how many it still holds."""
    if not ids:
        return 0
    res = s.execute(update(Image).where(Image.id.in_(list(ids)), Image.claimed_by == claimer,
                                        Image.status == ImageStatus.processing)
                    .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    return rows_changed(res)


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


def recover_interrupted(s: Session, claimer: str, max_interrupted: int = 0) -> int:
    """After a crash: photos `claimer` (an earlier run of this same process, by name) or no one
    left `processing` go back to the queue, and those whose lease ended; a photo that has now
    stopped the process `max_interrupted` times fails instead (0: never). Return how many."""
    mine = (Image.claimed_by == claimer) | Image.claimed_by.is_(None)
    return _interrupted(s, mine, max_interrupted) + release_expired(s, None, max_interrupted)


def queued_count(s: Session) -> int:
    return int(s.scalar(select(func.count(Image.id)).where(Image.status == ImageStatus.queued)) or 0)


def known_under(s: Session, root: str) -> int:
    """How many stored paths lie under the folder `root`."""
    prefix = root.rstrip("/") + "/"
    return int(s.scalar(select(func.count(Image.id)).where(
        Image.path.startswith(prefix, autoescape=True))) or 0)


AWAY_RETRY_SECONDS = 60.0  # a photo never processed, gone while the inbox is away: look again


def set_aside(s: Session, image_id: int) -> None:
    """A claimed photo whose file is gone while the inbox is away (unmounted, deleted): not
    forgotten. It is as it was before the claim: done or failed with what it held, or, never
    processed, queued again for later."""
    img = s.get(Image, image_id)
    if img is None:
        return
    img.claimed_by = img.lease_until = None
    img.requeue = False
    if img.sha256 is not None:
        img.status = ImageStatus.done if img.error is None else ImageStatus.failed
    else:
        img.status = ImageStatus.queued
        img.next_attempt_at = utcnow() + timedelta(seconds=AWAY_RETRY_SECONDS)


def forget_image(s: Session, img: Image) -> None:
    """Remove a path that no longer exists; its faces move to a duplicate path if there is one.
    When there is none, what a person decided about them is kept by content (`KeptFace`)."""
    if img.sha256 is not None and image_with_content(s, img.sha256, exclude_path=img.path) is None:
        _keep_work(s, img.id, img.sha256)
    _detach_faces(s, img)
    s.delete(img)


def _keep_work(s: Session, image_id: int, sha256: str) -> None:
    """Remember the faces of a photo about to be forgotten (or processed again) that carry a
    person's work: placed or taken out by hand, said not to be a face, or in a person who is
    named, hidden or kept apart from another."""
    apart = select(PersonApart.person_a).union(select(PersonApart.person_b))
    decided = select(Person.id).where(Person.name.is_not(None) | Person.hidden
                                      | Person.id.in_(apart))
    for f in s.scalars(select(Face).where(
            Face.image_id == image_id,
            Face.pinned | Face.not_face | Face.person_id.in_(decided))):
        s.add(KeptFace(sha256=sha256, box_x=f.box_x, box_y=f.box_y, box_w=f.box_w,
                       box_h=f.box_h, person_id=f.person_id, pinned=f.pinned,
                       not_face=f.not_face))


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _restore_work(s: Session, sha256: str, rows: Sequence[Face]) -> None:
    """Faces just stored for content a forgotten photo had: each takes back the person and pin
    kept for the face it overlaps most (`KEPT_MIN_IOU`); what is given back is no longer kept."""
    for kept in s.scalars(select(KeptFace).where(KeptFace.sha256 == sha256)).all():
        box = (kept.box_x, kept.box_y, kept.box_w, kept.box_h)
        scored = [(_iou(box, (r.box_x, r.box_y, r.box_w, r.box_h)), r) for r in rows]
        best = max(scored, key=lambda t: t[0], default=None)
        if best is not None and best[0] >= KEPT_MIN_IOU:
            best[1].person_id, best[1].pinned = kept.person_id, kept.pinned
            best[1].not_face = kept.not_face
            s.delete(kept)


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
    res = s.execute(q.values(status=ImageStatus.queued, attempts=0, interrupted=0,
                             next_attempt_at=None, queued_at=utcnow()))
    return rows_changed(res)
