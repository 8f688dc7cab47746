"""One batch of queued photos through the pipeline: read → decode → detect → align → embed → store.

The durable queue is the `images` table: a batch is claimed (queued → processing) and every photo
ends done or failed, or goes back to the queue. Faces of a photo are replaced in the same
transaction that marks it done, so a crash at any point can only leave photos `processing`
(requeued at start), never half-stored or doubled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy.exc import SQLAlchemyError

from facefold.core.inbox import inbox_away, note_inbox
from facefold.core.library import Library
from facefold.core.photo import decode
from facefold.db import queue
from facefold.db.faces import NewFace
from facefold.files import PhotoFile, ReadError, lexists, read_photo
from facefold.thumbs import thumb_path, write_thumb
from facefold.timing import Stopwatch
from facefold.vision.decode import DecodeError
from facefold.vision.faces import FoundFace, align_all
from facefold.vision.pixels import photo_signature, pixel_signature
from facefold.vision.quality import face_quality

log = logging.getLogger(__name__)

MAX_RETRY_SECONDS = 3600.0  # the back-off between retries never exceeds an hour


def retry_delay(attempts_so_far: int, base: float, cap: float = MAX_RETRY_SECONDS) -> float:
    """Seconds to wait before try number attempts_so_far + 2: base, 2·base, 4·base, … ≤ cap."""
    return min(cap, base * 2 ** max(0, attempts_so_far))


@dataclass
class BatchResult:
    claimed: int = 0
    processed: int = 0  # decoded and searched for faces
    unchanged: int = 0  # content already processed
    duplicates: int = 0  # content already stored under another path
    moved: int = 0  # content of a vanished path: faces taken over
    removed: int = 0  # gone from disk: forgotten
    requeued: int = 0  # put back (shutdown, or a vanished path deferred once)
    faces: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    stages: Stopwatch = field(default_factory=Stopwatch)  # read, decode, detect, embed, store, …

    @property
    def changed(self) -> bool:
        return bool(self.processed or self.duplicates or self.moved or self.removed)

    @property
    def photos(self) -> int:
        """Photos this batch brought to an end (done or failed) or forgot."""
        return self.claimed - self.requeued

    def add(self, other: BatchResult) -> None:
        for name in ("claimed", "processed", "unchanged", "duplicates", "moved", "removed",
                     "requeued", "faces"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        self.stages.add(other.stages)


@dataclass
class _Detected:
    item: queue.QueueItem
    photo: PhotoFile
    size: tuple[int, int]  # full-size (width, height), upright
    faces: list[FoundFace]
    pixels: bytes  # the photo in small (vision.pixels.photo_signature)


def _photo_error(exc: BaseException) -> DecodeError:
    """Any failure while looking at one photo, as the reason it failed (final: it would fail the
    same way again)."""
    return DecodeError(f"cannot process the photo: {type(exc).__name__}: {exc}"[:500])


def _fail(lib: Library, res: BatchResult, item: queue.QueueItem, exc: ReadError | DecodeError,
          photo: PhotoFile | None = None) -> None:
    """Record a failure: back on the queue after a delay when it may pass and tries are left,
    else failed for good."""
    w = lib.settings.watch
    error = str(exc)
    retry = exc.transient and item.attempts + 1 < w.max_attempts
    after = retry_delay(item.attempts, w.retry_seconds) if retry else None
    if after is None:
        log.warning("failed: %s: %s", item.path, error)
    else:
        log.warning("failed: %s: %s (try %d of %d; again in %.0fs)", item.path, error,
                    item.attempts + 1, w.max_attempts, after)
    res.failures.append((item.path, error))
    with lib.session() as s:
        if photo is None:
            queue.record_failure(s, item.path, error, retry_after=after)
        else:
            queue.record_failure(s, item.path, error, photo.sha256, photo.size, photo.mtime,
                                 retry_after=after)
        s.commit()


def _vanished(lib: Library, res: BatchResult, item: queue.QueueItem, more_waiting: bool,
              deferred: set[str], away: str | None) -> None:
    """The file is gone: put it at the back of the queue once while other work waits (a rename
    seen as delete + create then keeps its faces), else forget it; but while the inbox is
    `away`, set it aside as it was (nothing is forgotten)."""
    with lib.session() as s:
        if away is not None:
            queue.set_aside(s, item.id)
            res.requeued += 1
        elif more_waiting and item.path not in deferred:
            deferred.add(item.path)
            queue.requeue(s, [item.id], to_back=True)
            res.requeued += 1
        else:
            deferred.discard(item.path)
            res.removed += queue.forget_path(s, item.path)
        s.commit()


def _known_content(lib: Library, res: BatchResult, photo: PhotoFile) -> bool:
    """When the content is already stored under another path, record this path as its
    duplicate (both exist) or as where it moved (the other is gone); True when so."""
    path = str(photo.path)
    with lib.session() as s:
        other = queue.image_with_content(s, photo.sha256, exclude_path=path)
        if other is None:
            return False
        if lexists(other.path):
            queue.record_duplicate(s, path, photo.sha256, photo.size, photo.mtime)
            res.duplicates += 1
        else:
            log.info("moved: %s -> %s", other.path, path)
            queue.record_moved(s, other, path, photo.size, photo.mtime)
            res.moved += 1
        s.commit()
    return True


def process_batch(lib: Library, limit: int, deferred: set[str],
                  should_stop: Callable[[], bool] = lambda: False,
                  heartbeat: Callable[[], None] = lambda: None) -> BatchResult:
    """Claim up to `limit` queued photos and bring each to done or failed (or back to the queue
    when `should_stop` turns true). A photo whose file is gone is dealt with last, so a renamed
    copy in the same batch takes its faces over first; it is then forgotten, after being put at
    the back of the queue once while other work waits. `deferred` remembers those across
    batches."""
    t0 = time.monotonic()
    settings = lib.settings
    finder = lib.models.finder
    res = BatchResult()
    lease = settings.watch.lease_seconds
    with lib.session() as s:
        items = queue.claim_batch(s, limit, lib.claimer, lease,
                                   settings.watch.max_attempts)
        s.commit()
        more_waiting = queue.queued_count(s) > 0
    res.claimed = len(items)
    detected: list[_Detected] = []
    dupes: list[PhotoFile] = []
    gone: list[queue.QueueItem] = []
    batch_shas: set[str] = set()
    renewed = time.monotonic()

    def keep() -> None:
        """A slow batch keeps what it claimed, what waits to be stored too (renew_lease
        leaves what already ended: failed, or recorded as a copy)."""
        nonlocal renewed
        if time.monotonic() - renewed > lease / 3:
            with lib.session() as s:
                queue.renew_lease(s, [it.id for it in items], lib.claimer, lease)
                s.commit()
            renewed = time.monotonic()

    for k, item in enumerate(items):
        keep()
        if should_stop():
            with lib.session() as s:
                queue.requeue(s, [it.id for it in items[k:]])
                s.commit()
            res.requeued += len(items) - k
            break
        heartbeat()
        if not lexists(item.path):
            gone.append(item)
            continue
        try:
            with res.stages.stage("read"):
                photo = read_photo(Path(item.path), settings.decode.max_file_bytes,
                                   settings.follow_symlinks)
        except ReadError as exc:
            _fail(lib, res, item, exc)
            continue
        if item.processed_ok and item.sha256 == photo.sha256:
            with lib.session() as s:
                queue.record_unchanged(s, item.path, photo.size, photo.mtime)
                s.commit()
            res.unchanged += 1
            continue
        if photo.sha256 in batch_shas:
            dupes.append(photo)
            continue
        if _known_content(lib, res, photo):
            continue
        with lib.session() as s:  # durable before the work: a photo that kills it is known
            queue.record_attempt(s, item.id, photo.size, photo.mtime)
            s.commit()
        try:
            with res.stages.stage("decode"):
                decoded = decode(photo, settings.decode)
            with res.stages.stage("detect"):
                found = finder.detect(decoded.pixels, decoded.scale)
            with res.stages.stage("align"):
                faces = align_all(decoded.pixels, found, settings.embedding.margin,
                                  decoded.scale)
            signature = photo_signature(decoded.pixels)
        except SQLAlchemyError:
            raise  # storage: the batch stops, the worker backs off and tries again
        except Exception as exc:  # this photo alone fails; the batch goes on
            _fail(lib, res, item, exc if isinstance(exc, DecodeError) else _photo_error(exc),
                  photo)
            continue
        detected.append(_Detected(item, photo, decoded.full_size, faces, signature))
        batch_shas.add(photo.sha256)
        res.processed += 1
    heartbeat()
    keep()
    _store(lib, detected, dupes, res)
    if gone:
        away = inbox_away(lib)
        note_inbox(lib, away)
        for item in gone:
            _vanished(lib, res, item, more_waiting, deferred, away)
    res.seconds = time.monotonic() - t0
    return res


def _embed(lib: Library, detected: list[_Detected],
           res: BatchResult) -> tuple[list[_Detected], np.ndarray]:
    """The faces of all detected photos embedded together: (the photos, their faces' vectors in
    order). Should the batch fail, each photo is embedded alone, and a photo that fails alone
    is failed with its reason; the others go on."""
    embedder = lib.models.embedder
    try:
        return detected, embedder.embed([f.crop for d in detected for f in d.faces])
    except SQLAlchemyError:
        raise
    except Exception:
        log.warning("embedding a batch of %d photos failed: embedding them one by one",
                    len(detected))
    kept, parts = [], []
    for d in detected:
        try:
            parts.append(embedder.embed([f.crop for f in d.faces]))
            kept.append(d)
        except SQLAlchemyError:
            raise
        except Exception as exc:
            _fail(lib, res, d.item, _photo_error(exc), d.photo)
            res.processed -= 1
    dim = parts[0].shape[1] if parts else 0
    return kept, np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)


def _store(lib: Library, detected: list[_Detected], dupes: list[PhotoFile],
           res: BatchResult) -> None:
    """Embed the faces of all detected photos together and store them in one transaction; then
    write each face's thumbnail (a missing one is made again from the photo when needed)."""
    embedder = lib.models.embedder
    with res.stages.stage("embed"):
        detected, vectors = _embed(lib, detected, res)
    k = 0
    thumbs: list[tuple[int, np.ndarray]] = []
    with res.stages.stage("store"), lib.session() as s:
        for d in detected:
            ph = d.photo
            if not queue.holds(s, str(ph.path), lib.claimer):
                log.warning("not stored: %s: its lease ended and another claimer took it",
                            ph.path)
                k += len(d.faces)
                continue
            new_faces = []
            for f in d.faces:
                det = f.detection
                x, y, w, h = (round(v, 2) for v in det.box)
                q = face_quality(det.box, det.confidence, det.landmarks, f.crop)
                new_faces.append(NewFace(
                    box=(x, y, w, h), landmarks=np.round(det.landmarks, 2).tolist(),
                    confidence=round(det.confidence, 5), embedding=vectors[k],
                    weights=embedder.weights_id, quality=q.score, sharpness=q.sharpness,
                    yaw=q.yaw, pixels=pixel_signature(f.crop)))
                k += 1
            ids = queue.record_processed(s, str(ph.path), ph.sha256, ph.size, ph.mtime,
                                         d.size[0], d.size[1], new_faces, d.pixels)
            thumbs += [(fid, f.crop) for fid, f in zip(ids, d.faces, strict=True)]
            res.faces += len(new_faces)
        s.flush()
        for ph in dupes:
            queue.record_duplicate(s, str(ph.path), ph.sha256, ph.size, ph.mtime)
            res.duplicates += 1
        s.commit()
    with res.stages.stage("thumbs"):
        for fid, crop in thumbs:
            try:
                write_thumb(thumb_path(lib.settings.state_dir, fid), crop)
            except OSError as exc:
                log.warning("thumbnail of face %d not written: %s", fid, exc)


def recover_interrupted(lib: Library) -> int:
    """Photos a crash or a failed turn of this process (by its claimer name) left `processing`,
    or whose lease ended, go back to the queue, each to be tried alone next; one that has
    stopped the process `watch.max_attempts` times fails instead. Return how many."""
    with lib.session() as s:
        n = queue.recover_interrupted(s, lib.claimer, lib.settings.watch.max_attempts)
        s.commit()
    return n


def queued(lib: Library) -> int:
    """Photos waiting on the queue."""
    with lib.session() as s:
        return queue.queued_count(s)


def retry_failed(lib: Library, paths: Sequence[Path] = ()) -> int:
    """Put failed photos (all, or those given) back on the queue with their attempts reset;
    return how many."""
    with lib.session() as s:
        n = queue.retry_failed(s, [str(p) for p in paths])
        s.commit()
    return n
