import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facefold.files import ReadError, iter_photos, read_photo

EXTS = (".jpg", ".png")


def test_iter_photos_skips_hidden_other_types_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ("x.jpg", "a/y.PNG", "a/b/z.jpg", "notes.txt", ".dot.jpg", "a/tmp.jpg~",
                ".hidden/h.jpg"):
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "dir.jpg").mkdir()
    os.symlink(tmp_path / "x.jpg", tmp_path / "link.jpg")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in iter_photos([tmp_path], EXTS))
    assert found == ["a/b/z.jpg", "a/y.PNG", "x.jpg"]


def test_read_photo_hashes_content(tmp_path: Path) -> None:
    p = tmp_path / "p.jpg"
    p.write_bytes(b"abc")
    ph = read_photo(p, 100)
    assert ph.sha256 == hashlib.sha256(b"abc").hexdigest() and ph.size == 3 and ph.data == b"abc"


def test_read_photo_refusals(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="disappeared"):
        read_photo(tmp_path / "gone.jpg", 100)
    (tmp_path / "d.jpg").mkdir()
    with pytest.raises(ReadError, match="not a regular file"):
        read_photo(tmp_path / "d.jpg", 100)
    os.mkfifo(tmp_path / "f.jpg")
    with pytest.raises(ReadError, match="not a regular file"):
        read_photo(tmp_path / "f.jpg", 100)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"0" * 101)
    with pytest.raises(ReadError, match="too large"):
        read_photo(big, 100)


def test_unreadable_file(tmp_path: Path) -> None:
    """Run as a process that permissions apply to: as root, one without the capabilities that
    override them."""
    p = tmp_path / "locked.jpg"
    p.write_bytes(b"x")
    p.chmod(0)
    code = ("import sys; from pathlib import Path; from facefold.files import ReadError, read_photo\n"
            "try:\n    read_photo(Path(sys.argv[1]), 100)\n"
            "except ReadError as e:\n    print(e, e.transient)\n")
    cmd = [sys.executable, "-c", code, str(p)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root reads every file and setpriv is not there to drop that")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "permission denied True", r.stderr


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"secret")
    (tmp_path / "in").mkdir()
    os.symlink(outside, tmp_path / "in" / "link.jpg")
    os.symlink("loop-b.jpg", tmp_path / "in" / "loop-a.jpg")
    os.symlink("loop-a.jpg", tmp_path / "in" / "loop-b.jpg")
    for name in ("link.jpg", "loop-a.jpg"):
        with pytest.raises(ReadError, match="symbolic link"):
            read_photo(tmp_path / "in" / name, 100)


def test_symlinks_are_followed_only_when_configured(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "trip").mkdir(parents=True)
    (elsewhere / "trip" / "a.jpg").write_bytes(b"a")
    (elsewhere / "b.jpg").write_bytes(b"b")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    os.symlink(elsewhere / "trip", inbox / "trip")  # a linked folder
    os.symlink(elsewhere / "b.jpg", inbox / "b.jpg")  # a linked photo
    os.symlink(inbox, inbox / "trip-loop")  # a loop back to the top
    os.symlink(tmp_path / "nowhere.jpg", inbox / "broken.jpg")
    assert list(iter_photos([inbox], EXTS)) == []
    found = sorted(p.relative_to(inbox) for p in iter_photos([inbox], EXTS, follow_symlinks=True))
    assert found == [Path("b.jpg"), Path("trip/a.jpg")]
    assert read_photo(inbox / "b.jpg", 100, follow_symlinks=True).data == b"b"
    with pytest.raises(ReadError, match="broken symbolic link"):
        read_photo(inbox / "broken.jpg", 100, follow_symlinks=True)


def test_a_photo_past_the_path_limit_is_found_and_its_read_says_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import os

    from facefold.files import ReadError, iter_photos, lexists, read_photo

    (tmp_path / "near.jpg").write_bytes(b"x")
    deep = tmp_path
    fd = os.open(tmp_path, os.O_RDONLY)
    try:  # 40 folders of 203 bytes: past PATH_MAX (4096), made relative to each other
        for _ in range(40):
            os.mkdir("d" * 203, dir_fd=fd)
            nxt = os.open("d" * 203, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            deep = deep / ("d" * 203)
        with os.fdopen(os.open("far.jpg", os.O_CREAT | os.O_WRONLY, dir_fd=fd), "wb") as f:
            f.write(b"x")
    finally:
        os.close(fd)
    with caplog.at_level(logging.WARNING, logger="facefold.files"):
        assert [p.name for p in iter_photos([tmp_path], (".jpg",))] == ["near.jpg", "far.jpg"]
        assert list(iter_photos([deep], (".jpg",))) == []  # a root too long to even look at
    assert "longer than the system allows" in caplog.text
    with pytest.raises(ReadError, match="longer than the system allows") as err:
        read_photo(deep / "far.jpg", 100)
    assert not err.value.transient  # recorded failed at once, not retried
    assert lexists(deep / "far.jpg")  # not taken for gone, so not forgotten
    assert not lexists(deep / "gone.jpg") and not lexists(deep / "nowhere" / "far.jpg")
