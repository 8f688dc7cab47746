"""People that stay stable and can be fixed by hand, with the fake models: names, merges, moves
and hidden persons survive every recluster, and the folders follow each change."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from facefold.config import load_settings
from facefold.core import Library, Models
from facefold.core import people as people_uc
from facefold.core.reports import faces_of, persons
from facefold.core.scan import scan
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.db.people import PeopleError
from facefold.people.names import NameRefused
from tests.helpers.data import PEOPLE, make_collage, photos_of, write_config
from tests.helpers.fakes import Square, paint, person_photo
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)


def pairwise_f1(pred: dict[str, int | None], truth: dict[str, str]) -> float:
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(truth), 2):
        same = truth[a] == truth[b]
        together = pred[a] is not None and pred[a] == pred[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    return 2 * tp / max(2 * tp + fp + fn, 1)


def _library(lib: Library, rng: np.random.Generator, people: int = 3, each: int = 4) -> None:
    for person in range(people):
        for k in range(each):
            person_photo(lib.settings.inbox / f"p{person}-{k}.png", person, rng)
    person_photo(lib.settings.inbox / "group.png", 0, rng, faces=2)
    scan(lib)


def _person_of(lib: Library, fragment: str) -> set[int]:
    with lib.session() as s:
        return {pid for pid, _n, path in people_store.person_photo_rows(s, include_hidden=True)
                if fragment in path}


def _links(lib: Library) -> dict[str, set[str]]:
    people = lib.settings.people
    return {d.name: {os.readlink(x) for x in d.iterdir()} for d in people.iterdir() if d.is_dir()}


def test_names_moves_and_merges_survive_a_full_recluster(lib: Library,
                                                          rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    (p1,) = _person_of(lib, "p1-")
    assert people_uc.name(lib, p0, "  Ana\tMaría ") == "Ana María"
    assert (lib.settings.people / "Ana María").is_dir()
    # one face of p1 moved into Ana by hand: it stays there through a full recluster
    face = next(f for f in faces_of(lib, p1) if "p1-0" in f.path)
    people_uc.move(lib, face.id, p0)
    group_face = next(f for f in faces_of(lib, p1) if "group" in f.path)
    with pytest.raises(PeopleError, match="same photo"):  # Ana is in the group photo already
        people_uc.move(lib, group_face.id, p0)
    rc = people_uc.recluster(lib, full=True)
    assert rc.persons == 3 and rc.new_persons == 0
    moved = next(f for f in faces_of(lib, p0) if f.id == face.id)
    assert moved.pinned
    assert face.path in _links(lib)["Ana María"]
    # merge: everything of p1 is Ana's now, pinned
    assert people_uc.merge(lib, p0, [p1]) > 0
    assert _person_of(lib, "p1-") == {p0}
    assert {p.id for p in persons(lib)} == {p0} | _person_of(lib, "p2-")


def test_unassign_keeps_a_face_out(lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p2,) = _person_of(lib, "p2-")
    face = faces_of(lib, p2)[0]
    people_uc.unassign(lib, face.id)
    people_uc.recluster(lib, full=True)
    assert face.id not in {f.id for f in faces_of(lib, p2)}
    assert face.path not in {t for links in _links(lib).values() for t in links}


def test_ignored_people_lose_their_folder_and_keep_their_new_faces(
        lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p2,) = _person_of(lib, "p2-")
    before = set(_links(lib))
    people_uc.ignore(lib, p2)
    assert len(before - set(_links(lib))) == 1
    person_photo(lib.settings.inbox / "p2-late.png", 2, rng)
    scan(lib)
    assert _person_of(lib, "p2-late") == {p2}
    assert not any("p2-late" in t for links in _links(lib).values() for t in links)
    people_uc.ignore(lib, p2, hidden=False)
    assert any("p2-late" in t for links in _links(lib).values() for t in links)


def test_edits_of_unknown_ids_and_bad_names_are_refused(lib: Library,
                                                        rng: np.random.Generator) -> None:
    _library(lib, rng, people=2, each=2)
    (pid,) = _person_of(lib, "p0-")
    with pytest.raises(PeopleError, match="no person 999"):
        people_uc.name(lib, 999, "X")
    with pytest.raises(PeopleError, match="no face 999"):
        people_uc.move(lib, 999, pid)
    with pytest.raises(NameRefused, match="visible character"):
        people_uc.name(lib, pid, "\n\t ")
    with pytest.raises(PeopleError, match="at least one other"):
        people_uc.merge(lib, pid, [pid])
    people_uc.name(lib, pid, "../../outside")
    assert all(p.parent == lib.settings.people for p in lib.settings.people.iterdir())
    assert (lib.settings.people / "outside").is_dir()
    with lib.session() as s:
        assert people_store.people_rev(s) == 1  # only the change that was made counts


def test_an_emptied_person_is_pruned_by_the_recluster_not_by_counting(
        lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng, people=2, each=3)
    (p1,) = _person_of(lib, "p1-")
    with lib.session() as s:
        for f in faces_of(lib, p1):
            people_store.unassign_face(s, f.id)
        s.commit()
        assert any(p.id == p1 for p in people_store.person_summaries(s))
        people_store.people_counts(s)  # reading counts writes nothing
        assert any(p.id == p1 for p in people_store.person_summaries(s))
    rc = people_uc.recluster(lib)
    assert rc.removed_persons == 1 and p1 not in {p.id for p in persons(lib)}


def test_folders_follow_a_rename(lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng, people=1, each=3)
    (pid,) = _person_of(lib, "p0-")
    people_uc.name(lib, pid, "Mindy")
    assert sorted(_links(lib)) == ["Mindy"]
    people_uc.name(lib, pid, "Mindy K.")
    assert sorted(_links(lib)) == ["Mindy K"]
    people_uc.name(lib, pid, None)
    assert sorted(_links(lib)) == [f"person_{pid:04d}"]
    assert Path(lib.settings.state_dir / "links.json").exists()


def _state(lib: Library) -> tuple[dict[int, tuple[str | None, bool]], dict[int, tuple[int | None, bool]], set[tuple[int, int]]]:
    """Persons (name, hidden), faces (person, pinned) and apart links, as stored."""
    with lib.session() as s:
        ps = {pid: (n, bool(h)) for pid, n, h in s.execute(text(
            "SELECT id, name, hidden FROM persons"))}
        fs = {fid: (pid, bool(pin)) for fid, pid, pin in s.execute(text(
            "SELECT id, person_id, pinned FROM faces"))}
        ap = {(a, b) for a, b in s.execute(text("SELECT person_a, person_b FROM person_apart"))}
    return ps, fs, ap


def test_every_hand_edit_can_be_undone_newest_first(lib: Library,
                                                    rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    (p1,) = _person_of(lib, "p1-")
    (p2,) = _person_of(lib, "p2-")
    states = [(_state(lib), _links(lib))]
    f1 = [f.id for f in faces_of(lib, p1) if "group" not in f.path]
    edits = [lambda: people_uc.name(lib, p0, "Ana"),
             lambda: people_uc.apart(lib, p0, p2),
             lambda: people_uc.move_faces(lib, f1[:2], p2),
             lambda: people_uc.unassign_faces(lib, f1[2:3]),
             lambda: people_uc.merge(lib, p0, [p1]),
             lambda: people_uc.ignore(lib, p2),
             lambda: people_uc.new_person(lib, [faces_of(lib, p2)[0].id], "Neu")]
    for edit in edits:
        edit()
        states.append((_state(lib), _links(lib)))
    assert states[-1] != states[0]
    for expected in reversed(states[:-1]):
        assert people_uc.undo(lib) is not None
        assert (_state(lib), _links(lib)) == expected
    assert people_uc.undo(lib) is None  # nothing left


def test_new_person_of_unassigned_faces(lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p2,) = _person_of(lib, "p2-")
    fids = [f.id for f in faces_of(lib, p2)][:2]
    people_uc.unassign_faces(lib, fids)
    pid = people_uc.new_person(lib, fids, "Zoë")
    assert pid != p2 and {f.id for f in faces_of(lib, pid)} == set(fids)
    assert all(f.pinned for f in faces_of(lib, pid))
    assert (lib.settings.people / "Zoë").is_dir()
    people_uc.recluster(lib, full=True)
    assert {f.id for f in faces_of(lib, pid)} == set(fids)
    with pytest.raises(PeopleError, match="at least one face"):
        people_uc.new_person(lib, [])
    with pytest.raises(PeopleError, match="no face 999"):
        people_uc.new_person(lib, [999])
    assert pid in {p.id for p in persons(lib)}  # the refused ones wrote nothing


def test_undo_refuses_when_a_merged_away_id_was_reused(lib: Library, rng: np.random.Generator,
                                                       backend: str) -> None:
    if backend == "postgresql":
        pytest.skip("PostgreSQL's sequences never hand out a freed id again")
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    top = max(p.id for p in persons(lib))
    people_uc.merge(lib, p0, [top])
    with lib.session() as s:  # SQLite gives the freed id to the next person
        assert people_store.create_person(s).id == top
        s.commit()
    with pytest.raises(PeopleError, match=f"person id\\(s\\) \\[{top}\\] have been given to new "
                       "people since$"):
        people_uc.undo(lib)


def test_undoing_a_name_undoes_the_name_only(lib: Library, rng: np.random.Generator) -> None:
    """What the clustering did after the edit stays: an undo puts back what the edit changed,
    not every face of the person."""
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    (p1,) = _person_of(lib, "p1-")
    people_uc.name(lib, p0, "Ana")
    moved = next(f.id for f in faces_of(lib, p0) if "group" not in f.path)
    with lib.session() as s:  # the clustering moves one of Ana's faces meanwhile
        s.execute(text("UPDATE faces SET person_id = :p WHERE id = :f"), {"p": p1, "f": moved})
        s.commit()
    assert people_uc.undo(lib) == f"naming person {p0}"
    ps, fs, _ap = _state(lib)
    assert ps[p0][0] is None and fs[moved][0] == p1


def test_undo_brings_back_a_person_the_clustering_removed(lib: Library,
                                                          rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p2,) = _person_of(lib, "p2-")
    (p1,) = _person_of(lib, "p1-")
    fid = next(f.id for f in faces_of(lib, p1) if "group" not in f.path)
    solo = people_uc.new_person(lib, [fid])  # a person of one face
    people_uc.move(lib, fid, p2)  # its one face moved away
    people_uc.recluster(lib)  # and the empty person removed
    assert solo not in _state(lib)[0]
    people_uc.undo(lib)
    ps, fs, _ap = _state(lib)
    assert solo in ps and fs[fid][0] == solo


def test_undo_of_marking_faces_either_way(lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    fid = faces_of(lib, p0)[0].id

    def not_face() -> bool:
        with lib.session() as s:
            return bool(s.execute(text("SELECT not_face FROM faces WHERE id = :f"),
                                  {"f": fid}).scalar())

    people_uc.not_a_face(lib, [fid])
    people_uc.not_a_face(lib, [fid], undo=True)  # a face after all
    assert not not_face()
    assert people_uc.undo(lib) == f"marking face {fid} as faces again"
    assert not_face()
    people_uc.undo(lib)
    assert not not_face()


def test_an_edit_recorded_by_the_release_before_is_undone(lib: Library,
                                                          rng: np.random.Generator) -> None:
    """Releases before "not a face" recorded faces without that flag: they were faces."""
    import json

    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    (p1,) = _person_of(lib, "p1-")
    before = _state(lib)
    people_uc.merge(lib, p0, [p1])
    with lib.session() as s:
        (eid, raw), = s.execute(text("SELECT id, before FROM edit_log")).all()
        old = json.loads(raw)
        for f in old["faces"]:
            del f["not_face"]
        s.execute(text("UPDATE edit_log SET before = :b WHERE id = :i"),
                  {"b": json.dumps(old), "i": eid})
        s.commit()
    people_uc.undo(lib)
    assert _state(lib) == before
    with lib.session() as s:
        assert s.execute(text("SELECT count(*) FROM faces WHERE not_face")).scalar() == 0


def test_undo_keeps_no_pair_apart_with_a_person_that_is_gone(lib: Library,
                                                             rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    (p2,) = _person_of(lib, "p2-")
    people_uc.apart(lib, p0, p2)
    people_uc.name(lib, p0, "Ana")  # its record holds the pair
    with lib.session() as s:  # then p2's photos leave the library, and p2 with them
        s.execute(text("UPDATE faces SET person_id = NULL WHERE person_id = :p"), {"p": p2})
        s.execute(text("DELETE FROM persons WHERE id = :p"), {"p": p2})
        s.commit()
    people_uc.undo(lib)
    ps, _fs, ap = _state(lib)
    assert ps[p0][0] is None and p2 not in ps
    assert all(a in ps and b in ps for a, b in ap)


def test_undo_says_what_it_undid(lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng, people=4)
    p0, p1, p2, p3 = (next(iter(_person_of(lib, f"p{k}-"))) for k in range(4))
    f1 = sorted(f.id for f in faces_of(lib, p1) if "group" not in f.path)
    f3 = sorted(f.id for f in faces_of(lib, p3))
    done = [(lambda: people_uc.apart(lib, p0, p2), f"keeping persons {p0} and {p2} apart"),
            (lambda: people_uc.apart(lib, p0, p2, keep_apart=False),
             f"no longer keeping persons {p0} and {p2} apart"),
            (lambda: people_uc.ignore(lib, p2), f"hiding person {p2}"),
            (lambda: people_uc.ignore(lib, p2, hidden=False), f"showing person {p2} again"),
            (lambda: people_uc.move_faces(lib, f1[:1], p2), f"moving face {f1[0]} to person {p2}"),
            (lambda: people_uc.unassign_faces(lib, f1[1:4]),
             f"taking 3 faces ({f1[1]}, {f1[2]}, {f1[3]}) out"),
            (lambda: people_uc.not_a_face(lib, f3), f"marking {len(f3)} faces ("
             + ", ".join(str(f) for f in f3[:5]) + (", …" if len(f3) > 5 else "")
             + ") as not a face"),
            (lambda: people_uc.merge(lib, p0, [p2]), f"merging person {p2} into person {p0}"),
            (lambda: people_uc.merge(lib, p0, [p1, p3]),
             f"merging persons {p1} and {p3} into person {p0}")]
    for edit, _said in done:
        edit()
    for _edit, said in reversed(done):
        assert people_uc.undo(lib) == said


def test_a_plain_recluster_places_faces_and_a_full_one_redoes_everyone(
        lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng)
    c = lib.settings.clustering  # a library too large to redo everyone when idle
    lib.settings = lib.settings.model_copy(
        update={"clustering": c.model_copy(update={"full_when_idle_max_faces": 0})})
    (p0,) = _person_of(lib, "p0-")
    (p1,) = _person_of(lib, "p1-")
    misplaced = next(f.id for f in faces_of(lib, p0) if "group" not in f.path)
    with lib.session() as s:  # left in the wrong person by something outside
        s.execute(text("UPDATE faces SET person_id = :p WHERE id = :f"), {"p": p1, "f": misplaced})
        s.commit()
    people_uc.recluster(lib)
    assert misplaced in {f.id for f in faces_of(lib, p1)}  # a plain one leaves people be
    people_uc.recluster(lib, full=True)
    assert misplaced in {f.id for f in faces_of(lib, p0)}
    people_uc.name(lib, p1, "Bo")
    people_uc.unassign_faces(lib, [f.id for f in faces_of(lib, p1)])  # Bo's photos all out
    assert (lib.settings.people / "Bo").is_dir()  # a named person keeps an empty folder
    assert list((lib.settings.people / "Bo").iterdir()) == []


# The same on real photos with the real models.

def _copy(celebrities: Path, inbox: Path, people: tuple[str, ...], n: int,
          splits: tuple[str, ...] = ("train",)) -> list[Path]:
    out = []
    for person in people:
        (inbox / person).mkdir(parents=True, exist_ok=True)
        for split in splits:
            for p in photos_of(celebrities, person, split)[:n]:
                out.append(Path(shutil.copy(p, inbox / person / f"{split}-{p.name}")))
    return out


def test_one_at_a_time_matches_a_batch_scan_on_real_photos(
        tmp_path: Path, celebrities: Path, models: Models) -> None:
    from facefold.core.clusterer import Clusterer
    from facefold.core.inbox import reconcile
    from facefold.core.people import settle
    from facefold.core.pipeline import process_batch
    from tests.core.conftest import membership

    libs = []
    for name in ("batch", "one"):
        (tmp_path / name).mkdir()
        libs.append(Library(load_settings(write_config(tmp_path / name)), models))
    batch, one = libs
    _copy(celebrities, batch.settings.inbox, PEOPLE, 99, ("train", "val"))
    files = _copy(celebrities, one.settings.inbox, PEOPLE, 99, ("train", "val"))
    scan(batch)
    clusterer = Clusterer(one.settings)
    with one.session() as s:
        clusterer.load(s)
    for i in np.random.default_rng(7).permutation(len(files)):
        reconcile(one, [files[i]])  # what the watcher hands on for one settled photo
        process_batch(one, 1, set())
        settle(one, clusterer, idle=True)  # the worker after each batch, idle since it is alone
    a, b = membership(batch), membership(one)
    assert a.keys() == b.keys()
    truth = {k: k.split("/")[0] for k in a}
    f_batch, f_one = pairwise_f1(a, truth), pairwise_f1(b, truth)
    print(f"pairwise F1: batch {f_batch:.4f}, one at a time {f_one:.4f}")
    assert f_batch > 0.9 and abs(f_batch - f_one) <= 0.02


def test_hand_fixes_on_real_photos(real_lib: Library, celebrities: Path) -> None:
    lib = real_lib
    _copy(celebrities, lib.settings.inbox, ("elton_john", "madonna", "ben_afflek"), 6)
    collage = lib.settings.inbox / "collage.jpg"
    make_collage(photos_of(celebrities, "elton_john", "val")[0],
                 photos_of(celebrities, "madonna", "val")[0], collage)
    scan(lib)
    with lib.session() as s:
        held = [pid for pid, _n, path in people_store.person_photo_rows(s) if path == str(collage)]
    assert len(held) == len(set(held)) == 2  # two faces, two people, never one holding both
    (elton,) = _person_of(lib, "elton_john/")
    (madonna,) = _person_of(lib, "madonna/")
    people_uc.name(lib, elton, "Elton Hércules John")
    face = next(f for f in faces_of(lib, madonna) if "madonna/" in f.path)
    people_uc.move(lib, face.id, elton)
    people_uc.recluster(lib, full=True)
    assert any(f.id == face.id and f.pinned for f in faces_of(lib, elton))
    links = _links(lib)["Elton Hércules John"]
    assert face.path in links and any("elton_john/" in t for t in links)


def _two_close_people(lib: Library, delta: int) -> None:
    """Four photos of each of two people whose colours are `delta` apart (jittered by 20)."""
    rng = np.random.default_rng(0)
    for k in range(4):
        for who, base in (("a", (200, 60, 60)), ("b", (200, 60 + delta, 60))):
            colour = np.clip(np.array(base) + rng.integers(-20, 21, 3), 0, 255)
            paint(lib.settings.inbox / f"{who}{k}.png", [Square(20, 60, 80, tuple(colour))])
    scan(lib)


def test_suggestions_are_answered_by_merge_or_apart(lib: Library) -> None:
    _two_close_people(lib, 52)  # close, but too far apart to merge
    c = lib.settings.clustering  # the fake embedder's people are wide: a wider net than default
    lib.settings = lib.settings.model_copy(
        update={"clustering": c.model_copy(update={"suggest_distance": 0.95})})
    (a,) = _person_of(lib, "/a")
    (b,) = _person_of(lib, "/b")
    (doubt,) = people_uc.suggestions(lib)
    assert {doubt.a, doubt.b} == {a, b} and doubt.distance < lib.settings.clustering.suggest_distance
    people_uc.apart(lib, a, b)
    assert people_uc.suggestions(lib) == []
    people_uc.apart(lib, a, b, keep_apart=False)
    assert len(people_uc.suggestions(lib)) == 1
    people_uc.name(lib, a, "Ana")
    (doubt,) = people_uc.suggestions(lib)  # what the review page shows of each
    named = {doubt.a: (doubt.name_a, doubt.faces_a), doubt.b: (doubt.name_b, doubt.faces_b)}
    assert named == {a: ("Ana", 4), b: (None, 4)}
    people_uc.ignore(lib, b)  # a hidden person is never offered
    assert people_uc.suggestions(lib) == []
    people_uc.ignore(lib, b, hidden=False)
    people_uc.merge(lib, a, [b])
    assert people_uc.suggestions(lib) == [] and _person_of(lib, "/b") == {a}
    with pytest.raises(PeopleError, match="themselves"):
        people_uc.apart(lib, a, a)


def test_a_full_recluster_honours_people_kept_apart(lib: Library) -> None:
    _two_close_people(lib, 40)  # close enough that the clustering makes them one person
    (one,) = _person_of(lib, "/a")
    assert _person_of(lib, "/b") == {one}
    with lib.session() as s:  # a user's fix: b's faces are another person, not pinned
        other = people_store.create_person(s).id
        ids = {f.id for f in faces_of(lib, one) if "/b" in f.path}
        face_store.set_face_persons(s, dict.fromkeys(ids, other))
        s.commit()
    people_uc.apart(lib, one, other)
    people_uc.recluster(lib, full=True)
    assert _person_of(lib, "/a") == {one} and _person_of(lib, "/b") == {other}
    assert not any(f.pinned for f in faces_of(lib, other))


def test_not_a_face_is_for_good_and_can_be_undone(lib: Library,
                                                  rng: np.random.Generator) -> None:
    from facefold.core.browse import unassigned
    from facefold.core.pipeline import retry_failed
    from facefold.core.reembed import reembed_all
    from facefold.core.reports import status

    _library(lib, rng)
    (p2,) = _person_of(lib, "p2-")
    poster = faces_of(lib, p2)[0]  # a detection the user says is a poster on the wall
    faces_before = status(lib).faces
    people_uc.not_a_face(lib, [poster.id])
    assert poster.path not in {t for links in _links(lib).values() for t in links}
    assert poster.id not in {f.id for f in faces_of(lib, p2)}
    assert poster.id not in {f.id for f in unassigned(lib).rows}  # not a face of nobody either
    assert status(lib).faces == faces_before - 1
    # no recluster, re-embedding or processing the photo again brings it back
    people_uc.recluster(lib, full=True)
    reembed_all(lib)
    with lib.session() as s:  # the photo processed again, as `retry` would after a failure
        s.execute(text("UPDATE images SET status = 'failed', error = 'x' WHERE path = :p"),
                  {"p": poster.path})
        s.commit()
    retry_failed(lib)
    scan(lib)
    with lib.session() as s:
        again = s.execute(text("SELECT f.id, f.not_face, f.person_id FROM faces f JOIN images i "
                               "ON i.id = f.image_id WHERE i.path = :p"),
                          {"p": poster.path}).all()
    assert [(bool(nf), pid) for _f, nf, pid in again] == [(True, None)]
    assert poster.path not in {t for links in _links(lib).values() for t in links}
    # undone: a face again, and the clustering places it
    people_uc.not_a_face(lib, [again[0][0]], undo=True)
    people_uc.recluster(lib, full=True)
    assert poster.path in {t for links in _links(lib).values() for t in links}


def test_undo_gives_a_face_thrown_away_back_to_its_person(lib: Library,
                                                         rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p2,) = _person_of(lib, "p2-")
    face = faces_of(lib, p2)[0]
    people_uc.not_a_face(lib, [face.id])
    assert face.id not in {f.id for f in faces_of(lib, p2)}
    assert people_uc.undo(lib) == f"marking face {face.id} as not a face"
    back = {f.id: f for f in faces_of(lib, p2)}
    assert face.id in back and not back[face.id].not_face
    assert face.path in {t for links in _links(lib).values() for t in links}


def test_undoing_a_merge_brings_back_the_person_with_their_name_and_hidden(
        lib: Library, rng: np.random.Generator) -> None:
    _library(lib, rng)
    (p0,) = _person_of(lib, "p0-")
    (p1,) = _person_of(lib, "p1-")
    people_uc.name(lib, p1, "Bea")
    people_uc.ignore(lib, p1)  # hidden, as a stranger
    people_uc.merge(lib, p0, [p1])
    assert p1 not in {p.id for p in persons(lib)}
    people_uc.undo(lib)
    back = {p.id: p for p in persons(lib)}[p1]
    assert (back.name, back.hidden) == ("Bea", True)
