"""`facefold watch`: the daemon. Wires watcher → settle queue → durable queue → worker, and owns
the lifecycle: start-up, catch-up, periodic reconcile, signals, systemd notifications, shutdown."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import sdnotify
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from facefold.config import ConfigError, Settings, load_settings
from facefold.db import store
from facefold.db.engine import make_engine, upgrade_head
from facefold.service.pipeline import Models
from facefold.service.queue import SettleQueue
from facefold.service.reconcile import reconcile
from facefold.service.watcher import InboxHandler, start_observer
from facefold.service.worker import Worker
from facefold.vision.weights import WeightsError

log = logging.getLogger(__name__)

LOOP_SECONDS = 0.25  # how often the main loop hands settled files to the queue
EXIT_CONFIG = 78  # EX_CONFIG: bad config or weights; the unit does not restart on it
STOP_JOIN_SECONDS = 20.0  # longest wait for the worker to finish its batch at shutdown
RESTART_ONLY_KEYS = ("inbox", "people", "database", "state_dir", "models_dir", "embedding")


@dataclass
class _Flags:
    stop: threading.Event
    reload: threading.Event


def _install_signals(flags: _Flags) -> None:
    """All signal handling in one place: TERM/INT stop, HUP reloads the config."""

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: stopping", signal.Signals(signum).name)
        flags.stop.set()

    def on_hup(_signum: int, _frame: FrameType | None) -> None:
        flags.reload.set()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.notifier = sdnotify.SystemdNotifier()
        self.flags = _Flags(threading.Event(), threading.Event())
        self._last_ping = 0.0

    def current(self) -> Settings:
        return self.settings

    def heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_ping >= 1.0:
            self._last_ping = now
            self.notifier.notify("WATCHDOG=1")

    def reload(self, models: Models) -> None:
        source = self.settings.source
        try:
            new = load_settings(source)
        except ConfigError as exc:
            for line in exc.errors:
                log.error("reload refused: %s", line)
            log.error("reload refused: keeping the running configuration")
            return
        keep = {k: getattr(self.settings, k) for k in RESTART_ONLY_KEYS
                if getattr(new, k) != getattr(self.settings, k)}
        for key in keep:
            log.warning("reload: %s changed; it takes effect after a restart", key)
        self.settings = new.model_copy(update=keep)
        models.apply(self.settings)
        logging.getLogger().setLevel(self.settings.logging.level)
        log.info("reloaded %s", source)

    def run(self) -> int:
        s = self.settings
        s.inbox.mkdir(parents=True, exist_ok=True)
        s.people.mkdir(parents=True, exist_ok=True)
        s.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = make_engine(s.database, s.database_busy_seconds)
        upgrade_head(engine)
        models = Models.from_settings(s)
        try:
            models.load()
        except WeightsError as exc:
            log.error("%s", exc)
            return EXIT_CONFIG
        _install_signals(self.flags)  # (photos a crash left half-done: the worker requeues them)

        settle = SettleQueue(s.watch.settle_seconds)
        handler = InboxHandler(s.inbox, settle, s.decode.extensions, s.watch.ignore)
        observer = start_observer(s.inbox, handler)  # before the catch-up: no event is missed
        worker = Worker(self.current, engine, models, self.heartbeat)
        worker.start()
        self.notifier.notify("READY=1")
        self.notifier.notify("STATUS=catching up")
        rec = reconcile(engine, [s.inbox], s.decode.extensions, s.follow_symlinks)
        log.info("watching %s: %d photos, %d queued, %d unchanged", s.inbox, rec.files,
                 rec.queued, rec.unchanged)
        worker.request_sync()
        self.notifier.notify("STATUS=watching")
        code = 0
        next_rescan = time.monotonic() + (s.watch.rescan_interval or float("inf"))
        try:
            while not self.flags.stop.is_set():
                if worker.error is not None or not worker.is_alive():
                    log.error("worker stopped unexpectedly; exiting")
                    code = 1
                    break
                if self.flags.reload.is_set():
                    self.flags.reload.clear()
                    self.reload(models)
                    settle.settle_seconds = self.settings.watch.settle_seconds
                    handler.ignore = self.settings.watch.ignore
                now = time.monotonic()
                if handler.overflowed.is_set():
                    handler.overflowed.clear()
                    log.warning("file events were lost (inotify queue overflow): rescanning")
                    next_rescan = now
                try:
                    queued, moved = self._pump(engine, settle, now)
                    if moved:
                        worker.request_sync()
                    elif queued:
                        worker.wake()
                    if now >= next_rescan:
                        rec = reconcile(engine, [s.inbox], self.settings.decode.extensions,
                                        self.settings.follow_symlinks)
                        if rec.queued:
                            log.info("rescan: %d photos queued that events missed", rec.queued)
                        worker.request_sync()  # and put back what was edited in the people folder
                        interval = self.settings.watch.rescan_interval
                        next_rescan = now + (interval or float("inf"))
                except OperationalError as exc:
                    # events taken off the settle queue are not lost: the rescan compares the
                    # inbox with the database and finds every file they named
                    delay = self.settings.watch.storage_retry_seconds
                    log.error("storage error: %s; rescanning in %.0fs", exc.orig, delay)
                    next_rescan = now + delay
                self.flags.stop.wait(LOOP_SECONDS)
        finally:
            self.notifier.notify("STOPPING=1")
            worker.stop()
            observer.stop()
            worker.join(STOP_JOIN_SECONDS)
            observer.join(5.0)
            if worker.is_alive():
                log.error("worker did not finish within %.0fs", STOP_JOIN_SECONDS)
                code = code or 1
            engine.dispose()
        log.info("stopped")
        return code

    def _pump(self, engine: Engine, settle: SettleQueue, now: float) -> tuple[int, int]:
        """Hand renames and settled paths to the database; return (queued, renames applied)."""
        moves = settle.take_moves()
        files, folders = settle.ready(now)
        if not (moves or files or folders):
            return 0, 0
        renamed = 0
        queued = 0
        with Session(engine) as s:
            for src, dest, is_folder in moves:
                if is_folder:
                    n = store.move_folder(s, src, dest)
                    log.info("moved folder %s -> %s (%d photos)", src, dest, n)
                    folders += [src, dest]
                    renamed += n
                elif store.move_path(s, src, dest):
                    log.info("moved %s -> %s", src, dest)
                    renamed += 1
                else:
                    files += [src, dest]
            s.commit()
            queued += store.enqueue(s, sorted(set(files)))
            s.commit()
        for root in folders:
            queued += reconcile(engine, [Path(root)], self.settings.decode.extensions,
                                self.settings.follow_symlinks).queued
        return queued, renamed
