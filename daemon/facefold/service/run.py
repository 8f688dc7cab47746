"""`facefold watch`: the daemon. Wires watcher → settle queue → durable queue → worker, and owns
the lifecycle: start-up, catch-up, periodic reconcile, signals, systemd notifications, shutdown.
What it does to photos and people are core use cases; this module only schedules them."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

import sdnotify
from sqlalchemy.exc import OperationalError

from facefold.config import ConfigError, load_settings
from facefold.core import Library
from facefold.core.inbox import apply_events, inbox_away, reconcile
from facefold.core.pipeline import retry_delay
from facefold.db.lock import OwnerLock
from facefold.service.queue import SettleQueue
from facefold.service.watcher import InboxHandler, InboxWatch
from facefold.service.worker import MAX_STORAGE_RETRY_SECONDS, Worker

if TYPE_CHECKING:
    from facefold.web.server import WebServer

log = logging.getLogger(__name__)

LOOP_SECONDS = 0.25  # how often the main loop hands settled files to the queue
STOP_JOIN_SECONDS = 20.0  # longest wait for the worker to finish its batch at shutdown
LOCK_WAIT_SECONDS = 5.0  # a second watch looks this often whether the owner lock is free
LOCK_CHECK_SECONDS = 10.0  # the owner checks this often that its lock is still held
WORKER_STALL_SECONDS = 120.0  # a worker silent this long (inside one photo) is wedged
INBOX_CHECK_SECONDS = 2.0  # how often the daemon looks whether the inbox folder was replaced
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
    def __init__(self, lib: Library, web_listen: str | None = None) -> None:
        self.lib = lib
        self.web_listen = web_listen  # HOST:PORT to serve the web app on; None: no web app
        self.notifier = sdnotify.SystemdNotifier()
        self.flags = _Flags(threading.Event(), threading.Event())
        self._last_ping = 0.0
        self._last_beat = time.monotonic()
        self._away: str | None = None  # why the inbox was unavailable at the last rescan

    def heartbeat(self) -> None:
        """The worker is alive (called between photos, and while idle)."""
        self._last_beat = time.monotonic()
        self.ping()

    def ping(self) -> None:
        """Tell systemd's watchdog we are well, while the worker showed life in the last
        WORKER_STALL_SECONDS: one slow photo does not get the daemon killed, a wedged worker
        does (after WatchdogSec more)."""
        now = time.monotonic()
        if now - self._last_ping >= 1.0 and now - self._last_beat < WORKER_STALL_SECONDS:
            self._last_ping = now
            self.notifier.notify("WATCHDOG=1")

    def reload(self) -> None:
        """Read the config file again; keys that need a restart keep their running values. An
        invalid file is refused with every error logged."""
        current = self.lib.settings
        try:
            new = load_settings(current.source)
        except ConfigError as exc:
            for line in exc.errors:
                log.error("reload refused: %s", line)
            log.error("reload refused: keeping the running configuration")
            return
        keep = {k: getattr(current, k) for k in RESTART_ONLY_KEYS
                if getattr(new, k) != getattr(current, k)}
        for key in keep:
            log.warning("reload: %s changed; it takes effect after a restart", key)
        self.lib.apply(new.model_copy(update=keep))
        logging.getLogger().setLevel(self.lib.settings.logging.level)
        log.info("reloaded %s", current.source)

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the exit code (0, or 1 when the worker died or
        another process took the owner lock). Raise WeightsError or DatabaseURLError before
        anything starts when those are unusable (DatabaseUnusable: the database refuses writes),
        and DatabaseUnusable when its file is deleted while running. While another `watch` owns the library, wait
        for it (saying so) and touch nothing."""
        s = self.lib.settings
        try:
            s.inbox.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a share not there yet: watched once it is
            log.warning("inbox %s not available: %s", s.inbox, exc.strerror or exc)
        s.people.mkdir(parents=True, exist_ok=True)
        s.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.lib.check_writable()  # migrated now: a bad database fails before the models load
        _install_signals(self.flags)
        lock = OwnerLock(self.lib.engine)
        try:
            if not self._wait_for_lock(lock):
                return 0
            web = self._start_web()  # usable while the models load and the inbox is caught up
            try:
                return self._run(lock)
            finally:
                if web is not None:
                    web.stop()
        finally:
            lock.release()
            self.lib.close()

    def _wait_for_lock(self, lock: OwnerLock) -> bool:
        """Take the owner lock, waiting while another process holds it; False when stopped
        first."""
        said = False
        while not self.flags.stop.is_set():
            try:
                if lock.try_acquire():
                    if said:
                        log.info("the other facefold watch stopped: this one owns the library")
                    return True
                if not said:
                    log.warning("another facefold watch owns this library (%s): waiting for "
                                "it to stop; nothing is done meanwhile", lock.where())
                    self.notifier.notify("STATUS=waiting for another facefold watch")
                    said = True
            except OperationalError as exc:
                log.error("storage error: %s; trying again", exc.orig)
            self.flags.stop.wait(LOCK_WAIT_SECONDS)
        return False

    def _start_web(self) -> WebServer | None:
        if not self.web_listen:
            return None
        from facefold.web.server import WebListenError, WebServer

        web = WebServer(self.lib, self.web_listen)
        web.start()
        if not web.wait_started():
            web.stop()
            raise WebListenError(f"the web app did not start on {self.web_listen}")
        print(f"facefold: {web.announce()}", flush=True)  # stdout: the terminal, or the journal
        return web

    def _run(self, lock: OwnerLock) -> int:
        s = self.lib.settings
        self.lib.models.load()  # (photos a crash left half-done: the worker requeues them)

        settle = SettleQueue(s.watch.settle_seconds)
        handler = InboxHandler(s.inbox, settle, s.decode.extensions, s.watch.ignore)
        watch = InboxWatch(s.inbox, handler)
        watch.start()  # before the catch-up: no event is missed
        worker = Worker(self.lib, self.heartbeat)
        code = 0
        try:
            worker.start()
            self.notifier.notify("READY=1")
            self.notifier.notify("STATUS=catching up")
            rec = reconcile(self.lib, [s.inbox])
            self._away = rec.away
            log.info("watching %s: %d photos, %d queued, %d unchanged", s.inbox, rec.files,
                     rec.queued, rec.unchanged)
            worker.request_sync()
            self.notifier.notify("STATUS=watching")
            code = self._loop(settle, handler, watch, worker, lock)
        finally:
            self.notifier.notify("STOPPING=1")
            worker.stop()
            watch.stop()
            if worker.is_alive():
                worker.join(STOP_JOIN_SECONDS)
            if worker.is_alive():
                log.error("worker did not finish within %.0fs", STOP_JOIN_SECONDS)
                code = code or 1
        log.info("stopped")
        return code

    def _loop(self, settle: SettleQueue, handler: InboxHandler, watch: InboxWatch,
              worker: Worker, lock: OwnerLock) -> int:
        """Hand settled files and renames to the queue, rescan when due, reload on SIGHUP, until
        stopped; return 1 when the worker died or the owner lock went to another process,
        else 0."""
        interval = self.lib.settings.watch.rescan_interval
        next_rescan = time.monotonic() + (interval or float("inf"))
        next_lock_check = time.monotonic() + LOCK_CHECK_SECONDS
        next_inbox_check = time.monotonic() + INBOX_CHECK_SECONDS
        storage_failures = 0
        while not self.flags.stop.is_set():
            if worker.error is not None or not worker.is_alive():
                log.error("worker stopped unexpectedly; exiting")
                return 1
            if time.monotonic() >= next_lock_check:
                next_lock_check = time.monotonic() + LOCK_CHECK_SECONDS
                if not self._keep_lock(lock):
                    return 1
            if self.flags.reload.is_set():
                self.flags.reload.clear()
                self.reload()
                settle.settle_seconds = self.lib.settings.watch.settle_seconds
                handler.ignore = self.lib.settings.watch.ignore
            now = time.monotonic()
            if handler.overflowed.is_set():
                handler.overflowed.clear()
                log.warning("file events were lost (inotify queue overflow): rescanning")
                next_rescan = now
            try:
                if now >= next_inbox_check:
                    next_inbox_check = now + INBOX_CHECK_SECONDS
                    self.lib.check_database()  # deleted under us: stop, a person must act
                    # a new inbox folder, or one back from away: a rescan sees what was missed
                    if watch.check() or (self._away is not None
                                         and inbox_away(self.lib) is None):
                        next_rescan = now
                moves = settle.take_moves()
                files, folders = settle.ready(now)
                if moves or files or folders:
                    ev = apply_events(self.lib, moves, files, folders)
                    if ev.renamed:
                        worker.request_sync()
                    elif ev.queued:
                        worker.wake()
                if now >= next_rescan:
                    rec = reconcile(self.lib, [self.lib.settings.inbox])
                    self._away = rec.away
                    if rec.queued:
                        log.info("rescan: %d photos queued that events missed", rec.queued)
                    worker.request_sync()  # and put back what was edited in the people folder
                    interval = self.lib.settings.watch.rescan_interval
                    next_rescan = now + (interval or float("inf"))
            except OperationalError as exc:
                # events taken off the settle queue are not lost: the rescan compares the
                # inbox with the database and finds every file they named
                delay = retry_delay(storage_failures, self.lib.settings.watch.storage_retry_seconds,
                                    MAX_STORAGE_RETRY_SECONDS)
                storage_failures += 1
                log.error("storage error: %s; rescanning in %.0fs", exc.orig, delay)
                next_rescan = now + delay
            else:
                storage_failures = 0
            self.ping()
            self.flags.stop.wait(LOOP_SECONDS)
        return 0

    def _keep_lock(self, lock: OwnerLock) -> bool:
        """The owner lock goes with its connection (a database restart): take it again. False
        when another process took it meanwhile (two owners must never write the folders)."""
        if lock.still_held():
            return True
        try:
            if lock.try_acquire():
                log.info("owner lock taken again after the database connection was lost")
                return True
        except OperationalError as exc:
            log.error("storage error: %s; owner lock not taken again yet", exc.orig)
            return True  # no one can write while the database is away; try again soon
        log.error("another facefold watch took this library while the database was away; "
                  "stopping")
        return False


