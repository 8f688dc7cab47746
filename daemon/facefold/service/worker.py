"""The worker thread: owns the models, takes batches off the durable queue, then reclusters and
syncs the folders. Started and stopped explicitly by the daemon; every step is a core use case."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from facefold.core import Library
from facefold.core.clusterer import Clusterer
from facefold.core.people import settle
from facefold.core.pipeline import (
    BatchResult,
    process_batch,
    queued,
    recover_interrupted,
    retry_delay,
)
from facefold.core.reembed import reembed_some
from facefold.core.reports import record_batch
from facefold.db import people as people_store

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 1.0  # how long an idle worker sleeps between looks at the queue
MAX_STORAGE_RETRY_SECONDS = 300.0  # the back-off after storage errors never exceeds 5 minutes


class Worker(threading.Thread):
    """Process queued photos until stopped. `heartbeat` is called at least once a second while the
    worker is healthy (idle or busy), so a wedged worker stops the systemd watchdog pings.

    The owner's worker (`owns_people`, in `facefold watch`) also clusters every new face, its
    own and those other workers stored, and keeps the folders in step; a `facefold worker`'s
    only processes photos."""

    def __init__(self, lib: Library, heartbeat: Callable[[], None] = lambda: None,
                 owns_people: bool = True) -> None:
        super().__init__(name="facefold-worker", daemon=True)
        self.lib = lib
        self.heartbeat = heartbeat
        self.owns_people = owns_people
        self._stop_requested = threading.Event()
        self._wake = threading.Event()
        self._sync_requested = threading.Event()
        self.deferred: set[str] = set()
        self.clusterer = Clusterer(lib.settings)
        self._last_full = time.monotonic()
        self.error: BaseException | None = None
        self.settles = 0  # clusterings and folder syncs done (a caller waits for the next)

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
                try:
                    if recover:
                        self._recover()
                        recover = False
                    self._turn()
                    failures = 0
                except (OperationalError, OSError) as exc:
                    # the database locked past its busy timeout, the disk full, an I/O error:
                    # nothing is lost (the queue is in the database), so wait and try again
                    delay = retry_delay(failures, self.lib.settings.watch.storage_retry_seconds,
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
        n = recover_interrupted(self.lib)
        if self.owns_people:
            with self.lib.session() as s:
                self.clusterer.load(s)
            self._sync_requested.set()  # a sync the failure cut short is done again
        if n:
            log.info("requeued %d photos an interruption left half-done", n)

    def _pause(self, seconds: float) -> None:
        """Wait `seconds` or until stopped, still sending heartbeats (the worker is healthy)."""
        end = time.monotonic() + seconds
        while not self._stop_requested.is_set() and time.monotonic() < end:
            self.heartbeat()
            self._stop_requested.wait(min(1.0, end - time.monotonic()))

    def _turn(self) -> None:
        """One batch off the queue, then recluster and sync when something changed."""
        settings = self.lib.settings
        self.clusterer.settings = settings
        if self.owns_people:
            self._pick_up_outside_changes()
        res = process_batch(self.lib, settings.watch.batch_photos, self.deferred,
                            should_stop=self._stop_requested.is_set, heartbeat=self.heartbeat)
        if not self.owns_people:
            self._photos_only(res)
            return
        idle = res.claimed == 0 or queued(self.lib) == 0
        full_due = self._full_due(idle)
        if res.changed or res.failures or full_due or self._sync_requested.is_set() or (
                idle and self.clusterer.pool_dirty):
            self._sync_requested.clear()
            self._finish(res, idle, full_due)
        if res.claimed == 0 and not self._reembed():
            self._wake.wait(IDLE_WAIT_SECONDS)
            self._wake.clear()

    def _photos_only(self, res: BatchResult) -> None:
        """A `facefold worker`'s turn after its batch: record it; wait when there was none."""
        if res.claimed:
            record_batch(self.lib, res, 0, res.seconds)
            log.info("batch: %d photos (%d processed, %d unchanged, %d duplicates), %d faces, "
                     "%d failed, %.1fs", res.photos, res.processed, res.unchanged,
                     res.duplicates, res.faces, len(res.failures), res.seconds)
        else:
            self._wake.wait(IDLE_WAIT_SECONDS)
            self._wake.clear()

    def _reembed(self) -> bool:
        """When idle: re-embed a chunk of faces made with other weights (or stored before their
        signatures were made); after the last chunk, recluster everything (ids and names kept).
        True when it did some work."""
        res = reembed_some(self.lib)
        if res.faces == 0 and res.unreadable == 0:
            return False
        self.heartbeat()
        log.info("reembed: %d faces embedded again (new weights or signatures), %d left",
                 res.faces, res.left)
        if res.left == 0:
            self._finish(BatchResult(), idle=True, full=True)
        return True

    def _full_due(self, idle: bool) -> bool:
        hours = self.lib.settings.clustering.full_interval_hours
        return idle and hours > 0 and time.monotonic() - self._last_full >= hours * 3600

    def _pick_up_outside_changes(self) -> None:
        """People changed by another process (name, merge, move, …): reload who is who and
        resync. Faces another process stored (a `facefold worker`): assign them and resync."""
        with self.lib.session() as s:
            if people_store.people_rev(s) != self.clusterer.people_rev:
                self.clusterer.load(s)
                self.request_sync()
            elif self.clusterer.behind(s):
                self.request_sync()

    def _finish(self, res: BatchResult, idle: bool, full: bool) -> None:
        t0 = time.monotonic()
        settled = settle(self.lib, self.clusterer, idle, full, res.stages)
        self.settles += 1
        rc, sync = settled.recluster, settled.sync
        if full:
            self._last_full = time.monotonic()
            log.info("full recluster: %d people, %d faces assigned, %d unassigned",
                     rc.persons, rc.assigned_faces, rc.unassigned_faces)
        if not res.claimed:
            return
        seconds = res.seconds + time.monotonic() - t0
        record_batch(self.lib, res, rc.new_persons, seconds)
        log.info(
            "batch: %d photos (%d processed, %d unchanged, %d duplicates, %d moved, "
            "%d removed), %d faces, %d new people, %d failed, %d people, links +%d -%d, "
            "%.1fs", res.photos, res.processed, res.unchanged, res.duplicates, res.moved,
            res.removed, res.faces, rc.new_persons, len(res.failures), rc.persons,
            sync.links_created, sync.links_removed, seconds)
        log.debug("batch stages: %s", res.stages.summary())
