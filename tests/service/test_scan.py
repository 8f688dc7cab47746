"""`facefold scan` end to end: real photos, the real models, a real SQLite file and real symlinks."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy.orm import Session

from facefold.config import Settings, load_settings
from facefold.db import store
from facefold.db.engine import make_engine, upgrade_head
from facefold.service.scan import scan
from tests.conftest import PEOPLE, photos_of, write_config

pytestmark = pytest.mark.models
CLI = [sys.executable, "-m", "facefold.cli"]


def make_collage(left: Path, right: Path, out: Path) -> None:
    a, b = cv2.imread(str(left)), cv2.imread(str(right))
    h = 300
    a = cv2.resize(a, (round(a.shape[1] * h / a.shape[0]), h))
    b = cv2.resize(b, (round(b.shape[1] * h / b.shape[0]), h))
    cv2.imwrite(str(out), np.hstack([a, b]))


def person_of(link: Path) -> str:
    return Path(os.readlink(link)).parent.name


def folders(people: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(d.iterdir()) for d in sorted(people.iterdir()) if d.is_dir()}


@pytest.fixture
def library(tmp_path: Path, celebrities: Path) -> tuple[Settings, Path]:
    """An inbox of 5 people × 6 photos in a folder each, plus a collage of two of them."""
    settings = load_settings(write_config(tmp_path))
    for person in PEOPLE:
        (settings.inbox / person).mkdir(parents=True)
        for p in photos_of(celebrities, person)[:6]:
            shutil.copy(p, settings.inbox / person / p.name)
    collage = settings.inbox / "collage.jpg"
    make_collage(photos_of(celebrities, "ben_afflek", "val")[0],
                 photos_of(celebrities, "madonna", "val")[0], collage)
    return settings, collage


def test_scan_sorts_people_into_folders(library: tuple[Settings, Path], models: object) -> None:
    settings, collage = library
    engine = make_engine(settings.database)
    upgrade_head(engine)
    result = scan(settings, engine, models)
    assert result.photos == 31 and not result.failures
    got = folders(settings.people)
    assert len(got) == 5, got
    placed: Counter[str] = Counter()
    holders_of_collage = []
    for name, links in got.items():
        assert name.startswith("person_")
        who = {person_of(lnk) for lnk in links if lnk.name != "collage.jpg"}
        assert len(who) == 1, f"{name} mixes {who}"  # no folder mixes two people
        placed[who.pop()] += sum(1 for lnk in links if lnk.name != "collage.jpg")
        if any(lnk.name == "collage.jpg" for lnk in links):
            holders_of_collage.append(person_of(next(lnk for lnk in links if lnk.name != "collage.jpg")))
    assert sorted(placed) == sorted(PEOPLE)  # one folder per person
    assert sum(placed.values()) >= 0.9 * 30
    assert sorted(holders_of_collage) == ["ben_afflek", "madonna"]
    for links in got.values():
        for lnk in links:
            assert lnk.is_symlink() and Path(os.readlink(lnk)).is_absolute() and lnk.resolve().exists()

    # a second scan does nothing new
    again = scan(settings, engine, models)
    assert again.processed == 0 and again.unchanged == 31 and folders(settings.people) == got

    # changed content is processed again, a copy is not, a deleted photo's links go
    victim = sorted((settings.inbox / "madonna").iterdir())[0]
    img = cv2.imread(str(victim))
    cv2.imwrite(str(victim), cv2.flip(img, 1))
    shutil.copy(settings.inbox / "ben_afflek" / sorted(os.listdir(settings.inbox / "ben_afflek"))[0],
                settings.inbox / "copy-of-ben.jpg")
    gone = sorted((settings.inbox / "jerry_seinfeld").iterdir())[0]
    gone.unlink()
    third = scan(settings, engine, models)
    assert third.processed == 1 and third.duplicates == 1 and third.removed == 1
    everything = [lnk for links in folders(settings.people).values() for lnk in links]
    assert not any(os.readlink(lnk) == str(gone) for lnk in everything)
    copy = next(lnk for lnk in everything if lnk.name == "copy-of-ben.jpg")
    neighbours = {person_of(x) for x in copy.parent.iterdir()
                  if x.name not in ("collage.jpg", "copy-of-ben.jpg")}
    assert neighbours == {"ben_afflek"}
    with Session(engine) as s:
        st = store.status_summary(s)
    assert st.images_by_status["done"] == 31 and st.images_by_status["failed"] == 0


def test_person_ids_survive_a_rescan_with_new_photos(tmp_path: Path, celebrities: Path,
                                                     models: object) -> None:
    settings = load_settings(write_config(tmp_path))
    settings.inbox.mkdir()
    for person in ("elton_john", "mindy_kaling"):
        for p in photos_of(celebrities, person)[:4]:
            shutil.copy(p, settings.inbox / f"{person}-{p.name}")
    engine = make_engine(settings.database)
    upgrade_head(engine)
    scan(settings, engine, models)
    before = {name: {person_of(lnk) for lnk in links} for name, links in folders(settings.people).items()}
    for person in ("elton_john", "mindy_kaling"):
        for p in photos_of(celebrities, person)[4:7]:
            shutil.copy(p, settings.inbox / f"{person}-{p.name}")
    res = scan(settings, engine, models)
    after = {name: {person_of(lnk) for lnk in links} for name, links in folders(settings.people).items()}
    assert res.recluster is not None and res.recluster.new_persons == 0
    assert before == after


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def test_cli_scan_persons_status_and_failures(tmp_path: Path, celebrities: Path) -> None:
    cfg = write_config(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in photos_of(celebrities, "mindy_kaling")[:3]:
        shutil.copy(p, inbox / p.name)
    (inbox / "broken.jpg").write_text("this is not a photo")
    r = _run(["scan", "--config", str(cfg)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "scan: 4 photos" in r.stdout and "1 failed" in r.stdout
    assert "broken.jpg: not an image" in r.stderr
    people = json.loads(_run(["persons", "--json", "--config", str(cfg)], tmp_path).stdout)
    assert len(people) == 1 and people[0]["faces"] == 3 and people[0]["photos"] == 3
    assert set(people[0]) == {"id", "name", "faces", "photos", "hidden"}
    st = json.loads(_run(["status", "--json", "--config", str(cfg)], tmp_path).stdout)
    assert st["images_by_status"]["done"] == 3 and st["images_by_status"]["failed"] == 1
    assert st["failures"][0]["path"].endswith("broken.jpg")


def test_cli_encode_writes_the_original_pickle(tmp_path: Path, celebrities: Path) -> None:
    imgs = photos_of(celebrities, "elton_john")[:3] + photos_of(celebrities, "jerry_seinfeld")[:3]
    out = tmp_path / "enc" / "faces.pkl"
    r = _run(["encode", *map(str, imgs), str(out), "--config", str(write_config(tmp_path))], tmp_path)
    assert r.returncode == 0, r.stderr
    with out.open("rb") as f:
        data = pickle.load(f)  # our own output, written a line above
    emb, paths = data["embeddings"], data["paths"]
    assert emb.shape == (len(paths), 128) and data["boxes"].shape == (len(paths), 4)
    who = np.array([Path(p).parent.name for p in paths])
    d = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    iu = np.triu_indices(len(emb), 1)
    same = (who[:, None] == who[None])[iu]
    assert d[iu][same].max() < d[iu][~same].min()


def test_cli_bad_config_lists_every_error(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("detection:\n  min_confidence: 7\nclustering:\n  min_samples: 0\nbogus: 1\n")
    r = _run(["status", "--config", str(cfg)], tmp_path)
    assert r.returncode == 2
    for key in ("detection.min_confidence", "clustering.min_samples", "bogus"):
        assert key in r.stderr
