"""`facefold watch` as a real subprocess on a temporary inbox, with real photos and models."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import photos_of, write_config

pytestmark = pytest.mark.models
START_TIMEOUT = 180  # model loading on a busy 2-core machine
WORK_TIMEOUT = 180


class Daemon:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = write_config(root, watch={"settle_seconds": 0.5, "rescan_interval": 0})
        self.inbox = root / "inbox"
        self.people = root / "people"
        self.db = root / "state" / "facefold.db"
        self.log = root / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self._log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facefold.cli", "watch", "--config", str(self.config)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        wait_for(lambda: "watching" in self.log.read_text(errors="replace"), START_TIMEOUT,
                 self.log)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._log.close()
        self.proc = None
        return code

    def query(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.db, timeout=30) as c:
            return c.execute(sql, args).fetchall()

    def done(self) -> int:
        return self.query("SELECT COUNT(*) FROM images WHERE status = 'done'")[0][0]

    def idle(self) -> bool:
        """Nothing queued, and the last batch (recorded after its folder sync) is newer than
        every photo's last change."""
        busy = self.query("SELECT COUNT(*) FROM images WHERE status IN ('queued','processing')")
        synced = self.query("SELECT (SELECT MAX(finished_at) FROM batches) >= "
                            "(SELECT MAX(updated_at) FROM images)")
        return busy[0][0] == 0 and synced[0][0] == 1

    def links(self) -> dict[str, set[str]]:
        """Folder name → set of link targets' person (parent folder name of the photo)."""
        out: dict[str, set[str]] = {}
        if self.people.exists():
            for d in self.people.iterdir():
                if d.is_dir():
                    out[d.name] = {os.readlink(x) for x in d.iterdir() if x.is_symlink()}
        return out

    def targets(self) -> set[str]:
        return {t for ts in self.links().values() for t in ts}


