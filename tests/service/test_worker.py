"""The worker thread and the daemon's lifecycle, in-process with the fake models: seconds, no
TensorFlow. The real daemon (a subprocess with the real models) is tested in test_watch.py."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from facefold.core import Library
from facefold.core import people as people_uc
from facefold.core.inbox import reconcile
from facefold.core.reports import persons, status
from facefold.service import run as run_module
from facefold.service.run import Daemon
from facefold.service.worker import Worker
from tests.helpers.fakes import person_photo


def _wait(cond: Callable[[], bool], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _links(lib: Library) -> set[str]:
    people = lib.settings.people
    if not people.exists():
        return set()
    return {x.name for d in people.iterdir() if d.is_dir() for x in d.iterdir()}


@pytest.fixture
def worker(lib: Library) -> Iterator[Worker]:
    w = Worker(lib)
    yield w
    w.stop()
    if w.is_alive():
        w.join(10)


def test_the_worker_processes_the_queue_and_keeps_folders_in_step(
        lib: Library, worker: Worker, rng: np.random.Generator) -> None:
    for k in range(6):
        person_photo(lib.settings.inbox / f"{k}.png", k % 2, rng)
    reconcile(lib, [lib.settings.inbox])
    worker.start()
    _wait(lambda: len(_links(lib)) == 6)
    st = status(lib)
    assert st.images_by_status["done"] == 6 and st.last_batch is not None
    assert st.persons == 2
    # a change made by another process (the CLI) is picked up: the folder is renamed
    pid = persons(lib)[0].id
    people_uc.name(lib, pid, "Ana")
    (lib.settings.people / "Ana").rename(lib.settings.people / "stolen")  # and undone by hand
    worker.request_sync()
    _wait(lambda: (lib.settings.people / "Ana").is_dir())
    worker.stop()
    worker.join(10)
    assert not worker.is_alive() and worker.error is None


def test_storage_errors_back_off_and_the_worker_goes_on(
        lib: Library, worker: Worker, rng: np.random.Generator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    import facefold.service.worker as worker_module

    real = worker_module.process_batch
    failures = iter([True, True])

    def flaky(*args: object, **kw: object) -> object:
        if next(failures, False):
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_module, "process_batch", flaky)
    lib.settings = lib.settings.model_copy(update={"watch": lib.settings.watch.model_copy(
        update={"storage_retry_seconds": 0.05})})
    person_photo(lib.settings.inbox / "a.png", 0, rng)
    person_photo(lib.settings.inbox / "b.png", 0, rng)  # one face alone is nobody yet
    reconcile(lib, [lib.settings.inbox])
    worker.start()
    _wait(lambda: _links(lib) == {"a.png", "b.png"})
    assert worker.error is None and worker.is_alive()


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def test_the_daemon_catches_up_follows_and_stops(lib: Library, rng: np.random.Generator,
                                                 restore_signals: None) -> None:
    person_photo(lib.settings.inbox / "before.png", 0, rng)
    person_photo(lib.settings.inbox / "before-2.png", 0, rng)
    daemon = Daemon(lib)

    def drive() -> None:
        _wait(lambda: {"before.png", "before-2.png"} <= _links(lib))
        person_photo(lib.settings.inbox / "sub" / "after.png", 0, rng)
        _wait(lambda: "after.png" in _links(lib))
        daemon.flags.stop.set()

    t = threading.Thread(target=drive)
    lib.settings = lib.settings.model_copy(update={"watch": lib.settings.watch.model_copy(
        update={"settle_seconds": 0.1})})
    t.start()
    assert daemon.run() == 0
    t.join(5)
    assert _links(lib) == {"before.png", "before-2.png", "after.png"}
    assert not [th for th in threading.enumerate() if th.name == "facefold-worker"]


def test_a_failing_catch_up_still_stops_the_threads(lib: Library, restore_signals: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_lib: Library, _roots: list[Path]) -> None:
        raise RuntimeError("the inbox vanished")

    monkeypatch.setattr(run_module, "reconcile", broken)
    before = set(threading.enumerate())
    with pytest.raises(RuntimeError, match="the inbox vanished"):
        Daemon(lib).run()
    _wait(lambda: not [t for t in set(threading.enumerate()) - before if t.is_alive()], 10)
