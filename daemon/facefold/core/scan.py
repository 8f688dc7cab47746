"""The one-shot run (`facefold scan`): reconcile the folders with the database, work through the
queue in batches, then recluster and sync the people folders once."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facefold.core.clusterer import Clusterer, ReclusterResult
from facefold.core.inbox import reconcile
from facefold.core.library import Library
from facefold.core.people import settle
from facefold.core.pipeline import BatchResult, process_batch, queued, recover_interrupted
from facefold.core.reports import record_batch
from facefold.people.folders import SyncResult
from facefold.timing import Stopwatch


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
    away: str | None = None  # the inbox was unavailable (why): nothing in it was forgotten
    seconds: float = 0.0
    stages: Stopwatch = field(default_factory=Stopwatch)

    def summary(self) -> str:
        people = self.recluster.persons if self.recluster else 0
        new = self.recluster.new_persons if self.recluster else 0
        return (f"scan: {self.photos} photos ({self.processed} processed, {self.unchanged} "
                f"unchanged, {self.duplicates} duplicates, {self.moved} moved, {self.removed} "
                f"removed), {self.faces} faces, {people} people ({new} new), "
                f"{len(self.failures)} failed, {self.seconds:.1f}s")


def drain(lib: Library, on_photo: Callable[[int], None] | None = None) -> BatchResult:
    """Process queued photos batch after batch until the queue is empty."""
    total = BatchResult()
    deferred: set[str] = set()
    while True:
        res = process_batch(lib, lib.settings.watch.batch_photos, deferred)
        if res.claimed == 0:
            return total
        total.add(res)
        if on_photo:
            on_photo(res.photos)


def scan(lib: Library, paths: Sequence[Path] = (),
         on_total: Callable[[int], None] | None = None,
         on_photo: Callable[[int], None] | None = None) -> ScanResult:
    """Process every new or changed photo under `paths` (default: the inbox), forget photos that
    are gone from there, recluster and sync the people folders. Failures of single photos are
    recorded and listed, never raised."""
    t0 = time.monotonic()
    roots = [Path(os.path.abspath(p)) for p in (paths or [lib.settings.inbox])]
    recover_interrupted(lib)
    stages = Stopwatch()
    with stages.stage("reconcile"):
        rec = reconcile(lib, roots)
    if on_total:
        on_total(queued(lib))
    done = drain(lib, on_photo)
    result = ScanResult(
        photos=rec.files, processed=done.processed, unchanged=rec.unchanged + done.unchanged,
        duplicates=done.duplicates, moved=done.moved, removed=done.removed, faces=done.faces,
        failures=list(dict(done.failures).items()),  # a photo retried in this run: listed once
        away=rec.away, stages=stages,
    )
    stages.add(done.stages)
    clusterer = Clusterer(lib.settings)
    with stages.stage("cluster"), lib.session() as s:
        clusterer.load(s)
    settled = settle(lib, clusterer, idle=True, stages=stages)
    result.recluster, result.sync = settled.recluster, settled.sync
    result.seconds = time.monotonic() - t0
    if done.photos:  # the run is one batch on the status page, as the daemon's are
        record_batch(lib, done, settled.recluster.new_persons if settled.recluster else 0,
                     result.seconds)
    return result