def wait_for(cond: Callable[[], bool], timeout: float, log: Path | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if cond():
                return
        except (sqlite3.OperationalError, FileNotFoundError):
            pass
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s\n{tail}")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    d.inbox.mkdir()
    yield d
    if d.proc is not None:
        d.proc.kill()
        d.proc.wait()


def copy_in(src: Path, dest: Path) -> Path:
    """Copy the way a file manager does: write to a temp name, then rename into place."""
    tmp = dest.with_name("." + dest.name + ".part")
    shutil.copy(src, tmp)
    os.rename(tmp, dest)
    return dest


def test_daemon_follows_the_inbox(daemon: Daemon, celebrities: Path) -> None:
    mindy = photos_of(celebrities, "mindy_kaling")
    elton = photos_of(celebrities, "elton_john")
    jerry = photos_of(celebrities, "jerry_seinfeld")
    # photos already there before the first start are caught up
    for p in mindy[:3]:
        shutil.copy(p, daemon.inbox / f"mindy-{p.name}")
    daemon.start()
    wait_for(lambda: daemon.done() == 3 and daemon.idle(), WORK_TIMEOUT, daemon.log)
    assert len(daemon.targets()) == 3

    # copied in while running: they show up in person folders
    (daemon.inbox / "elton").mkdir()
    for p in elton[:5]:
        copy_in(p, daemon.inbox / "elton" / p.name)
    wait_for(lambda: daemon.done() == 8 and daemon.idle(), WORK_TIMEOUT, daemon.log)
    by_folder = daemon.links()
    assert len(by_folder) == 2
    for targets in by_folder.values():  # no folder mixes the two people
        assert len({"elton" in t for t in targets}) == 1
    linked_elton = sorted(t for t in daemon.targets() if "/elton/" in t)
    assert len(linked_elton) >= 4

    # a file written slowly in chunks is processed once, complete
    slow = daemon.inbox / "slow-elton.jpg"
    data = elton[5].read_bytes()
    with slow.open("wb") as f:
        for i in range(0, len(data), max(1, len(data) // 6)):
            f.write(data[i:i + max(1, len(data) // 6)])
            f.flush()
            time.sleep(0.3)
    wait_for(lambda: daemon.done() == 9 and daemon.idle(), WORK_TIMEOUT, daemon.log)
    assert daemon.query("SELECT status, attempts FROM images WHERE path = ?", str(slow)) == [("done", 1)]
    assert daemon.query("SELECT COUNT(*) FROM faces f JOIN images i ON i.id = f.image_id "
                        "WHERE i.path = ?", str(slow)) == [(1,)]

    # renamed: same faces (no re-embedding), the link follows
    old = Path(linked_elton[0])
    new = old.with_name("renamed-" + old.name)
    faces_before = daemon.query("SELECT f.id FROM faces f JOIN images i ON i.id = f.image_id "
                                "WHERE i.path = ?", str(old))
    assert faces_before
    os.rename(old, new)
    wait_for(lambda: str(new) in daemon.targets() and str(old) not in daemon.targets(),
             WORK_TIMEOUT, daemon.log)
    assert daemon.query("SELECT f.id FROM faces f JOIN images i ON i.id = f.image_id "
                        "WHERE i.path = ?", str(new)) == faces_before

    # deleted: its links go
    gone = Path(sorted(t for t in daemon.targets() if "mindy-" in t)[0])
    gone.unlink()
    wait_for(lambda: str(gone) not in daemon.targets() and daemon.idle(), WORK_TIMEOUT, daemon.log)
    assert daemon.query("SELECT COUNT(*) FROM images WHERE path = ?", str(gone)) == [(0,)]

    # SIGHUP: an invalid config is refused with every error and the daemon goes on; a valid
    # one is taken
    good = daemon.config.read_text()
    daemon.config.write_text(good + "detection:\n  min_confidence: 5\nbogus_key: 1\n")
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "keeping the running configuration" in daemon.log.read_text(), 30, daemon.log)
    log = daemon.log.read_text()
    assert "detection.min_confidence" in log and "bogus_key" in log
    daemon.config.write_text(good)
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "reloaded" in daemon.log.read_text(), 30, daemon.log)
    assert daemon.proc.poll() is None

    # SIGTERM: exit 0, nothing left half-done
    assert daemon.stop(signal.SIGTERM) == 0
    assert daemon.idle()

    # added while stopped: picked up at start
    for p in jerry[:3]:
        shutil.copy(p, daemon.inbox / f"jerry-{p.name}")
    daemon.start()
    wait_for(lambda: daemon.done() == 11 and daemon.idle(), WORK_TIMEOUT, daemon.log)
    assert sum("jerry-" in t for t in daemon.targets()) >= 2
    assert daemon.stop() == 0
    log = daemon.log.read_text()
    assert "batch:" in log and "Traceback" not in log


def test_kill_9_mid_batch_loses_nothing_and_doubles_nothing(daemon: Daemon,
                                                           celebrities: Path) -> None:
    daemon.start()
    photos = [p for person in ("madonna", "ben_afflek") for p in photos_of(celebrities, person)[:10]]
    for p in photos:
        shutil.copy(p, daemon.inbox / p.name)
    wait_for(lambda: daemon.query(
        "SELECT COUNT(*) FROM images WHERE status = 'processing'")[0][0] > 0, WORK_TIMEOUT,
        daemon.log)
    time.sleep(1.0)  # in the middle of detecting the batch
    assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL
    left = daemon.query("SELECT COUNT(*) FROM images WHERE status != 'done'")[0][0]
    daemon.start()
    wait_for(lambda: daemon.done() == len(photos) and daemon.idle(), WORK_TIMEOUT, daemon.log)
    assert daemon.stop() == 0
    assert left > 0, "the kill came after the batch; nothing was interrupted"
    # exactly once: every photo one row, done, with its faces stored once
    rows = daemon.query("SELECT path, status FROM images")
    assert sorted(r[0] for r in rows) == sorted(str(daemon.inbox / p.name) for p in photos)
    dupes = daemon.query("SELECT image_id, box_x, box_y, COUNT(*) FROM faces "
                         "GROUP BY image_id, box_x, box_y HAVING COUNT(*) > 1")
    assert dupes == []
    assert daemon.query("SELECT COUNT(*) FROM faces")[0][0] >= len(photos) - 2
    linked = daemon.targets()  # links right: only our photos, nearly all of them
    assert linked <= {str(daemon.inbox / p.name) for p in photos}
    assert len(linked) >= 0.9 * len(photos)
