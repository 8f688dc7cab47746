"""The review page and contact sheets, on real photos, looked at in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest
from sqlalchemy.orm import Session

from facefold.config import load_settings
from facefold.db import store
from facefold.db.engine import make_engine, upgrade_head
from facefold.review import write_review, write_sheet
from facefold.service.scan import scan
from facefold.thumbs import THUMB_SIZE, thumb_path
from tests.conftest import photos_of, write_config

pytestmark = pytest.mark.models


def find_chromium() -> str:
    """Debian's chromium, installed here when missing; skip with the reason where it cannot be."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        r = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True,
                           text=True, env=env, timeout=900)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
            r = subprocess.run(["apt-get", "install", "-y", "-q", "chromium"],
                               capture_output=True, text=True, env=env, timeout=900)
        if path := shutil.which("chromium"):
            return path
        pytest.skip(f"chromium could not be installed: {r.stderr.strip()[-200:]}")
    pytest.skip("chromium is not installed and this user cannot install it")


def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    exe = find_chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chromium-profile'}"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=180)


def test_review_page_and_sheet(tmp_path: Path, celebrities: Path, models: object) -> None:
    settings = load_settings(write_config(tmp_path))
    settings.inbox.mkdir()
    for person in ("elton_john", "madonna", "jerry_seinfeld"):
        for p in photos_of(celebrities, person)[:5]:
            shutil.copy(p, settings.inbox / f"{person}-{p.name}")
    engine = make_engine(settings.database)
    upgrade_head(engine)
    scan(settings, engine, models)
    with Session(engine) as s:
        people = [p for p in store.person_summaries(s) if p.faces]
        faces = store.review_faces(s, 100, 100)
        store.name_person(s, people[0].id, "<script>alert('x')</script> & Co")
        s.commit()
    # a thumbnail per stored face, made when it was stored
    for f in faces:
        assert thumb_path(settings.state_dir, f.id).exists()
    # a missing one is made again from the photo
    thumb_path(settings.state_dir, faces[0].id).unlink()

    out = tmp_path / "review"
    with Session(engine) as s:
        res = write_review(s, settings, out)
    assert thumb_path(settings.state_dir, faces[0].id).exists()
    page = res.path.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in page
    assert "http://" not in page and "https://" not in page  # nothing from a network
    assert res.persons == len(people)

    dom = chromium(["--virtual-time-budget=5000", "--dump-dom", res.path.as_uri()], tmp_path)
    assert dom.returncode == 0, dom.stderr[-500:]
    sections = re.findall(r'<section class="person[^"]*"', dom.stdout)
    imgs = re.findall(r"<img [^>]*data-face=", dom.stdout)
    assert len(sections) == len(people)
    assert len(imgs) == res.faces_shown + res.unassigned_shown > 0
    assert "<script>alert" not in dom.stdout  # the name is text in the rendered page too

    shot = tmp_path / "review.png"
    r = chromium(["--window-size=1200,2000", f"--screenshot={shot}", res.path.as_uri()], tmp_path)
    assert r.returncode == 0 and shot.exists(), r.stderr[-500:]
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[1] == 1200
    # the face thumbnails are drawn: the area under the first row is not a blank page
    assert img[100:400].std() > 20

    sheet = tmp_path / "sheet.png"
    with Session(engine) as s:
        n = write_sheet(s, settings, people[0].id, sheet)
    grid = cv2.imread(str(sheet))
    assert n == people[0].faces and grid is not None and grid.shape[0] >= THUMB_SIZE
