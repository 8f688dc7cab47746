"""The inbox against the database: queue what differs (start-up catch-up, the periodic rescan,
`facefold scan`), and apply what the file watcher saw (renames, settled files, new folders)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from facefold.core.library import Library
from facefold.db import queue
from facefold.db.models import ImageStatus
from facefold.files import iter_photos

log = logging.getLogger(__name__)

BUSY = (ImageStatus.queued, ImageStatus.processing)


@dataclass(frozen=True)
class ReconcileResult:
    files: int  # photo files found
    queued: int  # new or changed files, and stored paths that are gone, put on the queue
    unchanged: int  # same size and mtime as processed (or failed) before


def reconcile(lib: Library, roots: Sequence[Path]) -> ReconcileResult:
    """Queue every photo under `roots` that is new or whose size or mtime changed, and every
    stored path under `roots` whose file is gone. Photos already queued stay as they are."""
    settings = lib.settings
    roots = [Path(os.path.abspath(r)) for r in roots]
    on_disk: dict[str, tuple[int, float]] = {}
    for p in iter_photos(roots, settings.decode.extensions, settings.follow_symlinks):
        try:
            st = p.stat()
        except OSError:
            continue
        on_disk[str(p)] = (st.st_size, st.st_mtime)
    with lib.session() as s:
        known = queue.path_states(s)
        todo: list[str] = []
        unchanged = 0
        for path, (size, mtime) in on_disk.items():
            prev = known.get(path)
            if prev is None:
                todo.append(path)
            elif prev.status in BUSY:
                continue
            elif (prev.size, prev.mtime) == (size, mtime):
                unchanged += 1
            else:
                todo.append(path)
        for path, state in known.items():
            if path in on_disk or state.status in BUSY:
                continue
            if any(Path(path).is_relative_to(r) for r in roots) and not os.path.lexists(path):
                todo.append(path)
        n = queue.enqueue(s, todo)
        s.commit()
    return ReconcileResult(files=len(on_disk), queued=n, unchanged=unchanged)


@dataclass(frozen=True)
class EventsResult:
    queued: int  # photos put on the queue
    renamed: int  # stored paths that followed a rename (their faces kept, nothing queued)


def apply_events(lib: Library, moves: Sequence[tuple[str, str, bool]], files: Sequence[str],
                 folders: Sequence[str]) -> EventsResult:
    """Apply what the watcher saw: renames (src, dest, is_folder) move stored paths; a rename
    that cannot be applied, and every settled file, is queued; settled folders are reconciled."""
    files, folders = list(files), list(folders)
    renamed = 0
    with lib.session() as s:
        for src, dest, is_folder in moves:
            if is_folder:
                n = queue.move_folder(s, src, dest)
                log.info("moved folder %s -> %s (%d photos)", src, dest, n)
                folders += [src, dest]
                renamed += n
            elif queue.move_path(s, src, dest):
                log.info("moved %s -> %s", src, dest)
                renamed += 1
            else:
                files += [src, dest]
        s.commit()
        n = queue.enqueue(s, sorted(set(files)))
        s.commit()
    for root in folders:
        n += reconcile(lib, [Path(root)]).queued
    return EventsResult(n, renamed)
