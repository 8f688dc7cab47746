"""Fine-tuning on real photos, saving and reloading, and switching the weights of a library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from facefold.cli import app
from facefold.config import load_settings
from facefold.db.engine import make_engine
from facefold.evaluate import load_dataset
from facefold.train import (
    TrainOptions,
    forward,
    pk_batches,
    semihard_triplet_loss,
    split_by_person,
    train,
)
from facefold.vision.embed import Embedder
from facefold.vision.facenet import build_facenet
from facefold.vision.weights import load_facenet_weights
from tests.conftest import photos_of, write_config


def test_split_and_batches_are_by_person() -> None:
    labels = np.repeat(np.arange(4), 6)
    tr, va = split_by_person(labels, 0.2, 0)
    assert set(tr) | set(va) == set(range(24)) and not set(tr) & set(va)
    assert all((labels[va] == p).sum() >= 1 for p in range(4))
    rng = np.random.default_rng(0)
    for b in pk_batches(labels[tr], 2, 4, 5, rng):
        assert len(b) == 8 and len(set(labels[tr][b])) == 2


def test_semihard_loss_prefers_the_closest_farther_negative() -> None:
    import tensorflow as tf

    e = np.array([[1, 0], [0.96, 0.28], [0.8, 0.6], [0, 1]], np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    y = np.array([0, 0, 1, 1])
    loss, active = semihard_triplet_loss(tf.constant(e), tf.constant(y), 0.2)
    assert float(loss) > 0 and 0 < float(active) <= 1
    far = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    loss, active = semihard_triplet_loss(tf.constant(far), tf.constant(y), 0.2)
    assert float(loss) == 0 and float(active) == 0


@pytest.mark.models
def test_train_save_reload_and_reembed(tmp_path: Path, celebrities: Path, models: object) -> None:
    settings = load_settings(write_config(tmp_path))
    data = load_dataset(celebrities / "train", models.detector, 0.2, settings.decode.extensions,
                        tmp_path / "cache", settings.decode.max_file_bytes, settings.decode.max_pixels)
    model = build_facenet()
    load_facenet_weights(model, settings.weights_file())
    base = [w.numpy().copy() for w in model.weights]
    out = tmp_path / "models" / "tuned.h5"
    res = train(model, data.crops, data.labels,
                TrainOptions(epochs=2, steps_per_epoch=4, frozen=250, learning_rate=1e-5), out,
                {"base_weights": "pretrained"})
    meta = json.loads(res.metadata.read_text())
    assert meta["best_epoch"] == res.best_epoch and "before" in meta and "after" in meta
    assert meta["options"]["frozen"] == 250 and len(meta["epochs"]) >= 1
    assert res.best_epoch >= 1, "validation d' did not rise on the 5-celebrity photos"
    changed = [not np.array_equal(a, w.numpy()) for a, w in zip(base, model.weights, strict=True)]
    assert any(changed)
    frozen_names = {w.path for layer in model.layers[:250] for w in layer.weights}
    assert not any(c for c, w in zip(changed, model.weights, strict=True) if w.path in frozen_names)
    # the saved file gives the embeddings of the model in memory
    reloaded = Embedder(out, batch_size=16)
    np.testing.assert_allclose(reloaded.embed(data.crops[:20]), forward(model, data.crops[:20]),
                               atol=1e-4)

    # a library embedded with the pretrained weights switches to the tuned ones, names kept
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for person in ("elton_john", "mindy_kaling"):
        for p in photos_of(celebrities, person, "val")[:3]:
            shutil.copy(p, inbox / f"{person}-{p.name}")
    runner = CliRunner()
    cfg = tmp_path / "config.yaml"
    assert runner.invoke(app, ["scan", "--config", str(cfg)]).exit_code == 0
    persons = json.loads(runner.invoke(app, ["persons", "--json", "--config", str(cfg)]).output)
    assert runner.invoke(app, ["name", str(persons[0]["id"]), "First", "--config", str(cfg)]).exit_code == 0
    data_cfg = yaml.safe_load(cfg.read_text())
    data_cfg["embedding"] = {"weights": str(out)}
    cfg.write_text(yaml.safe_dump(data_cfg))
    r = runner.invoke(app, ["reembed", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    engine = make_engine(settings.database)
    with Session(engine) as s:
        weights = {w for (w,) in s.execute(text("SELECT DISTINCT weights FROM faces"))}
        names = {n for (n,) in s.execute(text("SELECT name FROM persons WHERE name IS NOT NULL"))}
    assert weights == {reloaded.weights_id} and names == {"First"}
