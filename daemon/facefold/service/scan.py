"""The one-shot run (`facefold scan`): reconcile the folders with the database, work through the
queue in batches, then recluster and sync the people folders once."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.people.folders import SyncResult
from facefold.service.pipeline import BatchResult, Models, process_batch
from facefold.service.recluster import Assigner, ReclusterResult, sync_people_folders
from facefold.service.reconcile import reconcile
from facefold.timing import Stopwatch

log = logging.getLogger(__name__)

__all__ = ["Models", "ScanResult", "scan"]


@dataclass
class ScanResult:
    photos: int = 0  # photo files seen
    processed: int = 0  # decoded and searched for faces this run
    unchanged: int = 0  # skipped: same size and mtime, or same content, as already stored
    duplicates: int = 0  # content already processed under another path
    moved: int = 0  # renamed while facefold was not looking: faces kept
    removed: int = 0  # stored paths whose file is gone
    faces: int = 0  # faces found this run
    failures: list[tuple[str, str]] = field(default_factory=list)
    recluster: ReclusterResult | None = None
    sync: SyncResult | None = None
    seconds: float = 0.0
    stages: Stopwatch = field(default_factory=Stopwatch)

    def summary(self) -> str:
        people = self.recluster.persons if self.recluster else 0
        new = self.recluster.new_persons if self.recluster else 0
        return (f"scan: {self.photos} photos ({self.processed} processed, {self.unchanged} "
                f"unchanged, {self.duplicates} duplicates, {self.moved} moved, {self.removed} "
                f"removed), {self.faces} faces, {people} people ({new} new), "
                f"{len(self.failures)} failed, {self.seconds:.1f}s")


def drain(settings: Settings, engine: Engine, models: Models,
          on_photo: Callable[[int], None] | None = None) -> BatchResult:
    """Process queued photos batch after batch until the queue is empty."""
    total = BatchResult()
    deferred: set[str] = set()
    while True:
        res = process_batch(settings, engine, models, settings.watch.batch_photos, deferred)
        if res.claimed == 0:
            return total
        total.add(res)
        if on_photo:
            on_photo(res.claimed - res.requeued)


def scan(settings: Settings, engine: Engine, models: Models, paths: Sequence[Path] = (),
         on_total: Callable[[int], None] | None = None,
         on_photo: Callable[[int], None] | None = None) -> ScanResult:
    """Process every new or changed photo under `paths` (default: the inbox), forget photos that
    are gone from there, recluster and sync the people folders. Failures of single photos are
    recorded and listed, never raised."""
    t0 = time.monotonic()
    roots = [Path(os.path.abspath(p)) for p in (paths or [settings.inbox])]
    with Session(engine) as s:
        store.recover_interrupted(s)
        s.commit()
    stages = Stopwatch()
    with stages.stage("reconcile"):
        rec = reconcile(engine, roots, settings.decode.extensions, settings.follow_symlinks)
    with Session(engine) as s:
        waiting = store.queued_count(s)
    if on_total:
        on_total(waiting)
    done = drain(settings, engine, models, on_photo)
    result = ScanResult(
        photos=rec.files, processed=done.processed, unchanged=rec.unchanged + done.unchanged,
        duplicates=done.duplicates, moved=done.moved, removed=done.removed, faces=done.faces,
        failures=list(dict(done.failures).items()),  # a photo retried in this run: listed once
        stages=stages,
    )
    stages.add(done.stages)
    with Session(engine) as s:
        with stages.stage("cluster"):
            assigner = Assigner(settings)
            assigner.load(s)
            result.recluster = assigner.step(s, idle=True)
            s.commit()
        with stages.stage("folders"):
            result.sync = sync_people_folders(s, settings)
    result.seconds = time.monotonic() - t0
    return result
