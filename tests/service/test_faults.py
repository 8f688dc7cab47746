"""Faults around a running `facefold watch`: kill -9, a locked database, a full disk, a people
folder edited by hand, an inotify overflow, missing or corrupt weights. Nothing may be lost or
doubled. The long loops are in `bench/soak.py` (`make soak`); here they are scaled down."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers.daemon import (
    WORK_TIMEOUT,
    Daemon,
    check_exactly_once,
    copy_in,
    kill_loop,
    wait_for,
)
from tests.helpers.data import distinct_photos, photos_of, write_config

pytestmark = pytest.mark.models
CLI = [sys.executable, "-m", "facefold.cli"]


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[list[Daemon]]:
    made: list[Daemon] = []
    yield made
    for d in made:
        if d.proc is not None:
            d.proc.kill()
            d.proc.wait()


def _daemon(made: list[Daemon], root: Path, **overrides: object) -> Daemon:
    d = Daemon(root, **overrides)
    d.inbox.mkdir(parents=True, exist_ok=True)
    made.append(d)
    return d


def test_kill_9_at_random_points_loses_nothing_and_doubles_nothing(
        tmp_path: Path, celebrities: Path, daemon_factory: list[Daemon]) -> None:
    d = _daemon(daemon_factory, tmp_path)
    d.start()
    files = distinct_photos(celebrities, 48, d.inbox)  # arrive while it runs
    hit = kill_loop(d, files, kills=3, rng=np.random.default_rng(3), max_wait=4.0)
    counts = check_exactly_once(d, files)
    assert d.stop() == 0
    print(f"kill -9 x3: {counts}, {hit} kills hit a batch")
    assert hit >= 1, "no kill came while a photo was being processed"
    assert counts["faces"] >= len(files) - 2


def test_a_write_lock_held_past_the_busy_timeout_makes_it_wait_not_crash(
        tmp_path: Path, celebrities: Path, daemon_factory: list[Daemon]) -> None:
    d = _daemon(daemon_factory, tmp_path, database_busy_seconds=0.5,
                watch={"storage_retry_seconds": 0.5})
    d.start()
    # a user's sqlite3 with an open write transaction, for longer than facefold waits
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({str(d.db)!r}, isolation_level=None)\n"
         "c.execute('BEGIN IMMEDIATE')\n"
         "c.execute(\"UPDATE meta SET value = value WHERE key = 'people_rev'\")\n"
         "print('locked', flush=True)\n"
         "time.sleep(6)\n"
         "c.execute('COMMIT')\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        files = [copy_in(p, d.inbox / p.name) for p in photos_of(celebrities, "madonna")[:4]]
        wait_for(lambda: "database is locked" in d.log.read_text(), 30, d.log, d.proc)
        assert d.alive()
    finally:
        holder.wait(timeout=30)
    wait_for(lambda: d.done() == len(files) and d.idle(), WORK_TIMEOUT, d.log, d.proc)
    check_exactly_once(d, files)
    with sqlite3.connect(f"file:{d.db}?mode=ro", uri=True) as c:  # a user's query meanwhile
        assert c.execute("SELECT COUNT(DISTINCT photo_path) FROM person_photos").fetchone()[0] >= 3
    assert d.stop() == 0
    assert "Traceback" not in d.log.read_text()


def test_people_folder_deleted_or_edited_by_hand_is_rebuilt_foreign_files_kept(
        tmp_path: Path, celebrities: Path, daemon_factory: list[Daemon]) -> None:
    d = _daemon(daemon_factory, tmp_path, watch={"rescan_interval": 1})
    files = [shutil.copy(p, d.inbox / f"{person}-{p.name}")
             for person in ("madonna", "elton_john") for p in photos_of(celebrities, person)[:3]]
    d.start()
    wait_for(lambda: d.done() == 6 and d.idle(), WORK_TIMEOUT, d.log, d.proc)
    before = d.links()
    assert len(before) == 2
    # edited: a link deleted, a note and a folder of the user's own added
    folder = d.people / sorted(before)[0]
    gone = sorted(folder.iterdir())[0]
    gone.unlink()
    (folder / "notes.txt").write_text("mine")
    (d.people / "Holidays").mkdir()
    (d.people / "Holidays" / "trip.txt").write_text("mine too")
    wait_for(lambda: os.path.islink(gone), 30, d.log, d.proc)
    assert d.links() == {**before, "Holidays": set()}
    assert (folder / "notes.txt").read_text() == "mine"
    assert (d.people / "Holidays" / "trip.txt").read_text() == "mine too"
    # deleted altogether: rebuilt
    shutil.rmtree(d.people)
    wait_for(lambda: d.links() == before, 30, d.log, d.proc)
    check_exactly_once(d, [Path(f) for f in files])
    assert d.stop() == 0


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[None]:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                        str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.root
def test_a_full_disk_is_a_clear_error_then_a_retry_and_the_database_stays_sound(
        tmp_path: Path, celebrities: Path, daemon_factory: list[Daemon]) -> None:
    state = tmp_path / "state"
    with _tmpfs(state, "6m"):
        d = _daemon(daemon_factory, tmp_path, watch={"storage_retry_seconds": 0.5})
        first = [copy_in(p, d.inbox / p.name) for p in photos_of(celebrities, "madonna")[:3]]
        d.start()
        wait_for(lambda: d.done() == 3 and d.idle(), WORK_TIMEOUT, d.log, d.proc)
        filler = _fill(state)
        later = [copy_in(p, d.inbox / p.name) for p in photos_of(celebrities, "ben_afflek")[:3]]
        wait_for(lambda: "storage error" in d.log.read_text(), 60, d.log, d.proc)
        log = d.log.read_text()
        assert "database or disk is full" in log or "No space left" in log
        assert d.alive()
        filler.unlink()
        wait_for(lambda: d.done() == 6 and d.idle(), WORK_TIMEOUT, d.log, d.proc)
        assert d.query("PRAGMA integrity_check") == [("ok",)]
        check_exactly_once(d, first + later)
        assert d.stop() == 0


@contextlib.contextmanager
def _few_inotify_events(n: int) -> Iterator[None]:
    """Lower the kernel's inotify queue (for instances made from now on); skip the test with the
    reason where that is not allowed."""
    knob = Path("/proc/sys/fs/inotify/max_queued_events")
    old = knob.read_text()
    try:
        knob.write_text(str(n))
    except OSError as exc:
        pytest.skip(f"cannot lower {knob} here (needs root outside a read-only /proc): {exc}")
    try:
        yield
    finally:
        knob.write_text(old)


@pytest.mark.root
def test_events_lost_to_an_inotify_overflow_are_caught_by_the_rescan(
        tmp_path: Path, daemon_factory: list[Daemon]) -> None:
    d = _daemon(daemon_factory, tmp_path, watch={"rescan_interval": 60, "settle_seconds": 0.2})
    rng = np.random.default_rng(0)
    with _few_inotify_events(16):
        d.start()
    files = []
    for i in range(2000):  # written far faster than the observer drains 16 queued events
        sub = d.inbox / f"burst-{i // 500}"
        sub.mkdir(exist_ok=True)
        f = sub / f"{i:04d}.png"
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(f)
        files.append(f)
    wait_for(lambda: d.done() == len(files) and d.idle(), 600, d.log, d.proc)
    assert d.query("SELECT COUNT(*) FROM images")[0][0] == len(files)
    assert "inotify queue overflow" in d.log.read_text()
    assert d.stop() == 0


@pytest.mark.parametrize("state", ["missing", "corrupt"])
def test_missing_or_corrupt_weights_stop_the_daemon_with_the_fix(tmp_path: Path,
                                                                 state: str) -> None:
    models = tmp_path / "models"
    models.mkdir()
    if state == "corrupt":
        (models / "facenet_keras.h5").write_bytes(os.urandom(4096))
    cfg = write_config(tmp_path, models_dir=str(models))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([*CLI, "watch", "--config", str(cfg)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 78  # EX_CONFIG: the unit's RestartPreventExitStatus, no restart loop
    assert "facefold models fetch" in r.stderr
    unit = (Path(__file__).resolve().parents[2] / "systemd" / "facefold.service").read_text()
    assert "RestartPreventExitStatus=78" in unit

