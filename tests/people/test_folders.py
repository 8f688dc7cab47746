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


def test_every_photo_keeps_a_link_when_photos_are_named_like_every_tag() -> None:
    from facefold.people.folders import TAG_SIZES, _tagged

    a, b = "/p/a/x.jpg", "/p/b/x.jpg"
    # a photo named like each tag a/x.jpg could get: it falls back to a counted name
    decoys = [f"/p/c{n}/{_tagged(a, n)}" for n in TAG_SIZES] + \
             [f"/p/d{n}/{_tagged(b, n)}" for n in TAG_SIZES]
    links = plan_links([("ana", p) for p in [a, b, *decoys]])["ana"]
    assert sorted(links.values()) == sorted([a, b, *decoys])  # one link per photo
    assert {links_name for links_name, t in links.items() if t in (a, b)} == \
        {"x~2.jpg", "x~3.jpg"}  # the shortest free counted names, a's first


def test_photos_sharing_a_name_get_links_whatever_other_names_the_folder_has() -> None:
    rows = [("ana", "/p/a.jpg"), ("ana", "/p/1/b.jpg"), ("ana", "/p/2/b.jpg"),
            ("ana", "/p/c.jpg"), ("ana", "/p/1/d.jpg"), ("ana", "/p/2/d.jpg")]
    links = plan_links(rows)["ana"]
    assert sorted(links.values()) == sorted(p for _f, p in rows)
    assert links["a.jpg"] == "/p/a.jpg" and links["c.jpg"] == "/p/c.jpg"


def test_the_link_record_survives_every_name_and_a_fresh_state_folder(tmp_path: Path) -> None:
    """What facefold made is recorded (links.json) and read back, so a link of a photo that
    leaves the person is removed, whatever the photo's name and wherever the record lives."""
    names = ["plain.jpg", os.fsdecode(b"f\xeate.jpg"), "顔.jpg"]
    photos = tmp_path / "photos"
    photos.mkdir()
    for n in names:
        (photos / n).write_bytes(b"x")
    people, manifest = tmp_path / "people", tmp_path / "new" / "state" / "links.json"
    full = {"ana": {n: str(photos / n) for n in names}}
    sync_folders(people, {"ana": {names[0]: full["ana"][names[0]]}}, manifest)  # made
    assert sync_folders(people, full, manifest).links_created == 2  # into the one there
    sync_folders(people, full, manifest)  # kept
    r = sync_folders(people, {"ana": {}}, manifest)
    assert r.links_removed == 3 and list((people / "ana").iterdir()) == []


def test_a_link_record_from_the_release_before_is_read(tmp_path: Path) -> None:
    """Earlier releases wrote names that are not UTF-8 as their raw bytes."""
    name = os.fsdecode(b"f\xeate.jpg")
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    (people / "ana").mkdir(parents=True)
    os.symlink("/photos/x.jpg", people / "ana" / name)
    manifest.write_bytes(b'{"version": 1, "folders": {"ana": ["f\xeate.jpg"]}}')
    r = sync_folders(people, {"ana": {}}, manifest)
    assert r.links_removed == 1 and list((people / "ana").iterdir()) == []


@pytest.mark.parametrize("record", [b"\x00garbage", b"[]", b"{}", b'{"folders": []}'])
def test_an_unreadable_link_record_starts_anew_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, record: bytes) -> None:
    import logging

    people, manifest = tmp_path / "people", tmp_path / "links.json"
    manifest.write_bytes(record)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    with caplog.at_level(logging.WARNING, logger="facefold.people.folders"):
        r = sync_folders(people, {"ana": {"a.jpg": str(photo)}}, manifest)
    assert r.links_created == 1 and os.readlink(people / "ana" / "a.jpg") == str(photo)
    if record == b"\x00garbage":
        assert f"link manifest {manifest} unreadable" in caplog.text
    assert sync_folders(people, {}, manifest).links_removed == 1  # the record is whole again


def test_a_link_the_file_system_refuses_is_left_out_and_said(tmp_path: Path) -> None:
    """A photo whose path is longer than a link may point (PATH_MAX): that link alone is
    left out, with the reason; the other links are made, in a new folder and in one that is
    there."""
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    too_long = "/" + "/".join(["d" * 200] * 25) + "/far.jpg"  # 5,033 bytes
    for made in (1, 0):
        r = sync_folders(people, {"ana": {"a.jpg": str(photo), "far.jpg": too_long}}, manifest)
        assert r.links_created == made
        assert [s.split(": ")[0] for s in r.skipped] == [str(people / "ana" / "far.jpg")]
        assert "cannot be made" in r.skipped[0]
        assert _links(people / "ana") == {"a.jpg": str(photo)}
    assert sync_folders(people, {}, manifest).links_removed == 1


def test_a_full_disk_stops_the_sync_instead_of_leaving_links_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    people, manifest = tmp_path / "people", tmp_path / "links.json"
    sync_folders(people, {"ana": {}}, manifest)

    def full(*_args: object, **_kw: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "symlink", full)
    for plan in ({"ana": {"a.jpg": "/p/a.jpg"}}, {"bo": {"b.jpg": "/p/b.jpg"}}):
        with pytest.raises(OSError, match="No space"):
            sync_folders(people, plan, manifest)


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../b", "a\0b"])
def test_a_folder_or_link_name_that_is_not_one_plain_name_is_refused(
        tmp_path: Path, name: str) -> None:
    people, manifest = tmp_path / "people", tmp_path / "links.json"
    with pytest.raises(ValueError, match="unsafe name"):
        sync_folders(people, {name: {}}, manifest)
    with pytest.raises(ValueError, match="unsafe name"):
        sync_folders(people, {"ana": {name: "/p/a.jpg"}}, manifest)
    assert list(tmp_path.iterdir()) == []  # refused before anything is made


def test_what_is_not_facefolds_is_left_alone_and_the_rest_goes_on(tmp_path: Path) -> None:
    """A file where a person folder would be, a file of yours where a link would be, a person
    folder swapped for a symlink: each is left alone and said so, and every other folder and
    link is still made or removed."""
    people, manifest = tmp_path / "new" / "people", tmp_path / "links.json"
    plan = {p: {"a.jpg": f"/p/{p}/a.jpg", "b.jpg": f"/p/{p}/b.jpg"} for p in "abcd"}
    sync_folders(people, {"c": plan["c"], "d": plan["d"]}, manifest)
    (people / "a").write_text("yours")  # a file where folder a goes
    (people / "b").mkdir()
    (people / "b" / "a.jpg").write_text("yours too")  # where b's first link goes
    elsewhere = tmp_path / "elsewhere"
    (people / "c").rename(elsewhere)
    (people / "c").symlink_to(elsewhere)  # c, now a link to a folder elsewhere
    r = sync_folders(people, {"a": plan["a"], "b": plan["b"]}, manifest)  # c and d leave
    assert sorted(r.skipped) == [f"{people / 'a'}: not a real folder; left alone",
                                 f"{people / 'b' / 'a.jpg'}: exists and is not facefold's; "
                                 "left alone"]
    assert _links(people / "b") == {"b.jpg": "/p/b/b.jpg"}
    assert sorted(os.listdir(elsewhere)) == ["a.jpg", "b.jpg"]  # not followed into
    assert not (people / "d").exists() and r.folders_removed == 1
    r = sync_folders(people, {"e": plan["a"], "f": plan["b"]}, manifest)  # b leaves
    assert r.links_removed == 1 and os.listdir(people / "b") == ["a.jpg"]  # yours stays
    r = sync_folders(people, {}, manifest)
    assert r.folders_removed == 2 and r.links_removed == 4
