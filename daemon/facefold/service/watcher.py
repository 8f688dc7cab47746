"""The watchdog observer's event handler: it only translates file events into work for the
SettleQueue. Nothing here touches the database or the models."""

from __future__ import annotations

import fnmatch
import logging
import os
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
