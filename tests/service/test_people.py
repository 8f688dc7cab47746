"""People that stay stable and can be managed: real photos, real models, the real store."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from facefold.cli import app
from facefold.config import Settings, load_settings
from facefold.db import store
from facefold.db.engine import make_engine, upgrade_head
from facefold.service.pipeline import process_batch
from facefold.service.recluster import Assigner, sync_people_folders
from facefold.service.reconcile import reconcile
from facefold.service.scan import scan
from tests.conftest import PEOPLE, photos_of, write_config
from tests.service.test_scan import make_collage

pytestmark = pytest.mark.models


def _setup(tmp: Path) -> tuple[Settings, Engine]:
    tmp.mkdir(parents=True, exist_ok=True)
    settings = load_settings(write_config(tmp))
    settings.inbox.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database)
    upgrade_head(engine)
    return settings, engine


def _membership(engine: Engine) -> dict[str, int | None]:
    """photo file name (plus box x) → person id, for every face."""
    with Session(engine) as s:
        rows = s.execute(text("SELECT i.path, f.box_x, f.person_id FROM faces f "
                              "JOIN images i ON i.id = f.image_id")).all()
    return {f"{Path(p).parent.name}/{Path(p).name}@{x:.0f}": pid for p, x, pid in rows}


def pairwise_f1(pred: dict[str, int | None], truth: dict[str, str]) -> float:
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(truth), 2):
        same = truth[a] == truth[b]
        together = pred[a] is not None and pred[a] == pred[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    return 2 * tp / max(2 * tp + fp + fn, 1)


def _copy_all(celebrities: Path, inbox: Path) -> list[Path]:
    out = []
    for person in PEOPLE:
        (inbox / person).mkdir(parents=True, exist_ok=True)
        for split in ("train", "val"):
            for p in photos_of(celebrities, person, split):
                out.append(Path(shutil.copy(p, inbox / person / f"{split}-{p.name}")))
    return out


def test_one_at_a_time_in_random_order_matches_a_batch_scan(tmp_path: Path, celebrities: Path,
                                                           models: object) -> None:
    batch_settings, batch_engine = _setup(tmp_path / "batch")
    _copy_all(celebrities, batch_settings.inbox)
    scan(batch_settings, batch_engine, models)
    batch = _membership(batch_engine)

    settings, engine = _setup(tmp_path / "incremental")
    files = _copy_all(celebrities, settings.inbox)
    assigner = Assigner(settings)
    with Session(engine) as s:
        assigner.load(s)
    deferred: set[str] = set()
    for i in np.random.default_rng(7).permutation(len(files)):
        with Session(engine) as s:  # what the watcher hands on for one settled photo
            store.enqueue(s, [str(files[i])])
            s.commit()
        process_batch(settings, engine, models, 1, deferred)
        with Session(engine) as s:  # what the worker does after each batch, idle since it is alone
            assigner.step(s, idle=True)
            s.commit()
    incremental = _membership(engine)

    assert set(batch) == set(incremental)
    truth = {k: k.split("/")[0] for k in batch}
    f_batch, f_incr = pairwise_f1(batch, truth), pairwise_f1(incremental, truth)
    print(f"pairwise F1: batch {f_batch:.4f}, one at a time {f_incr:.4f}")
    assert f_batch > 0.9
    assert abs(f_batch - f_incr) <= 0.02


def _person_of_photo(engine: Engine, fragment: str) -> set[int]:
    with Session(engine) as s:
        return {pid for pid, _n, path in store.person_photo_rows(s, include_hidden=True)
                if fragment in path}


def test_names_moves_ignores_survive_reclusters(tmp_path: Path, celebrities: Path,
                                               models: object) -> None:
    settings, engine = _setup(tmp_path)
    for person in ("elton_john", "madonna", "ben_afflek"):
        for p in photos_of(celebrities, person)[:6]:
            shutil.copy(p, settings.inbox / f"{person}-{p.name}")
    collage = settings.inbox / "collage.jpg"
    make_collage(photos_of(celebrities, "elton_john", "val")[0],
                 photos_of(celebrities, "madonna", "val")[0], collage)
    scan(settings, engine, models)
    cfg = ["--config", str(settings.source)]
    runner = CliRunner()

    # the collage: two faces, never one person holding both
    with Session(engine) as s:
        img = store.image_by_path(s, str(collage))
        assert img is not None and len(img.faces) == 2
        held = [f.person_id for f in img.faces]
    assert held[0] is None or held[0] != held[1]

    elton = _person_of_photo(engine, "elton_john-")
    assert len(elton) == 1
    eid = elton.pop()
    r = runner.invoke(app, ["name", str(eid), "Elton Hércules John", *cfg])
    assert r.exit_code == 0, r.output
    assert (settings.people / "Elton Hércules John").is_dir()

    # move one madonna face into elton by hand: it stays there through a full recluster
    madonna = _person_of_photo(engine, "madonna-")
    mid = madonna.pop()
    with Session(engine) as s:
        face = next(f for f in store.faces_of(s, mid) if "madonna-" in f.path)
        in_collage = next((f for f in store.faces_of(s, mid) if "collage" in f.path), None)
    if in_collage is not None:  # cannot-link holds for hand moves too
        r = runner.invoke(app, ["move", str(in_collage.id), str(eid), *cfg])
        assert r.exit_code == 1 and "same photo" in r.output
    r = runner.invoke(app, ["move", str(face.id), str(eid), *cfg])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["recluster", "--full", *cfg])
    assert r.exit_code == 0, r.output
    with Session(engine) as s:
        assert any(f.id == face.id and f.pinned for f in store.faces_of(s, eid))
        names = {p.id: p.name for p in store.person_summaries(s)}
    assert names[eid] == "Elton Hércules John"
    links = {os.readlink(x) for x in (settings.people / "Elton Hércules John").iterdir()}
    assert face.path in links and any("elton_john-" in t for t in links)

    # unsafe names never leave the people folder
    r = runner.invoke(app, ["name", str(mid), "../../outside", *cfg])
    assert r.exit_code == 0, r.output
    assert not (tmp_path.parent / "outside").exists() and not (tmp_path / "outside").exists()
    assert all(p.parent == settings.people for p in settings.people.iterdir())
    assert (settings.people / "outside").is_dir()
    r = runner.invoke(app, ["name", str(mid), "\n\t ", *cfg])
    assert r.exit_code == 1 and "visible character" in r.output

    # ignore: the folder goes, and new photos of that person stay out of the folders
    ben = _person_of_photo(engine, "ben_afflek-").pop()
    before = {d.name for d in settings.people.iterdir()}
    r = runner.invoke(app, ["ignore", str(ben), *cfg])
    assert r.exit_code == 0, r.output
    after = {d.name for d in settings.people.iterdir()}
    assert len(before - after) == 1
    for p in photos_of(celebrities, "ben_afflek")[6:10]:
        shutil.copy(p, settings.inbox / f"ben_afflek-late-{p.name}")
    scan(settings, engine, models)
    linked = {os.readlink(x) for d in settings.people.iterdir() for x in d.iterdir()}
    assert not any("ben_afflek-late-" in t for t in linked)
    assert ben in _person_of_photo(engine, "ben_afflek-late-")

    # merge and the persons table
    r = runner.invoke(app, ["persons", "--json", *cfg])
    assert r.exit_code == 0 and '"hidden": true' in r.output
    others = sorted(_person_of_photo(engine, "madonna-") - {eid})
    if others:
        r = runner.invoke(app, ["merge", str(eid), *map(str, others), *cfg])
        assert r.exit_code == 0, r.output
        assert _person_of_photo(engine, "madonna-") == {eid}


def test_folder_sync_follows_a_rename(tmp_path: Path, celebrities: Path, models: object) -> None:
    settings, engine = _setup(tmp_path)
    for p in photos_of(celebrities, "mindy_kaling")[:3]:
        shutil.copy(p, settings.inbox / p.name)
    scan(settings, engine, models)
    with Session(engine) as s:
        pid = store.person_summaries(s)[0].id
        store.name_person(s, pid, "Mindy")
        s.commit()
        sync_people_folders(s, settings)
        assert sorted(d.name for d in settings.people.iterdir()) == ["Mindy"]
        store.name_person(s, pid, "Mindy K.")
        s.commit()
        sync_people_folders(s, settings)
    assert sorted(d.name for d in settings.people.iterdir()) == ["Mindy K"]
    assert reconcile(engine, [settings.inbox], settings.decode.extensions).queued == 0
