"""The watchdog observer's event handler: it only translates file events into work for the
SettleQueue. Nothing here touches the database or the models."""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
import threading
import time
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from facefold.service.queue import SettleQueue

log = logging.getLogger(__name__)


def is_ignored(path: str, root: str, patterns: tuple[str, ...]) -> bool:
    """True when any part of `path` below `root` matches an ignore pattern (hidden folders too)."""
    rel = os.path.relpath(path, root)
    if rel.startswith(".."):
        return True
    return any(fnmatch.fnmatch(part, pat) for part in Path(rel).parts for pat in patterns)


class InboxHandler(FileSystemEventHandler):
    """Photo files created, written, closed, deleted or renamed under the inbox become settle-queue
    entries; folders created or renamed become folder entries (scanned once settled)."""

    def __init__(self, root: Path, queue: SettleQueue, extensions: tuple[str, ...],
                 ignore: tuple[str, ...]) -> None:
        self.root = str(root)
        self.queue = queue
        self.extensions = tuple(e.lower() for e in extensions)
        self.ignore = ignore
        self.overflowed = threading.Event()  # the kernel dropped events: the daemon rescans

    def _wanted(self, path: str, folder: bool) -> bool:
        if is_ignored(path, self.root, self.ignore):
            return False
        return folder or path.lower().endswith(self.extensions)

    def on_any_event(self, event: FileSystemEvent) -> None:
        now = time.monotonic()
        src = os.fsdecode(event.src_path)
        if isinstance(event, FileMovedEvent | DirMovedEvent):
            dest = os.fsdecode(event.dest_path)
            folder = isinstance(event, DirMovedEvent)
            src_ok, dest_ok = self._wanted(src, folder), self._wanted(dest, folder)
            if src_ok and dest_ok:
                self.queue.moved(src, dest, folder)
            elif dest_ok:  # e.g. a download renamed from .part to .jpg
                self.queue.touch(dest, now, folder)
            elif src_ok:
                self.queue.touch(src, now, folder)
            return
        if isinstance(event, DirCreatedEvent | DirDeletedEvent):
            if self._wanted(src, True):
                self.queue.touch(src, now, folder=True)
            return
        if isinstance(event, FileCreatedEvent | FileModifiedEvent | FileClosedEvent |
                      FileDeletedEvent):
            if self._wanted(src, False):
                self.queue.touch(src, now)


class _OverflowAlarm(logging.Handler):
    """watchdog 7 reports an inotify queue overflow (events lost) only as a warning from its
    inotify modules, not to the event handler; this turns that warning into the handler's flag."""

    def __init__(self, flag: threading.Event) -> None:
        super().__init__(logging.WARNING)
        self.flag = flag

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.flag.set()


WATCHDOG_INOTIFY_LOGGER = "watchdog.observers"  # parent of watchdog's inotify and inotify_c


def start_observer(root: Path, handler: InboxHandler) -> BaseObserver:
    """Start a recursive observer on `root`; the caller stops and joins it."""
    wd_log = logging.getLogger(WATCHDOG_INOTIFY_LOGGER)
    wd_log.setLevel(logging.WARNING)  # the overflow warning must get through at any log level
    wd_log.addHandler(_OverflowAlarm(handler.overflowed))
    observer = Observer()
    observer.schedule(handler, str(root), recursive=True)
    observer.daemon = True
    observer.start()
    return observer


def _identity(root: Path) -> tuple[int, int] | None:
    """(device, inode) of the folder `root`, or None when it is not there as a folder."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


class InboxWatch:
    """The observer on the inbox, started again on the new folder whenever the inbox folder is
    replaced: a disk mounted again, a share back, the folder deleted and made anew. A watch on a
    folder that is gone sees nothing more. The caller calls `check` now and then, and `stop`."""

    def __init__(self, root: Path, handler: InboxHandler) -> None:
        self.root = root
        self.handler = handler
        self._identity: tuple[int, int] | None = None
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        self._identity = _identity(self.root)
        if self._identity is not None:
            self._observer = start_observer(self.root, self.handler)

    def check(self) -> bool:
        """Arm the watch again when the inbox folder changed; True when it did (the caller
        rescans: events of the gap were not seen)."""
        now = _identity(self.root)
        if now == self._identity:
            return False
        self._identity = now
        self.stop()
        if now is None:
            return False
        self._observer = start_observer(self.root, self.handler)
        log.info("watching %s again (the folder changed: a disk mounted, a folder made)",
                 self.root)
        return True

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5.0)
            self._observer = None
