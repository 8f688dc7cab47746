"""The library: one set of settings, its database and its models, shared by every use case."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db.engine import (
    DatabaseUnusable,
    check_writable,
    database_file,
    make_engine,
    upgrade_head,
)
from facefold.vision.detect import DetectParams, FaceDetector
from facefold.vision.device import Runtimes, choose_runtimes
from facefold.vision.embed import Embedder
from facefold.vision.ports import FaceEmbedder, FaceFinder


def _identity(file: Path | None) -> tuple[int, int] | None:
    if file is None:
        return None
    try:
        st = os.stat(file)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def runtimes(settings: Settings) -> Runtimes:
    """The runtimes this process uses for MTCNN and FaceNet (`auto` resolved)."""
    return choose_runtimes(settings.detection.runtime, settings.embedding.runtime)


def detect_params(settings: Settings) -> DetectParams:
    d = settings.detection
    return DetectParams(d.max_side, d.min_confidence, d.min_face_size, d.retry_pad,
                        d.retry_stage_score, d.retry_min_confidence, d.retry_min_face_size,
                        d.enlarge_min_face_size, d.enlarge_min_confidence,
                        d.confirm_min_confidence, d.confirm_min_score)


def embed_batch(settings: Settings, rt: Runtimes) -> int:
    """Faces per FaceNet pass: larger when TensorFlow runs it on a GPU."""
    e = settings.embedding
    on_gpu = rt.embedding == "tensorflow" and bool(rt.gpus)
    return max(e.batch_size, e.gpu_batch_size) if on_gpu else e.batch_size


@dataclass
class Models:
    """The face finder and the embedder, each loaded lazily on first use."""

    finder: FaceFinder
    embedder: FaceEmbedder

    @classmethod
    def from_settings(cls, settings: Settings) -> Models:
        """MTCNN and FaceNet with the configured thresholds and weights (nothing loaded yet)."""
        rt = runtimes(settings)
        finder = FaceDetector(detect_params(settings), rt.detection, settings.models_dir,
                              rt.cpu_fallback("detection"))
        return cls(finder, Embedder(settings.weights_file(), embed_batch(settings, rt),
                                    rt.embedding, settings.models_dir,
                                    rt.cpu_fallback("embedding")))

    def load(self) -> None:
        """Load both now; raise WeightsError (first: it is quicker to fail than MTCNN to load)."""
        self.embedder.load()
        self.finder.load()


class Library:
    """A photo library as facefold keeps it: the settings, the database (migrated on first use)
    and the models (made on first use, or given, e.g. fakes in tests).

    One Library per process; its use cases open their own sessions and may run in any thread,
    but the models are meant for one worker thread at a time.
    """

    def __init__(self, settings: Settings, models: Models | None = None,
                 engine: Engine | None = None, role: str = "facefold") -> None:
        self.settings = settings
        # who this process is when it claims photos: the same name after a restart of the
        # same daemon, so it takes back at once what it left half-done
        self.claimer = f"{socket.gethostname()}/{role}"
        self._models = models
        self._engine = engine
        self._lock = threading.Lock()
        self._db_identity: tuple[int, int] | None = None  # the SQLite file's (device, inode)

    @property
    def engine(self) -> Engine:
        """The database engine, migrated to the newest schema; raise DatabaseURLError."""
        with self._lock:
            if self._engine is None:
                s = self.settings
                engine = make_engine(s.database, s.database_busy_seconds)
                upgrade_head(engine)
                self._engine = engine
                self._db_identity = _identity(database_file(engine))
            return self._engine

    def check_writable(self) -> None:
        """Raise DatabaseUnusable when the database refuses writes (for the processes that
        write: watch, worker, scan)."""
        check_writable(self.engine)

    def check_database(self) -> None:
        """Raise DatabaseUnusable when the SQLite file this process opened was deleted or
        replaced since: what it wrote would go into a file nobody can open again."""
        file = database_file(self.engine)
        if file is not None and _identity(file) != self._db_identity:
            raise DatabaseUnusable(
                f"database: {file} was deleted or replaced while facefold was running; "
                "nothing more is written to it. Put it back from a backup, or start facefold "
                "again to begin a new one")

    @property
    def models(self) -> Models:
        with self._lock:
            if self._models is None:
                self._models = Models.from_settings(self.settings)
            return self._models

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the library's database; the caller commits."""
        with Session(self.engine) as s:
            yield s

    def apply(self, settings: Settings) -> None:
        """Take new settings (a config reload): thresholds apply at once; the database and the
        embedding weights stay as they were (the caller keeps those keys unchanged)."""
        self.settings = settings
        if self._models is not None:
            self._models.finder.params = detect_params(settings)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
