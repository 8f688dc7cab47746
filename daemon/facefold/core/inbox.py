"""The inbox against the database: queue what differs (start-up catch-up, the periodic rescan,
`facefold scan`), and apply what the file watcher saw (renames, settled files, new folders)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from facefold.core.library import Library
from facefold.db import queue
from facefold.db import reports as report_store
from facefold.db.models import ImageStatus
from facefold.files import is_hidden, lexists, walk_photos

log = logging.getLogger(__name__)

BUSY = (ImageStatus.queued, ImageStatus.processing)
# An inbox that holds nothing at all while facefold knows at least this many photos in it is
# taken to be away (an unmounted disk, a share that blipped), not emptied by hand: nothing is
# forgotten. One photo fewer, and removing them is taken at its word.
AWAY_WHEN_EMPTY_KNOWN = 2


def inbox_away(lib: Library) -> str | None:
    """Why the inbox is unavailable (missing, not a folder, unreadable, or empty while
    facefold knows photos in it), or None when it is there. While it is away, nothing in it is
    forgotten."""
    root = lib.settings.inbox
    try:
        if not stat.S_ISDIR(os.stat(root).st_mode):
            return f"{root} is not a folder"
        with os.scandir(root) as entries:
            empty = not any(not is_hidden(e.name) for e in entries)
    except FileNotFoundError:
        return f"{root} is missing"
    except OSError as exc:
        return f"{root} cannot be read: {exc.strerror or exc}"
    if not empty:
        return None
    with lib.session() as s:
        known = queue.known_under(s, str(root))
    if known >= AWAY_WHEN_EMPTY_KNOWN:
        return f"{root} is empty while {known} photos were in it (a disk not mounted?)"
    return None


def note_inbox(lib: Library, reason: str | None) -> None:
    """Record whether the inbox is away (for `facefold status`), saying so in the log once."""
    with lib.session() as s:
        changed = report_store.set_inbox_away(s, reason)
        s.commit()
    if changed and reason is not None:
        log.warning("inbox unavailable: %s; nothing in it is forgotten while it is away",
                    reason)
    elif changed:
        log.info("the inbox is back: %s", lib.settings.inbox)


@dataclass(frozen=True)
class ReconcileResult:
    files: int  # photo files found
    queued: int  # new or changed files, and stored paths that are gone, put on the queue
    unchanged: int  # same size and mtime as processed (or failed) before
    away: str | None = None  # the inbox is unavailable (why): nothing under it was looked at


def reconcile(lib: Library, roots: Sequence[Path]) -> ReconcileResult:
    """Queue every photo under `roots` that is new or whose size or mtime changed, and every
    stored path under `roots` whose file is gone. Photos already queued stay as they are. While
    the inbox is away (`inbox_away`), roots inside it are left as they are: nothing is
    forgotten; a root outside the inbox that is missing is left alone too."""
    settings = lib.settings
    inbox = Path(os.path.abspath(settings.inbox))
    away = inbox_away(lib)
    note_inbox(lib, away)
    looked: list[Path] = []
    for root in (Path(os.path.abspath(r)) for r in roots):
        if root.is_relative_to(inbox) and away is None:
            looked.append(root)
        elif not root.is_relative_to(inbox) and os.path.lexists(root):
            looked.append(root)
    roots = looked
    on_disk: dict[str, tuple[int, float]] = {}
    for p, st in walk_photos(roots, settings.decode.extensions, settings.follow_symlinks):
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
            if any(Path(path).is_relative_to(r) for r in roots) and not lexists(path):
                todo.append(path)
        n = queue.enqueue(s, todo)
        s.commit()
    return ReconcileResult(files=len(on_disk), queued=n, unchanged=unchanged, away=away)


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
