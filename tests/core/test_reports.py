"""What people read: status, persons, faces, thumbnails, the review page and contact sheets."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from facefold.core import Library, reports
from facefold.core import people as people_uc
from facefold.core.scan import scan
from facefold.db.people import PeopleError
from facefold.thumbs import THUMB_SIZE, thumb_path
from tests.helpers.browser import chromium
from tests.helpers.data import photos_of
from tests.helpers.fakes import person_photo


def test_status_persons_and_faces(lib: Library, rng: np.random.Generator) -> None:
    for i in range(6):
        person_photo(lib.settings.inbox / f"p{i}.png", i % 2, rng)
    (lib.settings.inbox / "bad.jpg").write_text("no")
    scan(lib)
    st = reports.status(lib)
    assert st.images_by_status == {"queued": 0, "processing": 0, "done": 6, "failed": 1}
    assert (st.faces, st.assigned_faces, st.persons) == (6, 6, 2)
    assert [f.path for f in st.failures] == [str(lib.settings.inbox / "bad.jpg")]
    rows = reports.persons(lib)
    assert sorted((r.faces, r.photos, r.hidden) for r in rows) == [(3, 3, False)] * 2
    faces = reports.faces_of(lib, rows[0].id)
    assert len(faces) == 3 and all(f.person_id == rows[0].id for f in faces)
    with pytest.raises(PeopleError):
        reports.faces_of(lib, 999)


def test_review_page_escapes_names_and_makes_missing_thumbnails(
        lib: Library, rng: np.random.Generator) -> None:
    for i in range(6):
        person_photo(lib.settings.inbox / f"p{i}.png", i % 3, rng)
    scan(lib)
    rows = reports.persons(lib)
    people_uc.name(lib, rows[0].id, "<script>alert('x')</script> & Co")
    face = reports.faces_of(lib, rows[0].id)[0]
    thumb_path(lib.settings.state_dir, face.id).unlink()
    res = reports.review(lib)
    assert thumb_path(lib.settings.state_dir, face.id).exists()
    page = res.path.read_text()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in page
    assert "http://" not in page and "https://" not in page  # nothing from a network
    assert (res.persons, res.faces_shown, res.unassigned_shown) == (3, 6, 0)
    assert len(re.findall(r"<img [^>]*data-face=", page)) == 6
    path, n = reports.sheet(lib, rows[1].id)
    grid = cv2.imread(str(path))
    assert n == 2 and grid is not None and grid.shape[0] >= THUMB_SIZE
    with pytest.raises(PeopleError):
        reports.sheet(lib, 999)


@pytest.mark.browser
def test_review_of_real_photos_in_chromium(real_lib: Library, celebrities: Path,
                                           tmp_path: Path) -> None:
    lib = real_lib
    for person in ("elton_john", "madonna", "jerry_seinfeld"):
        for p in photos_of(celebrities, person)[:5]:
            shutil.copy(p, lib.settings.inbox / f"{person}-{p.name}")
    scan(lib)
    people = [p for p in reports.persons(lib) if p.faces]
    res = reports.review(lib, tmp_path / "review")
    dom = chromium(["--virtual-time-budget=5000", "--dump-dom", res.path.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-500:]
    # three people; two far-off Elton photos may make a fourth folder of their own
    assert len(re.findall(r'<section class="person[^"]*"', dom.stdout)) == len(people) in (3, 4)
    pairs = re.findall(r'<section class="pair".*?</section>', dom.stdout, re.S)
    imgs = re.findall(r"<img [^>]*data-face=", re.sub(r'<section class="pair".*?</section>', "",
                                                      dom.stdout, flags=re.S))
    assert len(imgs) == res.faces_shown + res.unassigned_shown > 0
    assert len(pairs) == len(people_uc.suggestions(lib, reports.SUGGESTIONS_SHOWN))
    shot = tmp_path / "review.png"
    r = chromium(["--window-size=1200,2000", f"--screenshot={shot}", res.path.as_uri()], tmp_path)
    assert r.returncode == 0 and shot.exists(), r.stderr[-500:]
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] == 1200
    assert img[100:400].std() > 20  # the face thumbnails are drawn, not a blank page
    path, n = reports.sheet(lib, people[0].id)
    assert n == people[0].faces and cv2.imread(str(path)) is not None
