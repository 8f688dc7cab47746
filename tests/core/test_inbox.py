"""The inbox against the database when files go away: a vanished inbox is unavailable, not
empty; a person's work outlives their photos; files that change while processed go round
again. The real core on the fake models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import text

from facefold.core import Library
from facefold.core import people as core_people
from facefold.core.inbox import apply_events
from facefold.core.pipeline import process_batch
from facefold.core.reports import status
from facefold.core.scan import scan
from tests.helpers.fakes import person_photo


def _library_of_two(lib: Library, rng: np.random.Generator) -> tuple[int, int]:
    """Five photos each of two people, scanned; the people's ids, most photos first."""
    for person in range(2):
        for k in range(5):
            person_photo(lib.settings.inbox / f"p{person}" / f"{k}.png", person, rng)
    scan(lib)
    with lib.session() as s:
        rows = s.execute(text("SELECT person_id FROM faces GROUP BY person_id "
                              "ORDER BY MIN(id)")).all()
    return rows[0][0], rows[1][0]


def _people(lib: Library) -> dict[str, list[str]]:
    root = lib.settings.people
    return {d.name: sorted(os.readlink(p) for p in d.iterdir()) for d in sorted(root.iterdir())
            if d.is_dir() and not d.name.startswith(".")}


def _work(lib: Library) -> list[tuple]:
    with lib.session() as s:
        return [tuple(r) for r in s.execute(text(
            "SELECT i.path, f.box_x, f.person_id, f.pinned, p.name FROM faces f "
            "JOIN images i ON i.id = f.image_id LEFT JOIN persons p ON p.id = f.person_id "
            "ORDER BY i.path, f.box_x"))]


def test_an_inbox_that_vanishes_forgets_nothing_and_comes_back_whole(
        lib: Library, rng: np.random.Generator, tmp_path: Path) -> None:
    tony, laura = _library_of_two(lib, rng)
    core_people.name(lib, tony, "Tony")
    core_people.name(lib, laura, "Laura")
    with lib.session() as s:
        pinned = s.execute(text("SELECT id FROM faces WHERE person_id = :p"), {"p": laura}).first()
    assert pinned is not None
    core_people.move(lib, pinned[0], laura)  # placed by hand
    core_people.apart(lib, tony, laura)
    before_work, before_folders = _work(lib), _people(lib)
    assert sorted(before_folders) == ["Laura", "Tony"]

    inbox = lib.settings.inbox
    shutil.move(inbox, tmp_path / "unplugged")  # the disk goes
    res = scan(lib)
    assert res.away is not None and "missing" in res.away and res.removed == 0
    assert _work(lib) == before_work
    assert sorted(_people(lib)) == ["Laura", "Tony"]  # the folders wait, links and all
    st = status(lib)
    assert st.inbox_away is not None and "missing" in st.inbox_away.reason

    inbox.mkdir()  # an empty mount point, or `rm -rf inbox; mkdir inbox`
    res = scan(lib)
    assert res.away is not None and "empty while 10 photos" in res.away
    assert _work(lib) == before_work

    inbox.rmdir()
    shutil.move(tmp_path / "unplugged", inbox)  # back
    res = scan(lib)
    assert res.away is None and res.processed == 0 and res.unchanged == 10
    assert _work(lib) == before_work and _people(lib) == before_folders
    assert status(lib).inbox_away is None
    with lib.session() as s:
        assert s.execute(text("SELECT COUNT(*) FROM person_apart")).scalar() == 1


def test_photos_removed_one_by_one_are_forgotten_as_ever(lib: Library,
                                                         rng: np.random.Generator) -> None:
    _library_of_two(lib, rng)
    (lib.settings.inbox / "p0" / "0.png").unlink()
    res = scan(lib)
    assert res.away is None and res.removed == 1
    assert not any(p.endswith("p0/0.png") for p, *_ in _work(lib))


