"""The worker thread: owns the models, takes batches off the durable queue, then reclusters and
syncs the folders. Started and stopped explicitly by the daemon."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.service.pipeline import BatchResult, Models, process_batch, retry_delay
from facefold.service.recluster import Assigner, sync_people_folders
from facefold.service.reembed import reembed_some

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 1.0  # how long an idle worker sleeps between looks at the queue
REEMBED_CHUNK = 64  # faces re-embedded per idle turn after the weights changed
MAX_STORAGE_RETRY_SECONDS = 300.0  # the back-off after storage errors never exceeds 5 minutes


class Worker(threading.Thread):
    """Process queued photos until stopped. `heartbeat` is called at least once a second while the
    worker is healthy (idle or busy), so a wedged worker stops the systemd watchdog pings."""

    def __init__(self, settings: Callable[[], Settings], engine: Engine, models: Models,
                 heartbeat: Callable[[], None] = lambda: None) -> None:
        super().__init__(name="facefold-worker", daemon=True)
        self._settings = settings
        self.engine = engine
        self.models = models
        self.heartbeat = heartbeat
        self._stop_requested = threading.Event()
        self._wake = threading.Event()
        self._sync_requested = threading.Event()
        self.deferred: set[str] = set()
        self.assigner = Assigner(settings())
        self._last_full = time.monotonic()
        self.error: BaseException | None = None

    def wake(self) -> None:
        """New work is queued: look now rather than after the idle wait."""
        self._wake.set()

    def request_sync(self) -> None:
        """Recluster and sync the folders at the next chance, even without new photos."""
        self._sync_requested.set()
        self._wake.set()

    def stop(self) -> None:
        self._stop_requested.set()
        self._wake.set()

    def run(self) -> None:
        try:
            failures = 0
            recover = True  # (re)load who is who, requeue what a failed turn left claimed
            while not self._stop_requested.is_set():
                self.heartbeat()
                settings = self._settings()
                try:
                    if recover:
                        self._recover()
                        recover = False
                    self._turn(settings)
                    failures = 0
                except (OperationalError, OSError) as exc:
                    # the database locked past its busy timeout, the disk full, an I/O error:
                    # nothing is lost (the queue is in the database), so wait and try again
                    delay = retry_delay(failures, settings.watch.storage_retry_seconds,
                                        MAX_STORAGE_RETRY_SECONDS)
                    failures += 1
                    reason = exc.orig if isinstance(exc, OperationalError) else exc
                    log.error("storage error: %s; trying again in %.0fs", reason, delay)
                    recover = True
                    self._pause(delay)
        except BaseException as exc:  # the daemon sees it and exits non-zero
            log.exception("worker crashed")
            self.error = exc

    def _recover(self) -> None:
        """At start and after a storage error: requeue photos left `processing` (by a crash or
        a failed turn), reload who is who, and sync the folders again."""
        with Session(self.engine) as s:
            n = store.recover_interrupted(s)
            s.commit()
            self.assigner.load(s)
        self._sync_requested.set()  # a sync the failure cut short is done again
        if n:
            log.info("requeued %d photos an interruption left half-done", n)

    def _pause(self, seconds: float) -> None:
        """Wait `seconds` or until stopped, still sending heartbeats (the worker is healthy)."""
        end = time.monotonic() + seconds
        while not self._stop_requested.is_set() and time.monotonic() < end:
            self.heartbeat()
            self._stop_requested.wait(min(1.0, end - time.monotonic()))

    def _turn(self, settings: Settings) -> None:
        """One batch off the queue, then recluster and sync when something changed."""
        self.assigner.settings = settings
        self._pick_up_cli_changes()
        res = process_batch(settings, self.engine, self.models, settings.watch.batch_photos,
                            self.deferred, should_stop=self._stop_requested.is_set,
                            heartbeat=self.heartbeat)
        idle = res.claimed == 0 or self._queue_empty()
        full_due = self._full_due(settings, idle)
        if res.changed or res.failures or full_due or self._sync_requested.is_set() or (
                idle and self.assigner.pool_dirty):
            self._sync_requested.clear()
            self._finish(settings, res, idle, full_due)
        if res.claimed == 0 and not self._reembed(settings):
            self._wake.wait(IDLE_WAIT_SECONDS)
            self._wake.clear()

    def _reembed(self, settings: Settings) -> bool:
        """When idle: re-embed a chunk of faces made with other weights; after the last chunk,
        recluster everything (ids and names kept). True when it did some work."""
        res = reembed_some(settings, self.engine, self.models, REEMBED_CHUNK)
        if res.faces == 0 and res.unreadable == 0:
            return False
        self.heartbeat()
        log.info("reembed: %d faces with the new weights, %d left", res.faces, res.left)
        if res.left == 0:
            self._finish(settings, BatchResult(), idle=True, full=True)
        return True

    def _queue_empty(self) -> bool:
        with Session(self.engine) as s:
            return store.queued_count(s) == 0

    def _full_due(self, settings: Settings, idle: bool) -> bool:
        hours = settings.clustering.full_interval_hours
        return idle and hours > 0 and time.monotonic() - self._last_full >= hours * 3600

    def _pick_up_cli_changes(self) -> None:
        """People changed by the CLI (name, merge, move, …): reload who is who and resync."""
        with Session(self.engine) as s:
            rev = store.people_rev(s)
            if rev != self.assigner.people_rev:
                self.assigner.load(s)
                self.request_sync()

    def _finish(self, settings: Settings, res: BatchResult, idle: bool, full: bool) -> None:
        t0 = time.monotonic()
        with Session(self.engine) as s, res.stages.stage("cluster"):
            if full:
                rc = self.assigner.full(s)
                self._last_full = time.monotonic()
                log.info("full recluster: %d people, %d faces assigned, %d unassigned",
                         rc.persons, rc.assigned_faces, rc.unassigned_faces)
            else:
                rc = self.assigner.step(s, idle)
            s.commit()
        with Session(self.engine) as s:
            with res.stages.stage("folders"):
                sync = sync_people_folders(s, settings)
            seconds = res.seconds + time.monotonic() - t0
            if res.claimed:
                store.record_batch(s, res.claimed - res.requeued, res.faces, rc.new_persons,
                                   len(res.failures), seconds)
            s.commit()
        if res.claimed:
            log.info(
                "batch: %d photos (%d processed, %d unchanged, %d duplicates, %d moved, "
                "%d removed), %d faces, %d new people, %d failed, %d people, links +%d -%d, "
                "%.1fs", res.claimed - res.requeued, res.processed, res.unchanged,
                res.duplicates, res.moved, res.removed, res.faces, rc.new_persons,
                len(res.failures), rc.persons,
                sync.links_created, sync.links_removed, seconds)
            log.debug("batch stages: %s", res.stages.summary())
