"""The one-shot pipeline (`facefold scan`): files → decode → detect → align → embed → store →
recluster → folders, with faces of many photos embedded together."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.db.models import ImageStatus
from facefold.files import PhotoFile, ReadError, iter_photos, read_photo
from facefold.people.folders import SyncResult
from facefold.service.recluster import (
    ReclusterResult,
    cluster_params,
    recluster,
    sync_people_folders,
)
from facefold.vision.decode import DecodeError, decode_image
from facefold.vision.detect import FaceDetector
from facefold.vision.embed import Embedder
from facefold.vision.faces import FoundFace, find_faces
from facefold.vision.weights import weights_path

log = logging.getLogger(__name__)


@dataclass
class Models:
    """The two models, each loaded lazily on first use."""

    detector: FaceDetector
    embedder: Embedder

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        d = settings.detection
        return cls(
            detector=FaceDetector(d.max_side, d.min_confidence, d.min_face_size),
            embedder=Embedder(weights_path(settings.models_dir), settings.embedding.batch_size),
        )

    def load(self) -> None:
        self.embedder.load()  # first: a missing weights file fails before the slower detector
        self.detector.load()


@dataclass
class ScanResult:
    photos: int = 0  # photo files seen
    processed: int = 0  # decoded and searched for faces this run
    unchanged: int = 0  # skipped: same size, mtime or content as already stored
    duplicates: int = 0  # content already processed under another path
    removed: int = 0  # stored paths whose file is gone
    faces: int = 0  # faces found this run
    failures: list[tuple[str, str]] = field(default_factory=list)
    recluster: ReclusterResult | None = None
    sync: SyncResult | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        people = self.recluster.persons if self.recluster else 0
        new = self.recluster.new_persons if self.recluster else 0
        return (f"scan: {self.photos} photos ({self.processed} processed, {self.unchanged} "
                f"unchanged, {self.duplicates} duplicates, {self.removed} removed), "
                f"{self.faces} faces, {people} people ({new} new), "
                f"{len(self.failures)} failed, {self.seconds:.1f}s")


@dataclass
class _Pending:
    photo: PhotoFile
    shape: tuple[int, int]
    faces: list[FoundFace]


class _Batcher:
    """Collects detected photos until enough faces for a forward pass, then embeds and stores them."""

    def __init__(self, engine: Engine, models: Models, result: ScanResult) -> None:
        self.engine, self.models, self.result = engine, models, result
        self.pending: list[_Pending] = []
        self.shas: dict[str, str] = {}  # content → path, for this run's not yet stored photos
        self.dupes: list[PhotoFile] = []

    def add(self, item: _Pending) -> None:
        self.pending.append(item)
        self.shas[item.photo.sha256] = str(item.photo.path)
        if sum(len(p.faces) for p in self.pending) >= self.models.embedder.batch_size:
            self.flush()

    def flush(self) -> None:
        crops = [f.crop for p in self.pending for f in p.faces]
        vectors = self.models.embedder.embed(np.stack(crops)) if crops else np.zeros((0, 128))
        k = 0
        with Session(self.engine) as s:
            for p in self.pending:
                new_faces = []
                for f in p.faces:
                    d = f.detection
                    new_faces.append(store.NewFace(
                        box=tuple(round(v, 2) for v in d.box),  # type: ignore[arg-type]
                        landmarks=np.round(d.landmarks, 2).tolist(),
                        confidence=round(d.confidence, 5), embedding=vectors[k]))
                    k += 1
                ph = p.photo
                store.record_processed(s, str(ph.path), ph.sha256, ph.size, ph.mtime,
                                       p.shape[1], p.shape[0], new_faces)
                self.result.faces += len(new_faces)
            for ph in self.dupes:
                store.record_duplicate(s, str(ph.path), ph.sha256, ph.size, ph.mtime)
            s.commit()
        self.pending.clear()
        self.shas.clear()
        self.dupes.clear()


def _fail(engine: Engine, result: ScanResult, path: Path, error: str,
          photo: PhotoFile | None = None) -> None:
    log.warning("failed: %s: %s", path, error)
    result.failures.append((str(path), error))
    with Session(engine) as s:
        if photo is None:
            store.record_failure(s, str(path), error)
        else:
            store.record_failure(s, str(path), error, photo.sha256, photo.size, photo.mtime)
        s.commit()


def scan(settings: Settings, engine: Engine, models: Models, paths: Sequence[Path] = (),
         on_total: Callable[[int], None] | None = None,
         on_photo: Callable[[Path], None] | None = None) -> ScanResult:
    """Process every new or changed photo under `paths` (default: the inbox), forget photos that
    are gone from there, recluster and sync the people folders. Failures of single photos are
    recorded and listed, never raised."""
    t0 = time.monotonic()
    result = ScanResult()
    roots = [Path(os.path.abspath(p)) for p in (paths or [settings.inbox])]
    files = list(iter_photos(roots, settings.decode.extensions))
    result.photos = len(files)
    with Session(engine) as s:
        known = {path: (img.status, img.size, img.mtime, img.sha256)
                 for path, img in store.images_by_path(s).items()}
    if on_total:
        on_total(len(files))
    batcher = _Batcher(engine, models, result)
    for path in files:
        if on_photo:
            on_photo(path)
        _scan_one(settings, engine, models, batcher, known, path, result)
    batcher.flush()

    seen = {str(p) for p in files}
    with Session(engine) as s:
        for stored, img in store.images_by_path(s).items():
            gone = stored not in seen and any(Path(stored).is_relative_to(r) for r in roots)
            if gone and not os.path.lexists(stored):
                store.forget_image(s, img)
                result.removed += 1
        s.commit()
        result.recluster = recluster(s, cluster_params(settings))
        s.commit()
        result.sync = sync_people_folders(s, settings)
    result.seconds = time.monotonic() - t0
    return result


def _scan_one(settings: Settings, engine: Engine, models: Models, batcher: _Batcher,
              known: dict[str, tuple[ImageStatus, int | None, float | None, str | None]],
              path: Path, result: ScanResult) -> None:
    key = str(path)
    prev = known.get(key)
    try:
        st = path.stat()
    except OSError as exc:
        _fail(engine, result, path, f"cannot stat file: {exc.strerror or exc}")
        return
    if prev and prev[0] == ImageStatus.done and prev[1] == st.st_size and prev[2] == st.st_mtime:
        result.unchanged += 1
        return
    try:
        photo = read_photo(path, settings.decode.max_file_bytes)
    except ReadError as exc:
        _fail(engine, result, path, str(exc))
        return
    if prev and prev[0] == ImageStatus.done and prev[3] == photo.sha256:
        with Session(engine) as s:
            img = store.image_by_path(s, key)
            if img is not None:
                store.record_unchanged(s, img, photo.mtime)
            s.commit()
        result.unchanged += 1
        return
    if photo.sha256 in batcher.shas:
        batcher.dupes.append(photo)
        result.duplicates += 1
        return
    with Session(engine) as s:
        other = store.done_image_with_content(s, photo.sha256, exclude_path=key)
        if other is not None:
            store.record_duplicate(s, key, photo.sha256, photo.size, photo.mtime)
            s.commit()
            result.duplicates += 1
            return
    try:
        pixels = decode_image(photo.data, settings.decode.max_pixels)
    except DecodeError as exc:
        _fail(engine, result, path, str(exc), photo)
        return
    faces = find_faces(models.detector, pixels, settings.embedding.margin)
    result.processed += 1
    batcher.add(_Pending(photo=photo, shape=(pixels.shape[0], pixels.shape[1]), faces=faces))