def test_a_persons_work_comes_back_with_their_photos_under_new_paths(
        lib: Library, rng: np.random.Generator, tmp_path: Path) -> None:
    tony, laura = _library_of_two(lib, rng)
    core_people.name(lib, tony, "Tony")
    with lib.session() as s:
        (taken_out,) = s.execute(text("SELECT id FROM faces WHERE person_id = :p LIMIT 1"),
                                 {"p": laura}).first()
    core_people.unassign(lib, taken_out)  # "not this person", by hand
    inbox = lib.settings.inbox
    shutil.move(inbox / "p0", tmp_path / "p0")  # Tony's photos go, one folder of many
    shutil.move(inbox / "p1", tmp_path / "p1")
    person_photo(inbox / "someone-else.png", 3, rng)  # the inbox is not empty: it is there
    res = scan(lib)
    assert res.away is None and res.removed == 10  # taken at their word: not an empty inbox
    assert _people(lib).get("Tony") == []  # his folder waits, empty
    shutil.move(tmp_path / "p0", inbox / "tony-again")  # back, under another folder
    shutil.move(tmp_path / "p1", inbox / "laura-again")
    scan(lib)
    with lib.session() as s:
        rows = s.execute(text(
            "SELECT i.path, f.person_id, f.pinned FROM faces f JOIN images i "
            "ON i.id = f.image_id")).all()
    tonys = {p for p, pid, _ in rows if "tony-again" in p and pid == tony}
    assert len(tonys) == 5  # in the named person again
    out = [(p, pid) for p, pid, pinned in rows if pinned]
    assert len(out) == 1 and out[0][1] is None  # still taken out


def test_files_that_change_while_processed_go_round_again(lib: Library,
                                                          rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    for k in range(4):
        person_photo(inbox / f"{k}.png", k % 2, rng)
    scan(lib)
    paths = {k: str(inbox / f"{k}.png") for k in range(4)}
    person_photo(inbox / "new.png", 0, rng)
    apply_events(lib, [], [str(inbox / "new.png")], [])
    finder = lib.models.finder
    real_detect = finder.detect

    def meddling_detect(pixels: np.ndarray, scale: float = 1.0) -> list:
        # while new.png is looked at, the user rewrites 0, deletes 1 and renames 2 (the
        # watcher's events arrive as they would, settled)
        if not (inbox / "2b.png").exists():
            person_photo(inbox / "0.png", 1, rng)  # now a photo of the other person
            os.unlink(paths[1])
            os.rename(paths[2], inbox / "2b.png")
            apply_events(lib, [(paths[2], str(inbox / "2b.png"), False)],
                         [paths[0], paths[1]], [])
        return real_detect(pixels, scale)

    finder.detect = meddling_detect  # type: ignore[method-assign]
    with lib.session() as s:  # make new.png's turn hold the others too, as a batch would
        s.execute(text("UPDATE images SET status = 'queued'"))
        s.commit()
    deferred: set[str] = set()
    while process_batch(lib, 32, deferred).claimed:
        pass
    finder.detect = real_detect  # type: ignore[method-assign]
    with lib.session() as s:
        rows = {p: (st, sha) for p, st, sha in s.execute(text(
            "SELECT path, status, sha256 FROM images"))}
    assert set(rows) == {paths[0], paths[3], str(inbox / "2b.png"), str(inbox / "new.png")}
    assert all(st == "done" for st, _ in rows.values())  # nothing left processing or lost
    import hashlib
    assert rows[paths[0]][1] == hashlib.sha256(Path(paths[0]).read_bytes()).hexdigest()
    with lib.session() as s:
        faces_of = dict(s.execute(text(
            "SELECT i.path, COUNT(f.id) FROM images i LEFT JOIN faces f ON f.image_id = i.id "
            "GROUP BY i.path")).all())
    assert faces_of[str(inbox / "2b.png")] == 1  # the renamed photo kept its face
