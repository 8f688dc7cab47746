import json
import os
import shutil
from pathlib import Path

import pytest

from facefold.people.folders import plan_links, sync_folders


def test_plan_keeps_names_and_disambiguates_collisions() -> None:
    plan = plan_links([
        ("person_0001", "/p/2020/IMG_1.jpg"),
        ("person_0001", "/p/2021/IMG_1.jpg"),
        ("person_0001", "/p/beach.jpg"),
        ("person_0002", "/p/2020/IMG_1.jpg"),
    ])
    assert plan["person_0002"] == {"IMG_1.jpg": "/p/2020/IMG_1.jpg"}
    one = plan["person_0001"]
    assert one["beach.jpg"] == "/p/beach.jpg"
    collided = sorted(k for k in one if k.startswith("IMG_1~"))
    assert len(collided) == 2 and all(k.endswith(".jpg") for k in collided)
    assert sorted(one[k] for k in collided) == ["/p/2020/IMG_1.jpg", "/p/2021/IMG_1.jpg"]
    assert plan == plan_links(reversed([
        ("person_0001", "/p/2020/IMG_1.jpg"), ("person_0001", "/p/2021/IMG_1.jpg"),
        ("person_0001", "/p/beach.jpg"), ("person_0002", "/p/2020/IMG_1.jpg")]))


def _links(folder: Path) -> dict[str, str]:
    return {p.name: os.readlink(p) for p in folder.iterdir() if p.is_symlink()}


