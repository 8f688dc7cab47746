from facefold.service.queue import SettleQueue
from facefold.service.watcher import is_ignored


class FakeFS:
    def __init__(self) -> None:
        self.stats: dict[str, tuple[int, float] | None] = {}

    def stat(self, path: str) -> tuple[int, float] | None:
        return self.stats.get(path)


def test_a_file_is_ready_once_it_stopped_changing() -> None:
    fs = FakeFS()
    q = SettleQueue(2.0, fs.stat)
    fs.stats["/in/a.jpg"] = (100, 1.0)
    q.touch("/in/a.jpg", 0.0)
    assert q.ready(1.0) == ([], [])  # still inside the quiet period
    assert q.ready(2.5) == ([], [])  # first look: remembered
    fs.stats["/in/a.jpg"] = (200, 2.0)  # still growing (no event seen)
    assert q.ready(5.0) == ([], [])  # the size changed since the last look: wait again
    assert q.ready(6.0) == ([], [])  # not yet a full quiet period after that look
    assert q.ready(7.5) == (["/in/a.jpg"], [])
    assert len(q) == 0 and q.ready(20.0) == ([], [])


def test_new_events_restart_the_wait_and_many_events_give_one_entry() -> None:
    fs = FakeFS()
    fs.stats["/in/a.jpg"] = (1, 1.0)
    q = SettleQueue(1.0, fs.stat)
    for t in range(10):
        q.touch("/in/a.jpg", t * 0.5)
    assert len(q) == 1
    assert q.ready(5.0) == ([], [])
    q.touch("/in/a.jpg", 5.2)
    assert q.ready(6.0) == ([], [])
    assert q.ready(7.5) == ([], [])
    assert q.ready(9.0) == (["/in/a.jpg"], [])


def test_deleted_files_settle_too_and_folders_are_separate() -> None:
    fs = FakeFS()
    q = SettleQueue(0.0, fs.stat)
    q.touch("/in/gone.jpg", 0.0)
    q.touch("/in/new-folder", 0.0, folder=True)
    q.ready(0.0)
    assert q.ready(0.1) == (["/in/gone.jpg"], ["/in/new-folder"])


def test_moves_come_out_in_order() -> None:
    q = SettleQueue(1.0)
    q.moved("/in/a.jpg", "/in/b.jpg", False)
    q.moved("/in/d1", "/in/d2", True)
    assert q.take_moves() == [("/in/a.jpg", "/in/b.jpg", False), ("/in/d1", "/in/d2", True)]
    assert q.take_moves() == []


def test_ignore_patterns() -> None:
    pats = (".*", "*.part", "*.tmp", "*~", "*.swp")
    assert is_ignored("/in/.hidden.jpg", "/in", pats)
    assert is_ignored("/in/.cache/a.jpg", "/in", pats)
    assert is_ignored("/in/a.jpg.part", "/in", pats)
    assert is_ignored("/in/a.jpg~", "/in", pats)
    assert is_ignored("/elsewhere/a.jpg", "/in", pats)
    assert not is_ignored("/in/2024/a.jpg", "/in", pats)
