"""`facefold watch` as a real subprocess on a temporary inbox, with real photos and models."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from facefold.core import Library
from facefold.core.scan import scan
from facefold.evaluate import pairwise_scores
from tests.helpers.daemon import WORK_TIMEOUT, Daemon, check_exactly_once, copy_in, wait_for
from tests.helpers.data import distinct_photos, photos_of
from tests.helpers.postgres import Postgres

pytestmark = pytest.mark.models


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    d.inbox.mkdir()
    yield d
    if d.proc is not None:
        d.proc.kill()
        d.proc.wait()


def test_daemon_follows_the_inbox(daemon: Daemon, celebrities: Path) -> None:
    mindy = photos_of(celebrities, "mindy_kaling")
    elton = photos_of(celebrities, "elton_john")
    jerry = photos_of(celebrities, "jerry_seinfeld")
    # photos already there before the first start are caught up
    for p in mindy[:3]:
        shutil.copy(p, daemon.inbox / f"mindy-{p.name}")
    daemon.start()
    wait_for(lambda: daemon.done() == 3 and daemon.idle(), WORK_TIMEOUT, daemon.log,
             state=daemon.state)
    assert len(daemon.targets()) == 3

    # copied in while running: they show up in person folders
    (daemon.inbox / "elton").mkdir()
    for p in elton[:5]:
        copy_in(p, daemon.inbox / "elton" / p.name)
    wait_for(lambda: daemon.done() == 8 and daemon.idle(), WORK_TIMEOUT, daemon.log,
             state=daemon.state)
    by_folder = daemon.links()
    # two of these five Elton photos sit 0.95-1.24 from his other three (as far as strangers
    # do): they may make a second Elton folder (`facefold suggest` offers the pair), never
    # join Mindy's
    assert 2 <= len(by_folder) <= 3
    for targets in by_folder.values():  # no folder mixes the two people
        assert len({"elton" in t for t in targets}) == 1
    linked_elton = sorted(t for t in daemon.targets() if "/elton/" in t)
    assert len(linked_elton) >= 3

    # a file written slowly in chunks is processed once, complete
    slow = daemon.inbox / "slow-elton.jpg"
    data = elton[5].read_bytes()
    with slow.open("wb") as f:
        for i in range(0, len(data), max(1, len(data) // 6)):
            f.write(data[i:i + max(1, len(data) // 6)])
            f.flush()
            time.sleep(0.3)
    wait_for(lambda: daemon.done() == 9 and daemon.idle(), WORK_TIMEOUT, daemon.log,
             state=daemon.state)
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
             WORK_TIMEOUT, daemon.log,
             state=daemon.state)
    assert daemon.query("SELECT f.id FROM faces f JOIN images i ON i.id = f.image_id "
                        "WHERE i.path = ?", str(new)) == faces_before

    # deleted: its links go
    gone = Path(sorted(t for t in daemon.targets() if "mindy-" in t)[0])
    gone.unlink()
    wait_for(lambda: str(gone) not in daemon.targets() and daemon.idle(), WORK_TIMEOUT, daemon.log,
             state=daemon.state)
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
    wait_for(lambda: daemon.done() == 11 and daemon.idle(), WORK_TIMEOUT, daemon.log,
             state=daemon.state)
    assert sum("jerry-" in t for t in daemon.targets()) >= 2
    assert daemon.stop() == 0
    log = daemon.log.read_text()
    assert "batch:" in log and "Traceback" not in log



def _labels(rows: list[tuple], inbox: Path) -> dict[tuple[str, int, int], int]:
    """(photo relative to the inbox, box x, box y) → person id (-1: nobody), per face."""
    return {(str(Path(p).relative_to(inbox)), round(x), round(y)): (-1 if pid is None else pid)
            for p, x, y, pid in rows}


FACES_SQL = ("SELECT i.path, f.box_x, f.box_y, f.person_id FROM faces f "
             "JOIN images i ON i.id = f.image_id")


def test_watch_and_workers_on_postgresql_share_the_queue_and_survive_a_kill(
        tmp_path: Path, celebrities: Path, postgres: Postgres, real_lib: Library) -> None:
    """One watch and two `facefold worker`s on one PostgreSQL database: one worker is killed
    (-9) while it holds photos; they go to the others when its lease ends. Every photo is
    stored once, and the people are those one process makes of the same photos on SQLite."""
    # enough photos, in small batches, that the workers (which look at the queue every second)
    # get some before the watch's own worker has done them all: it does 40 in under a second
    files = distinct_photos(celebrities, 120, real_lib.settings.inbox)
    scan(real_lib)
    with real_lib.session() as s:
        alone = _labels([tuple(r) for r in s.execute(text(FACES_SQL))], real_lib.settings.inbox)
    (tmp_path / "pg").mkdir()
    d = Daemon(tmp_path / "pg", database=postgres.new_database(),
               watch={"lease_seconds": 10, "batch_photos": 2})
    shutil.copytree(real_lib.settings.inbox, d.inbox)
    logs = [tmp_path / f"worker-{k}.log" for k in (1, 2)]
    workers = [d.spawn_worker(log) for log in logs]  # all three migrate the empty database
    try:
        for log, w in zip(logs, workers, strict=True):  # ready before the watch queues photos
            wait_for(lambda log=log: "processing the queue" in log.read_text(), WORK_TIMEOUT,
                     log, w)
        d.start()
        victim = workers[0]
        held: set[str] = set()

        def holds() -> bool:  # what it holds, read once: a second look may find it done
            held.update(r[0] for r in d.query("SELECT path FROM images WHERE claimed_by LIKE ?",
                                              f"%/worker-{victim.pid}"))
            return bool(held)

        wait_for(holds, WORK_TIMEOUT, d.log, d.proc)
        victim.kill()
        victim.wait()
        wait_for(lambda: d.done() == len(files) and d.idle(), WORK_TIMEOUT, d.log, d.proc)
        time.sleep(2)  # the owner's last settle after the workers' last batch
        wait_for(lambda: d.idle(), WORK_TIMEOUT, d.log, d.proc)
        counts = check_exactly_once(d, [d.inbox / f.relative_to(real_lib.settings.inbox)
                                        for f in files])
        assert d.query("SELECT COUNT(*) FROM images WHERE attempts <> 1")[0][0] == 0
        assert held and all(d.query("SELECT status FROM images WHERE path = ?", p)[0][0] == "done"
                            for p in held)
        shared = _labels(d.query(FACES_SQL), d.inbox)
        assert shared.keys() == alone.keys()  # the same faces, each once
        keys = sorted(alone)
        f1 = pairwise_scores(np.array([shared[k] for k in keys]),
                             np.array([alone[k] for k in keys]))[2]
        assert f1 >= 0.99, (f1, counts)
        assert d.stop() == 0
        assert "batch:" in logs[1].read_text()  # the worker left alive did its share
    finally:
        for w in workers:
            if w.poll() is None:
                w.terminate()
                w.wait(60)
