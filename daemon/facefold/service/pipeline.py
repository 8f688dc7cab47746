"""One batch of queued photos through the pipeline: read → decode → detect → align → embed → store.

The durable queue is the `images` table: a batch is claimed (queued → processing) and every photo
ends done or failed, or goes back to the queue. Faces of a photo are replaced in the same
transaction that marks it done, so a crash at any point can only leave photos `processing`
(requeued at start), never half-stored or doubled.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.files import PhotoFile, ReadError, read_photo
from facefold.thumbs import thumb_path, write_thumb
from facefold.timing import Stopwatch
from facefold.vision.decode import DecodeError, decode_photo
from facefold.vision.detect import FaceDetector
from facefold.vision.embed import Embedder
from facefold.vision.faces import FoundFace, find_faces

log = logging.getLogger(__name__)


@dataclass
class Models:
    """The two models, each loaded lazily on first use, owned by one worker."""

    detector: FaceDetector
    embedder: Embedder

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        d = settings.detection
        return cls(
            detector=FaceDetector(d.max_side, d.min_confidence, d.min_face_size),
            embedder=Embedder(settings.weights_file(), settings.embedding.batch_size),
        )

    def load(self) -> None:
        self.embedder.load()  # first: a missing weights file fails before the slower detector
        self.detector.load()

    def apply(self, settings: Settings) -> None:
        """Take the detection thresholds of new settings (a config reload)."""
        d = settings.detection
        self.detector.max_side = d.max_side
        self.detector.min_confidence = d.min_confidence
        self.detector.min_face_size = d.min_face_size


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

    def add(self, other: BatchResult) -> None:
        for name in ("claimed", "processed", "unchanged", "duplicates", "moved", "removed",
                     "requeued", "faces"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        self.seconds += other.seconds
        self.stages.add(other.stages)


@dataclass
class _Detected:
    photo: PhotoFile
    size: tuple[int, int]  # full-size (width, height), upright
    faces: list[FoundFace]


MAX_RETRY_SECONDS = 3600.0  # the back-off between retries never exceeds an hour


def retry_delay(attempts_so_far: int, base: float, cap: float = MAX_RETRY_SECONDS) -> float:
    """Seconds to wait before try number attempts_so_far + 2: base, 2·base, 4·base, … ≤ cap."""
    return min(cap, base * 2 ** max(0, attempts_so_far))


def _fail(settings: Settings, engine: Engine, res: BatchResult, item: store.QueueItem,
          exc: ReadError | DecodeError, photo: PhotoFile | None = None) -> None:
    """Record a failure: back on the queue after a delay when it may pass and tries are left,
    else failed for good."""
    error = str(exc)
    retry = exc.transient and item.attempts + 1 < settings.watch.max_attempts
    after = retry_delay(item.attempts, settings.watch.retry_seconds) if retry else None
    if after is None:
        log.warning("failed: %s: %s", item.path, error)
    else:
        log.warning("failed: %s: %s (try %d of %d; again in %.0fs)", item.path, error,
                    item.attempts + 1, settings.watch.max_attempts, after)
    res.failures.append((item.path, error))
    with Session(engine) as s:
        if photo is None:
            store.record_failure(s, item.path, error, retry_after=after)
        else:
            store.record_failure(s, item.path, error, photo.sha256, photo.size, photo.mtime,
                                 retry_after=after)
        s.commit()


def _forget(engine: Engine, res: BatchResult, path: str) -> None:
    with Session(engine) as s:
        if store.forget_path(s, path):
            res.removed += 1
        s.commit()


def process_batch(settings: Settings, engine: Engine, models: Models, limit: int,
                  deferred: set[str], should_stop: Callable[[], bool] = lambda: False,
                  heartbeat: Callable[[], None] = lambda: None) -> BatchResult:
    """Claim up to `limit` queued photos and bring each to done or failed (or back to the queue
    when `should_stop` turns true). A photo whose file is gone is forgotten, after being put at the
    back of the queue once while other work waits (so a rename seen as delete + create keeps its
    faces). `deferred` remembers those across batches."""
    t0 = time.monotonic()
    res = BatchResult()
    with Session(engine) as s:
        items = store.claim_batch(s, limit)
        s.commit()
        more_waiting = store.queued_count(s) > 0
    res.claimed = len(items)
    detected: list[_Detected] = []
    dupes: list[PhotoFile] = []
    batch_shas: set[str] = set()
    for k, item in enumerate(items):
        if should_stop():
            with Session(engine) as s:
                store.requeue(s, [it.id for it in items[k:]])
                s.commit()
            res.requeued += len(items) - k
            break
        heartbeat()
        path = item.path
        if not os.path.lexists(path):
            if more_waiting and path not in deferred:
                deferred.add(path)
                with Session(engine) as s:
                    store.requeue(s, [item.id], to_back=True)
                    s.commit()
                res.requeued += 1
            else:
                deferred.discard(path)
                _forget(engine, res, path)
            continue
        try:
            with res.stages.stage("read"):
                photo = read_photo(Path(path), settings.decode.max_file_bytes,
                                   settings.follow_symlinks)
        except ReadError as exc:
            _fail(settings, engine, res, item, exc)
            continue
        if item.processed_ok and item.sha256 == photo.sha256:
            with Session(engine) as s:
                store.record_unchanged(s, path, photo.size, photo.mtime)
                s.commit()
            res.unchanged += 1
            continue
        if photo.sha256 in batch_shas:
            dupes.append(photo)
            continue
        with Session(engine) as s:
            other = store.done_image_with_content(s, photo.sha256, exclude_path=path)
            if other is not None:
                if os.path.lexists(other.path):
                    store.record_duplicate(s, path, photo.sha256, photo.size, photo.mtime)
                    res.duplicates += 1
                else:
                    log.info("moved: %s -> %s", other.path, path)
                    store.record_moved(s, other, path, photo.size, photo.mtime)
                    res.moved += 1
                s.commit()
                continue
        try:
            with res.stages.stage("decode"):
                decoded = decode_photo(photo.data, settings.decode.max_pixels,
                                       settings.decode.draft_min_side)
        except DecodeError as exc:
            _fail(settings, engine, res, item, exc, photo)
            continue
        faces = find_faces(models.detector, decoded.pixels, settings.embedding.margin,
                           decoded.scale, res.stages)
        detected.append(_Detected(photo, decoded.full_size, faces))
        batch_shas.add(photo.sha256)
        res.processed += 1
    heartbeat()
    _store(settings, engine, models, detected, dupes, res)
    res.seconds = time.monotonic() - t0
    return res


def _store(settings: Settings, engine: Engine, models: Models, detected: list[_Detected],
           dupes: list[PhotoFile], res: BatchResult) -> None:
    """Embed the faces of all detected photos together and store them in one transaction; then
    write each face's thumbnail (a missing one is made again from the photo when needed)."""
    crops = [f.crop for d in detected for f in d.faces]
    with res.stages.stage("embed"):
        vectors = models.embedder.embed(crops)
    k = 0
    thumbs: list[tuple[int, np.ndarray]] = []
    with res.stages.stage("store"), Session(engine) as s:
        for d in detected:
            new_faces = []
            for f in d.faces:
                det = f.detection
                x, y, w, h = (round(v, 2) for v in det.box)
                new_faces.append(store.NewFace(
                    box=(x, y, w, h), landmarks=np.round(det.landmarks, 2).tolist(),
                    confidence=round(det.confidence, 5), embedding=vectors[k],
                    weights=models.embedder.weights_id))
                k += 1
            ph = d.photo
            ids = store.record_processed(s, str(ph.path), ph.sha256, ph.size, ph.mtime,
                                         d.size[0], d.size[1], new_faces)
            thumbs += [(fid, f.crop) for fid, f in zip(ids, d.faces, strict=True)]
            res.faces += len(new_faces)
        s.flush()
        for ph in dupes:
            store.record_duplicate(s, str(ph.path), ph.sha256, ph.size, ph.mtime)
            res.duplicates += 1
        s.commit()
    with res.stages.stage("thumbs"):
        for fid, crop in thumbs:
            try:
                write_thumb(thumb_path(settings.state_dir, fid), crop)
            except OSError as exc:
                log.warning("thumbnail of face %d not written: %s", fid, exc)
