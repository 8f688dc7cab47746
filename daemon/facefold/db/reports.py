"""What facefold reports about its work: the batches the worker ran and the queue's state.

Every function takes the caller's Session and none commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facefold.db.models import Batch, Image, ImageStatus, Meta, utcnow
from facefold.db.people import PeopleCounts, people_counts


def record_batch(s: Session, photos: int, faces: int, new_persons: int, failed: int,
                 seconds: float) -> None:
    s.add(Batch(photos=photos, faces=faces, new_persons=new_persons, failed=failed,
                seconds=seconds))


@dataclass(frozen=True)
class Failure:
    path: str
    error: str


@dataclass(frozen=True)
class Waiting:
    path: str
    queued_at: str  # ISO time


INBOX_AWAY = "inbox_away"  # meta key: why the inbox is unavailable, and since when


def set_inbox_away(s: Session, reason: str | None) -> bool:
    """Record that the inbox is unavailable (`reason`), or that it is back (None). Return True
    when that changed what was recorded."""
    row = s.get(Meta, INBOX_AWAY)
    if reason is None:
        if row is None:
            return False
        s.delete(row)
        return True
    if row is not None and row.value.split("\t", 1)[1] == reason:
        return False
    since = row.value.split("\t", 1)[0] if row is not None else utcnow().isoformat(
        timespec="seconds")
    if row is None:
        s.add(Meta(key=INBOX_AWAY, value=f"{since}\t{reason}"))
    else:
        row.value = f"{since}\t{reason}"
    return True


@dataclass(frozen=True)
class InboxAway:
    since: str  # ISO time, UTC
    reason: str


def inbox_away(s: Session) -> InboxAway | None:
    row = s.get(Meta, INBOX_AWAY)
    if row is None:
        return None
    since, _, reason = row.value.partition("\t")
    return InboxAway(since, reason)


@dataclass(frozen=True)
class StatusSummary:
    images_by_status: dict[str, int]
    faces: int
    assigned_faces: int
    persons: int
    failures: list[Failure]  # most recent first
    oldest_queued: Waiting | None
    last_batch: dict[str, object] | None
    retrying: int = 0  # queued again after a failure that may pass
    inbox_away: InboxAway | None = None  # the inbox is unavailable: nothing is forgotten


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
    people: PeopleCounts = people_counts(s)
    return StatusSummary(
        images_by_status=counts, faces=people.faces, assigned_faces=people.assigned_faces,
        persons=people.persons, failures=[Failure(str(p), str(e or "")) for p, e in failures],
        oldest_queued=None if oldest is None else Waiting(
            str(oldest[0]), oldest[1].isoformat(timespec="seconds") if oldest[1] else ""),
        last_batch=last, retrying=retrying, inbox_away=inbox_away(s),
    )


@dataclass(frozen=True)
class BatchRow:
    finished_at: str  # ISO time, UTC
    photos: int
    faces: int
    new_persons: int
    failed: int
    seconds: float


def recent_batches(s: Session, limit: int = 10) -> list[BatchRow]:
    """The worker's last batches, newest first."""
    return [BatchRow(b.finished_at.isoformat(timespec="seconds"), b.photos, b.faces,
                     b.new_persons, b.failed, round(b.seconds, 2))
            for b in s.scalars(select(Batch).order_by(Batch.id.desc()).limit(limit))]


def processing_paths(s: Session, limit: int = 50) -> list[str]:
    """Photos the worker has claimed and not finished."""
    return list(s.scalars(select(Image.path).where(Image.status == ImageStatus.processing)
                          .order_by(Image.id).limit(limit)))
