"""The worker thread: owns the models, takes batches off the durable queue, then reclusters and
syncs the folders. Started and stopped explicitly by the daemon."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.service.pipeline import BatchResult, Models, process_batch
from facefold.service.recluster import cluster_params, recluster, sync_people_folders

log = logging.getLogger(__name__)

IDLE_WAIT_SECONDS = 1.0  # how long an idle worker sleeps between looks at the queue


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
        self.batches = 0
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

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def run(self) -> None:
        try:
            while not self._stop_requested.is_set():
                self.heartbeat()
                settings = self._settings()
                res = process_batch(settings, self.engine, self.models,
                                    settings.watch.batch_photos, self.deferred,
                                    should_stop=self._stop_requested.is_set,
                                    heartbeat=self.heartbeat)
                if res.changed or self._sync_requested.is_set():
                    self._sync_requested.clear()
                    self._finish(settings, res)
                if res.claimed == 0:
                    self._wake.wait(IDLE_WAIT_SECONDS)
                    self._wake.clear()
        except BaseException as exc:  # the daemon sees it and exits non-zero
            log.exception("worker crashed")
            self.error = exc

    def _finish(self, settings: Settings, res: BatchResult) -> None:
        t0 = time.monotonic()
        with Session(self.engine) as s:
            rc = recluster(s, cluster_params(settings))
            s.commit()
            sync = sync_people_folders(s, settings)
            seconds = res.seconds + time.monotonic() - t0
            if res.claimed:
                store.record_batch(s, res.claimed - res.requeued, res.faces, rc.new_persons,
                                   len(res.failures), seconds)
            s.commit()
        self.batches += 1
        if res.claimed:
            log.info(
                "batch: %d photos (%d processed, %d unchanged, %d duplicates, %d moved, "
                "%d removed), %d faces, %d new people, %d failed, %d people, links +%d -%d, "
                "%.1fs", res.claimed - res.requeued, res.processed, res.unchanged,
                res.duplicates, res.moved, res.removed, res.faces, rc.new_persons,
                len(res.failures), rc.persons,
                sync.links_created, sync.links_removed, seconds)
