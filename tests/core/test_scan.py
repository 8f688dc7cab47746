"""`scan` end to end with the fake models: photos in, a folder per person out."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import text

from facefold.config import load_settings
from facefold.core import Library, Models
from facefold.core.scan import scan
from tests.helpers.data import PEOPLE, data_cache_dir, make_collage, photos_of, write_config
from tests.helpers.fakes import person_photo


def folders(people: Path) -> dict[str, set[str]]:
    """folder name → names of the photos linked in it."""
    return {d.name: {Path(os.readlink(x)).name for x in d.iterdir()}
            for d in people.iterdir() if d.is_dir()}


def test_scan_sorts_people_into_folders(lib: Library, rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    for person in range(3):
        for k in range(4):
            person_photo(inbox / f"p{person}" / f"{k}.png", person, rng)
    person_photo(inbox / "group.png", 0, rng, faces=2)  # persons 0 and 1 together
    res = scan(lib)
    assert (res.photos, res.processed, res.faces, res.failures) == (13, 13, 14, [])
    assert res.recluster is not None and res.recluster.persons == 3
    got = folders(lib.settings.people)
    assert len(got) == 3 and all(name.startswith("person_") for name in got)
    holders = sorted(len(links) for links in got.values())
    assert holders == [4, 5, 5]  # the group photo in two folders
    # a second scan does nothing new
    again = scan(lib)
    assert again.processed == 0 and again.unchanged == 13 and folders(lib.settings.people) == got
    # a deleted photo's links go; a copy is linked beside it without being embedded again
    (inbox / "p2" / "0.png").unlink()
    shutil.copy(inbox / "p1" / "0.png", inbox / "p1-copy.png")
    third = scan(lib)
    assert (third.processed, third.duplicates, third.removed) == (0, 1, 1)
    after = folders(lib.settings.people)
    assert any("p1-copy.png" in links for links in after.values())
    assert sorted(len(links) for links in after.values()) == [3, 5, 6]


def test_one_at_a_time_in_random_order_matches_a_batch_scan(
        settings_factory: object, rng: np.random.Generator) -> None:
    from facefold.core.clusterer import Clusterer
    from facefold.core.inbox import reconcile
    from facefold.core.people import settle
    from facefold.core.pipeline import process_batch
    from tests.core.conftest import membership

    batch, incremental = settings_factory("batch"), settings_factory("one")  # type: ignore[operator]
    files = []
    for person in range(5):
        for k in range(5):
            files.append(f"{person}-{k}.png")
            state = np.random.default_rng(100 * person + k)
            for lib in (batch, incremental):
                person_photo(lib.settings.inbox / files[-1], person, np.random.default_rng(state.integers(1 << 30)))
    scan(batch)
    clusterer = Clusterer(incremental.settings)
    with incremental.session() as s:
        clusterer.load(s)
    for i in rng.permutation(len(files)):
        reconcile(incremental, [incremental.settings.inbox / files[i]])
        process_batch(incremental, 1, set())
        settle(incremental, clusterer, idle=True)
    a, b = membership(batch), membership(incremental)
    assert a.keys() == b.keys() and len(set(a.values())) == 5
    same = {(x, y) for x in a for y in a if a[x] == a[y]}
    assert same == {(x, y) for x in b for y in b if b[x] == b[y]}


# The same on real photos with the real models.

def test_scan_of_real_photos(real_lib: Library, celebrities: Path) -> None:
    lib = real_lib
    inbox = lib.settings.inbox
    for person in PEOPLE:
        (inbox / person).mkdir()
        for p in photos_of(celebrities, person)[:6]:
            shutil.copy(p, inbox / person / p.name)
    make_collage(photos_of(celebrities, "ben_afflek", "val")[0],
                 photos_of(celebrities, "madonna", "val")[0], inbox / "collage.jpg")
    result = scan(lib)
    assert result.photos == 31 and not result.failures
    got = {d.name: [Path(os.readlink(x)) for x in d.iterdir()] for d in lib.settings.people.iterdir()}
    assert len(got) == 5
    placed: dict[str, int] = {}
    with_collage = []
    for links in got.values():
        who = {t.parent.name for t in links if t.name != "collage.jpg"}
        assert len(who) == 1, f"a folder mixes {who}"
        person = who.pop()
        placed[person] = sum(t.name != "collage.jpg" for t in links)
        if any(t.name == "collage.jpg" for t in links):
            with_collage.append(person)
    assert sorted(placed) == sorted(PEOPLE) and sum(placed.values()) >= 0.9 * 30
    assert sorted(with_collage) == ["ben_afflek", "madonna"]
    # new photos of the same people: no new person, every id kept
    before = {name: {t.parent.name for t in links} for name, links in got.items()}
    for person in ("elton_john", "mindy_kaling"):
        for p in photos_of(celebrities, person)[6:9]:
            shutil.copy(p, inbox / person / p.name)
    res = scan(lib)
    assert res.recluster is not None and res.recluster.new_persons == 0
    after = {d.name: {Path(os.readlink(x)).parent.name for x in d.iterdir()}
             for d in lib.settings.people.iterdir()}
    assert before == after


def test_hard_cases_on_real_photos(tmp_path: Path, celebrities: Path, models: Models) -> None:
    """Small faces in large photos and group photos: five people each time, never two in one
    folder. Bursts of near-duplicates of the validation photos: each burst counts as
    one photo, so they are sorted exactly as the photos alone are (there Madonna, whose five
    photos are 0.7-1.25 apart, is two people: bench/quality.py, celeb5-val)."""
    from facefold.core.training import library_membership
    from tests.helpers.hardcases import hard_cases

    sets = {"val": celebrities / "val",
            **hard_cases(celebrities, data_cache_dir() / "hard-cases", models.finder)}
    found = {}
    for name, root in sets.items():
        (tmp_path / name).mkdir()
        lib = Library(load_settings(write_config(tmp_path / name)), models)
        shutil.copytree(root, lib.settings.inbox, ignore=shutil.ignore_patterns(".*"))
        scan(lib)
        with lib.session() as ses:
            faceless = ses.execute(text(
                "SELECT COUNT(*) FROM images i WHERE NOT EXISTS "
                "(SELECT 1 FROM faces f WHERE f.image_id = i.id)")).scalar_one()
        # every photo's face is found (bench/detect.py)
        assert faceless == 0, (name, faceless)
        m = found[name] = library_membership(lib, root)
        print(f"{name}: membership F1 {m.f1:.3f}, {m.folders} folders for {m.identities}")
        assert m.identities == 5 and not m.merges, name
        lib.close()
    small, group = found["small-faces"], found["groups"]
    assert small.folders == 5 and not small.splits and small.f1 >= 0.98
    # one Elton John photo, 1.41 from his others, and its tile shrunk into a group photo (0.47
    # from it, its crop too blurred to be known as a copy) make a sixth folder
    assert group.folders <= 6 and group.f1 >= 0.98
    bursts, alone = found["bursts"], found["val"]
    assert (bursts.f1, bursts.folders) == (alone.f1, alone.folders)


def test_mirrored_copies_count_once_by_their_pixels(tmp_path: Path, celebrities: Path,
                                                    models: Models) -> None:
    """Every 5-celebrity photo and a mirrored, re-encoded copy of it. FaceNet puts a face
    0.16-0.5 from its mirror image, so by FaceNet distance alone the copy is evidence of its own
    and the pair founds extra people; known by their pixels, the two count once."""
    from facefold.core.training import library_membership
    from tests.helpers.data import distinct_photos

    src = tmp_path / "src"
    distinct_photos(celebrities, 236, src)
    scores = {}
    for label, overrides in (("pixels", {}), ("facenet alone",
                                              {"clustering": {"copy_match": 1.01}})):
        (tmp_path / label).mkdir()
        lib = Library(load_settings(write_config(tmp_path / label, **overrides)), models)
        shutil.copytree(src, lib.settings.inbox)
        scan(lib)
        scores[label] = library_membership(lib, src)
        lib.close()
    with_px, alone = scores["pixels"], scores["facenet alone"]
    print(f"mirrored copies: membership F1 {alone.f1:.3f} ({alone.folders} folders) by FaceNet "
          f"alone, {with_px.f1:.3f} ({with_px.folders} folders) with pixels")
    assert not with_px.merges
    assert with_px.folders <= alone.folders - 3 and with_px.f1 >= alone.f1 + 0.03


def test_near_duplicates_of_every_photo_count_once(tmp_path: Path, celebrities: Path,
                                                   models: Models) -> None:
    """The 5-celebrity train photos, each with 4 near-duplicates (shifted, scaled, brighter or
    darker, re-encoded). Known as copies, each photo's five count as one piece of evidence;
    counted as five, a stranger's photo or an odd one of a person founds a folder of its own.
    Copies of one photo joined only when at least half their pairs match keep the photos of a
    session apart; joined through any one matching pair (a chain), they do too, but lose
    nothing here: bench/quality.py measures what the chain costs on sessions (ORL)."""
    from dataclasses import replace

    from facefold.core.clusterer import cluster_params, full_recluster
    from facefold.core.training import library_membership
    from tests.helpers.hardcases import copies

    src = copies(celebrities / "train", tmp_path / "src")
    lib = Library(load_settings(write_config(tmp_path)), models)
    shutil.copytree(src, lib.settings.inbox)
    scan(lib)
    known = library_membership(lib, src)
    with lib.session() as s, s.begin():
        full_recluster(s, replace(cluster_params(lib.settings), copy_similarity=1.01))
    unknown = library_membership(lib, src)
    lib.close()
    print(f"4 near-duplicates of each photo: membership F1 {known.f1:.3f} ({known.folders} "
          f"folders), not known as copies: {unknown.f1:.3f} ({unknown.folders} folders)")
    assert known.identities == 5 and not known.merges
    assert known.folders <= 6 and known.f1 >= 0.95
    assert unknown.folders > known.folders + 2 and unknown.f1 < known.f1 - 0.05