def test_sync_creates_updates_and_removes_only_its_own(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "state" / "links.json"
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in ("a.jpg", "b.jpg", "c.jpg"):
        (photos / n).write_bytes(b"x")
    a, b, c = (str(photos / n) for n in ("a.jpg", "b.jpg", "c.jpg"))

    r = sync_folders(people, {"person_0001": {"a.jpg": a, "b.jpg": b}, "person_0002": {"c.jpg": c}},
                     manifest)
    assert r.folders_created == 2 and r.links_created == 3
    assert _links(people / "person_0001") == {"a.jpg": a, "b.jpg": b}

    # foreign things the user put there
    (people / "person_0001" / "notes.txt").write_text("mine")
    os.symlink(c, people / "person_0001" / "my-link.jpg")
    (people / "Holidays").mkdir()

    r = sync_folders(people, {"person_0001": {"a.jpg": a}}, manifest)
    assert r.links_removed == 2 and r.folders_removed == 1
    assert _links(people / "person_0001") == {"a.jpg": a, "my-link.jpg": c}
    assert (people / "person_0001" / "notes.txt").read_text() == "mine"
    assert not (people / "person_0002").exists()
    assert (people / "Holidays").is_dir()
    assert json.loads(manifest.read_text())["folders"] == {"person_0001": ["a.jpg"]}

    # everything gone: the folder with a foreign file stays, with only that file
    sync_folders(people, {}, manifest)
    assert sorted(p.name for p in (people / "person_0001").iterdir()) == ["my-link.jpg", "notes.txt"]


def test_sync_never_overwrites_a_foreign_file_of_the_same_name(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    (people / "person_0001").mkdir(parents=True)
    (people / "person_0001" / "a.jpg").write_text("a real file of the user")
    r = sync_folders(people, {"person_0001": {"a.jpg": "/x/a.jpg"}}, manifest)
    assert r.skipped and (people / "person_0001" / "a.jpg").read_text() == "a real file of the user"


def test_sync_refuses_a_symlinked_person_folder(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    people.mkdir()
    os.symlink(elsewhere, people / "person_0001")
    r = sync_folders(people, {"person_0001": {"a.jpg": "/x/a.jpg"}}, manifest)
    assert r.skipped and list(elsewhere.iterdir()) == []


def test_sync_cleans_up_a_half_built_folder(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    (people / ".facefold-tmp-person_0001").mkdir(parents=True)
    sync_folders(people, {"person_0001": {"a.jpg": "/x/a.jpg"}}, manifest)
    assert sorted(p.name for p in people.iterdir()) == ["person_0001"]


def test_link_retargeted_when_photo_moves(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    sync_folders(people, {"person_0001": {"a.jpg": "/old/a.jpg"}}, manifest)
    r = sync_folders(people, {"person_0001": {"a.jpg": "/new/a.jpg"}}, manifest)
    assert r.links_created == 1 and _links(people / "person_0001") == {"a.jpg": "/new/a.jpg"}


def test_a_planted_tmp_folder_with_foreign_files_is_not_deleted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    planted = people / ".facefold-tmp-person_0002"
    planted.mkdir(parents=True)
    (planted / "precious.txt").write_text("not facefold's")
    os.symlink("/x/old.jpg", planted / "old.jpg")
    sync_folders(people, {"person_0001": {"a.jpg": "/x/a.jpg"}}, manifest)
    assert (planted / "precious.txt").read_text() == "not facefold's"
    assert not os.path.lexists(planted / "old.jpg")
    # and the log says which folder was left, and why
    assert f"{planted} holds files facefold did not make; left alone" in [
        r.getMessage() for r in caplog.records]


def test_a_person_folder_swapped_for_a_symlink_is_never_followed(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    sync_folders(people, {"person_0001": {"a.jpg": "/x/a.jpg"}}, manifest)
    victim = tmp_path / "victim"
    victim.mkdir()
    os.symlink("/x/a.jpg", victim / "a.jpg")  # looks like one of ours
    (victim / "b.txt").write_text("b")
    shutil.rmtree(people / "person_0001")
    os.symlink(victim, people / "person_0001")
    sync_folders(people, {"person_0001": {"c.jpg": "/x/c.jpg"}}, manifest)  # a.jpg is to go
    sync_folders(people, {}, manifest)  # and then the whole person
    assert sorted(p.name for p in victim.iterdir()) == ["a.jpg", "b.txt"]
    assert os.path.islink(people / "person_0001")


def test_link_names_never_collide_even_with_a_photo_named_like_a_tag() -> None:
    a, b = "/p/a/x.jpg", "/p/b/x.jpg"
    first = plan_links([("ana", a), ("ana", b)])["ana"]
    tagged = next(name for name, target in first.items() if target == a)  # x~<tag of a>.jpg
    c = f"/p/c/{tagged}"  # a third photo that happens to carry that very name
    links = plan_links([("ana", a), ("ana", b), ("ana", c)])["ana"]
    assert sorted(links.values()) == sorted([a, b, c])  # three photos, three links
    assert links[tagged] == c  # a photo keeps its own name; the tagged one takes a longer tag


def test_long_names_make_links_that_fit_and_sync(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    long_jp = "顔" * 81 + ".jpg"  # 247 bytes of UTF-8
    long_255 = "n" * 251 + ".jpg"  # the longest a name may be
    rows = []
    for d in ("one", "two"):
        for name in (long_jp, long_255):
            (photos / d).mkdir(parents=True, exist_ok=True)
            (photos / d / name).write_bytes(b"x")
            rows.append(("ana", str(photos / d / name)))
    plan = plan_links(rows)
    assert len(plan["ana"]) == 4 and all(len(n.encode()) <= 255 for n in plan["ana"])
    people = tmp_path / "people"
    sync_folders(people, {"ana": {long_255: rows[1][1]}}, tmp_path / "links.json")
    r = sync_folders(people, plan, tmp_path / "links.json")  # into a folder that exists
    assert r.links_created == 4 and not r.skipped
    assert sorted(_links(people / "ana").values()) == sorted(p for _f, p in rows)


def test_a_folder_planned_empty_stays_and_keeps_foreign_files(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    sync_folders(people, {"Tony": {"a.jpg": str(photo)}}, manifest)
    (people / "Tony" / "notes.txt").write_text("mine")
    r = sync_folders(people, {"Tony": {}}, manifest)  # a named person whose photos are away
    assert r.links_removed == 1 and r.folders_removed == 0
    assert sorted(p.name for p in (people / "Tony").iterdir()) == ["notes.txt"]
    sync_folders(people, {"Ana": {}}, manifest)
    assert (people / "Ana").is_dir()


def test_a_file_of_yours_where_facefolds_link_was_is_never_replaced(tmp_path: Path) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"photo")
    plan = {"person_0001": {"a.jpg": str(photos / "a.jpg")}}
    sync_folders(people, plan, manifest)
    link = people / "person_0001" / "a.jpg"
    assert link.is_symlink()
    link.unlink()  # you put a file of your own where facefold's link was
    link.write_text("an edited copy, yours")
    for again in (plan, {"person_0001": {"a.jpg": str(photos / "moved.jpg")}}):
        r = sync_folders(people, again, manifest)
        assert not link.is_symlink() and link.read_text() == "an edited copy, yours"
        assert r.skipped


def test_a_tagged_link_name_is_as_long_as_fits_and_no_shorter() -> None:
    for stem_len, want in ((242, 255), (241, 254), (300, 255), (301, 255)):
        a, b = f"/p/a/{'s' * stem_len}.jpg", f"/p/b/{'s' * stem_len}.jpg"
        names = plan_links([("ana", a), ("ana", b)])["ana"]
        assert sorted(len(n.encode()) for n in names) == [want, want], stem_len
        assert all(n.startswith("s" * min(stem_len, 200)) for n in names)


def test_a_links_name_stays_when_another_photo_of_that_name_arrives() -> None:
    a, b, c = "/p/2020/IMG_1.jpg", "/p/2021/IMG_1.jpg", "/p/2019/IMG_1.jpg"
    before = plan_links([("ana", a), ("ana", b)])["ana"]
    after = plan_links([("ana", a), ("ana", b), ("ana", c)])["ana"]
    assert {n: t for n, t in after.items() if t != c} == before  # a's and b's names kept


def test_photos_of_one_name_that_is_not_utf8_get_links_of_their_own(tmp_path: Path) -> None:
    name = os.fsdecode(b"f\xeate.jpg")  # a name in Latin-1, as old cameras and disks wrote them
    photos = [tmp_path / "photos" / d / name for d in ("a", "b")]
    for p in photos:
        p.parent.mkdir(parents=True)
        p.write_bytes(b"x")
    plan = plan_links([("ana", str(p)) for p in photos])
    assert sorted(plan["ana"].values()) == sorted(str(p) for p in photos)
    r = sync_folders(tmp_path / "people", plan, tmp_path / "links.json")
    assert r.links_created == 2 and not r.skipped