class PhotoWorker:
    """`facefold worker`: processes queued photos (detect, embed, store) beside the `watch`
    that owns the library, on this machine or another; runs until SIGTERM or SIGINT."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.daemon = Daemon(lib)  # its signals, systemd notifier and heartbeat

    def run(self) -> int:
        """Return 0 when stopped, 1 when the worker thread died."""
        flags = self.daemon.flags
        self.lib.check_writable()  # a bad database fails before the models load
        self.lib.models.load()
        _install_signals(flags)
        worker = Worker(self.lib, self.daemon.heartbeat, owns_people=False)
        worker.start()
        self.daemon.notifier.notify("READY=1")
        log.info("worker %s: processing the queue of %s", self.lib.claimer,
                 self.lib.engine.url.render_as_string(hide_password=True))
        code = 0
        try:
            while not flags.stop.is_set():
                if worker.error is not None or not worker.is_alive():
                    log.error("worker stopped unexpectedly; exiting")
                    code = 1
                    break
                self.lib.check_database()
                self.daemon.ping()
                flags.stop.wait(LOOP_SECONDS)
        finally:
            self.daemon.notifier.notify("STOPPING=1")
            worker.stop()
            worker.join(STOP_JOIN_SECONDS)
            if worker.is_alive():
                log.error("worker did not finish within %.0fs", STOP_JOIN_SECONDS)
                code = code or 1
            self.lib.close()
        log.info("stopped")
        return code
