"""`facefold watch` serving the web app beside the daemon (real models, real photos): the app
answers while photos are processed, and a change made in it is what the daemon builds on."""

from __future__ import annotations

import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.daemon import WORK_TIMEOUT, Daemon, copy_in, wait_for
from tests.helpers.data import photos_of
from tests.helpers.web import Client

pytestmark = pytest.mark.models


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, web={"listen": "127.0.0.1:0"})
    d.inbox.mkdir()
    yield d
    if d.proc is not None:
        d.proc.kill()
        d.proc.wait()


def test_watch_serves_the_web_app_and_follows_its_changes(daemon: Daemon,
                                                         celebrities: Path) -> None:
    elton = photos_of(celebrities, "elton_john")
    mindy = photos_of(celebrities, "mindy_kaling")
    for p in mindy[:4]:
        shutil.copy(p, daemon.inbox / f"mindy-{p.name}")
    for p in elton[:4]:
        shutil.copy(p, daemon.inbox / f"elton-{p.name}")
    daemon.start()
    m = re.search(r"web app at http://127\.0\.0\.1:(\d+)/", daemon.log.read_text())
    assert m, daemon.log.read_text()[-2000:]
    c = Client("127.0.0.1", int(m.group(1)))
    wait_for(lambda: daemon.done() == 8 and daemon.idle(), WORK_TIMEOUT, daemon.log)
    page = c.get("/")
    assert page.status == 200
    cards = re.findall(r'class="card[^"]*" data-person="(\d+)"', page.text)
    assert len(cards) == 2
    elton_id = next(int(p) for p, _n, path in [
        (r[0], None, r[1]) for r in daemon.query(
            "SELECT person_id, photo_path FROM person_photos")] if "elton-" in path)
    r = c.post(f"/api/person/{elton_id}/name", {"name": "Elton"})
    assert r.status == 200, r.text
    assert "Elton" in daemon.links()
    # new photos of him, processed by the daemon, land in the folder named in the web app
    # (some of his photos sit as far from his others as strangers do: they wait unassigned)
    late = [copy_in(p, daemon.inbox / f"elton-late-{p.name}") for p in elton[4:8]]
    wait_for(lambda: daemon.done() == 12 and daemon.idle(), WORK_TIMEOUT, daemon.log)
    links = daemon.links()
    assert {str(p) for p in late} & links["Elton"]
    assert not any("elton-" in t for name, ts in links.items() if name != "Elton" for t in ts)
    status = c.get("/api/status").json()
    assert status["images"]["done"] == 12
    assert daemon.stop(signal.SIGTERM) == 0
