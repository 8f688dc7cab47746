"""Compare folders on disk with the database and queue whatever differs (start-up catch-up, the
periodic rescan, and `facefold scan`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from facefold.db import store
from facefold.db.models import Image, ImageStatus
from facefold.files import iter_photos


@dataclass(frozen=True)
class ReconcileResult:
    files: int  # photo files found
    queued: int  # new or changed files, and stored paths that are gone, put on the queue
    unchanged: int  # same size and mtime as processed (or failed) before


def reconcile(engine: Engine, roots: Sequence[Path], extensions: tuple[str, ...],
              follow_symlinks: bool = False) -> ReconcileResult:
    """Queue every photo under `roots` that is new or whose size or mtime changed, and every
    stored path under `roots` whose file is gone. Photos already queued stay as they are."""
    roots = [Path(os.path.abspath(r)) for r in roots]
    on_disk: dict[str, tuple[int, float]] = {}
    for p in iter_photos(roots, extensions, follow_symlinks):
        try:
            st = p.stat()
        except OSError:
            continue
        on_disk[str(p)] = (st.st_size, st.st_mtime)
    with Session(engine) as s:
        known = {
            path: (status, size, mtime)
            for path, status, size, mtime in s.execute(
                select(Image.path, Image.status, Image.size, Image.mtime))
        }
        todo: list[str] = []
        unchanged = 0
        for path, (size, mtime) in on_disk.items():
            prev = known.get(path)
            if prev is None:
                todo.append(path)
            elif prev[0] in (ImageStatus.queued, ImageStatus.processing):
                continue
            elif prev[1] == size and prev[2] == mtime:
                unchanged += 1
            else:
                todo.append(path)
        for path, (status, _size, _mtime) in known.items():
            if path in on_disk or status in (ImageStatus.queued, ImageStatus.processing):
                continue
            if any(Path(path).is_relative_to(r) for r in roots) and not os.path.lexists(path):
                todo.append(path)
        queued = store.enqueue(s, todo)
        s.commit()
    return ReconcileResult(files=len(on_disk), queued=queued, unchanged=unchanged)
