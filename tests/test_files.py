import hashlib
import os
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "locked.jpg"
    p.write_bytes(b"x")
    p.chmod(0)
    with pytest.raises(ReadError, match="permission denied"):
        read_photo(p, 100)
