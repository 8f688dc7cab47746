"""Debouncing: file events in, settled paths out. Pure bookkeeping with an injectable clock.

A path is ready once no event has touched it for `settle_seconds` and its size and mtime are the
same at two looks in a row, so a photo still being copied is handed on once, complete.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

Stat = Callable[[str], tuple[int, float] | None]


def stat_or_none(path: str) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime)


@dataclass
class _Entry:
    last_event: float
    last_stat: tuple[int, float] | None
    checked: bool = False
    folder: bool = False


class SettleQueue:
    """Thread-safe: `touch` from the observer thread, `ready` from the daemon's loop."""

    def __init__(self, settle_seconds: float, stat: Stat = stat_or_none) -> None:
        self.settle_seconds = settle_seconds
        self._stat = stat
        self._entries: dict[str, _Entry] = {}
        self._moves: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()

    def touch(self, path: str, now: float, folder: bool = False) -> None:
        """Something happened to `path` (created, written, closed, deleted)."""
        with self._lock:
            e = self._entries.get(path)
            if e is None:
                self._entries[path] = _Entry(now, None, folder=folder)
            else:
                e.last_event, e.checked = now, False
                e.folder = e.folder or folder

    def moved(self, src: str, dest: str, folder: bool) -> None:
        """A rename inside the watched tree; handed on in order by `take_moves`."""
        with self._lock:
            self._moves.append((src, dest, folder))

    def take_moves(self) -> list[tuple[str, str, bool]]:
        with self._lock:
            moves, self._moves = self._moves, []
            return moves

    def ready(self, now: float) -> tuple[list[str], list[str]]:
        """Return (files, folders) that have settled, and forget them."""
        files: list[str] = []
        folders: list[str] = []
        with self._lock:
            for path, e in list(self._entries.items()):
                if now - e.last_event < self.settle_seconds:
                    continue
                st = self._stat(path)
                if e.checked and st == e.last_stat:
                    (folders if e.folder else files).append(path)
                    del self._entries[path]
                else:  # first look after the quiet period, or it changed under us: look again
                    e.last_stat, e.checked, e.last_event = st, True, now
        return files, folders

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
