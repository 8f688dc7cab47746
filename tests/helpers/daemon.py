"""`facefold watch` as a real subprocess on a temporary inbox, and the checks the daemon tests,
`bench/soak.py` and the fault tests share."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.helpers.data import write_config

START_TIMEOUT = 180  # model loading on a busy 2-core machine
WORK_TIMEOUT = 180


class Daemon:
    def __init__(self, root: Path, **overrides: object) -> None:
        self.root = root
        watch = {"settle_seconds": 0.5, "rescan_interval": 0}
        watch.update(overrides.pop("watch", {}))  # type: ignore[arg-type]
        self.database = overrides.get("database")  # None: SQLite in the state dir
        self.config = write_config(root, watch=watch, **overrides)
        self._engine: Any = None
        self.inbox = root / "inbox"
        self.people = root / "people"
        self.db = root / "state" / "facefold.db"
        self.log = root / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.prefix: list[str] = []  # e.g. setpriv, to run it with fewer privileges

    def spawn(self) -> subprocess.Popen[bytes]:
        self._log = self.log.open("ab")
        self.proc = self._facefold("watch", self._log)
        return self.proc

    def spawn_worker(self, log: Path) -> subprocess.Popen[bytes]:
        """A `facefold worker` process on the same config; it logs to `log`."""
        with log.open("ab") as out:
            return self._facefold("worker", out)

    def _facefold(self, command: str, out: IO[bytes]) -> subprocess.Popen[bytes]:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        return subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "facefold.cli", command, "--config",
             str(self.config)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.root)

    def start(self) -> None:
        """Start and wait until it watches (its catch-up scan is done)."""
        marks = self.log.read_text(errors="replace").count("watching") if self.log.exists() else 0
        self.spawn()
        wait_for(lambda: self.log.read_text(errors="replace").count("watching") > marks,
                 START_TIMEOUT, self.log, self.proc)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._log.close()
        self.proc = None
        return code

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def query(self, sql: str, *args: object) -> list[tuple]:
        """Rows of `sql` (`?` placeholders) on the daemon's database, SQLite or PostgreSQL."""
        if self.database is None:
            with sqlite3.connect(self.db, timeout=30) as c:
                return c.execute(sql, args).fetchall()
        if self._engine is None:
            self._engine = create_engine(str(self.database), poolclass=NullPool)
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql.replace("?", "%s"), args)]

    def done(self) -> int:
        return self.query("SELECT COUNT(*) FROM images WHERE status = 'done'")[0][0]

    def idle(self) -> bool:
        """Nothing queued, and the last batch (recorded after its folder sync) is newer than
        every photo's last change."""
        busy = self.query("SELECT COUNT(*) FROM images WHERE status IN ('queued','processing')")
        synced = self.query("SELECT (SELECT MAX(finished_at) FROM batches) >= "
                            "(SELECT MAX(updated_at) FROM images)")
        return busy[0][0] == 0 and synced[0][0] == 1

    def state(self) -> str:
        """What `done` and `idle` read, for a timeout's message: each photo's status and times,
        and the last batch."""
        try:
            rows = self.query("SELECT path, status, attempts, updated_at FROM images ORDER BY path")
            last = self.query("SELECT MAX(finished_at) FROM batches")[0][0]
        except (sqlite3.OperationalError, OperationalError) as exc:
            return f"database not readable: {exc}"
        lines = [f"  {Path(str(p)).name} {st} attempts={a} updated={u}" for p, st, a, u in rows]
        return f"last batch finished {last}; images:\n" + "\n".join(lines)

    def links(self) -> dict[str, set[str]]:
        """Folder name → set of link targets."""
        out: dict[str, set[str]] = {}
        if self.people.exists():
            for d in self.people.iterdir():
                if d.is_dir() and not d.is_symlink():
                    out[d.name] = {os.readlink(x) for x in d.iterdir() if x.is_symlink()}
        return out

    def targets(self) -> set[str]:
        return {t for ts in self.links().values() for t in ts}


def wait_for(cond: Callable[[], bool], timeout: float, log: Path | None = None,
             proc: subprocess.Popen[bytes] | None = None,
             state: Callable[[], str] | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():
                return
        except (sqlite3.OperationalError, OperationalError, FileNotFoundError):
            pass
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    seen = f"\n{state()}" if state is not None else ""
    raise AssertionError(f"timed out after {timeout}s (or the daemon exited)\n{tail}{seen}")


def copy_in(src: Path, dest: Path) -> Path:
    """Copy the way a file manager does: write to a temp name, then rename into place."""
    tmp = dest.with_name("." + dest.name + ".part")
    shutil.copy(src, tmp)
    os.rename(tmp, dest)
    return dest


def check_exactly_once(d: Daemon, files: list[Path]) -> dict[str, int]:
    """Every file one row, done; no face stored twice; the links are exactly the photos of
    the people the database holds. Return counts for reports."""
    rows = d.query("SELECT path, status FROM images")
    paths = sorted(r[0] for r in rows)
    assert paths == sorted(str(f) for f in files), "a photo lost or a stray row"
    assert {r[1] for r in rows} == {"done"}, "a photo not done"
    dupes = d.query("SELECT image_id, box_x, box_y, COUNT(*) FROM faces "
                    "GROUP BY image_id, box_x, box_y HAVING COUNT(*) > 1")
    assert dupes == [], "a face stored twice"
    shown = {r[0] for r in d.query(
        "SELECT v.photo_path FROM person_photos v JOIN persons p ON p.id = v.person_id "
        "WHERE NOT p.hidden AND v.photo_path IN (SELECT path FROM images WHERE status = 'done')")}
    assert d.targets() == shown, "the links differ from the database"
    persons = d.query("SELECT COUNT(DISTINCT v.person_id) FROM person_photos v JOIN persons p "
                      "ON p.id = v.person_id WHERE NOT p.hidden")[0][0]
    assert len(d.links()) == persons, "a person folder missing or left over"
    faces = d.query("SELECT COUNT(*) FROM faces")[0][0]
    return {"photos": len(rows), "faces": faces, "linked": len(shown), "people": persons}


def kill_loop(d: Daemon, files: list[Path], kills: int, rng: np.random.Generator,
              max_wait: float) -> int:
    """With the daemon watching, `files` (already in the inbox, or written by the caller) are
    worked through while it is `kill -9`ed `kills` times, each a random 0.2..max_wait seconds
    after it came up (the first one once a batch is under way, so at least one kill lands
    mid-batch), and restarted. Return how many kills hit a photo being processed."""
    hit = 0
    for k in range(kills):
        if not d.alive():
            d.start()
        if k == 0:
            wait_for(lambda: d.query("SELECT COUNT(*) FROM images WHERE status = 'processing'"
                                     )[0][0] > 0, WORK_TIMEOUT, d.log, d.proc)
            time.sleep(float(rng.uniform(0.0, 0.5)))
        else:
            time.sleep(float(rng.uniform(0.2, max_wait)))
        busy = d.query("SELECT COUNT(*) FROM images WHERE status = 'processing'")[0][0]
        assert d.stop(signal.SIGKILL) == -signal.SIGKILL
        hit += busy > 0
    d.start()
    wait_for(lambda: d.done() == len(files) and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)
    return hit
