"""Your own model on real photos: evaluate a labelled folder, fine-tune, switch the library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from facefold.config import load_settings
from facefold.core import Library, Models
from facefold.core import people as people_uc
from facefold.core.reembed import reembed_all
from facefold.core.reports import persons
from facefold.core.scan import scan
from facefold.core.training import DatasetError, evaluate_weights, fine_tune, load_dataset
from facefold.train import TrainOptions
from facefold.vision.embed import Embedder
from tests.helpers.data import photos_of, write_config


def test_a_folder_without_people_is_refused(lib: Library, tmp_path: Path) -> None:
    (tmp_path / "set" / "only-one").mkdir(parents=True)
    with pytest.raises(DatasetError, match="a folder per person"):
        load_dataset(lib, tmp_path / "set")


def test_evaluate_on_real_photos(real_lib: Library, celebrities: Path) -> None:
    (got,) = evaluate_weights(real_lib, celebrities / "val", [None])
    assert got.people == 5 and got.faces >= 20
    assert got.verification_accuracy > 0.9 and 0.8 < got.threshold < 1.5
    assert got.pairwise_f1 > 0.8 and got.bcubed_f1 > 0.8 and got.unassigned <= 5
    assert list((real_lib.settings.state_dir / "datasets").glob("crops-*.npz"))  # cached


def test_train_save_reload_and_reembed(tmp_path: Path, celebrities: Path, models: Models) -> None:
    settings = load_settings(write_config(tmp_path))
    trainee = Embedder(settings.weights_file(), batch_size=16)  # not the session's shared one
    lib = Library(settings, Models(models.finder, trainee))
    base = [w.numpy().copy() for w in trainee.model.weights]
    res = fine_tune(lib, celebrities / "train",
                    TrainOptions(epochs=2, steps_per_epoch=4, frozen=250, learning_rate=1e-5))
    meta = json.loads(res.metadata.read_text())
    assert meta["best_epoch"] == res.best_epoch and "before" in meta and "after" in meta
    assert meta["options"]["frozen"] == 250 and meta["dataset_people"] == 5
    assert res.best_epoch >= 1, "validation d' did not rise on the 5-celebrity photos"
    model = trainee.model
    changed = [not np.array_equal(a, w.numpy()) for a, w in zip(base, model.weights, strict=True)]
    assert any(changed)
    frozen_names = {w.path for layer in model.layers[:250] for w in layer.weights}
    assert not any(c for c, w in zip(changed, model.weights, strict=True) if w.path in frozen_names)
    # the saved file gives the embeddings of the network in memory
    reloaded = Embedder(res.weights, batch_size=16)
    crops = load_dataset(lib, celebrities / "train").crops[:20]
    np.testing.assert_allclose(reloaded.embed(crops), trainee.embed(crops), atol=1e-4)

    # a library embedded with the pretrained weights switches to the tuned ones, names kept
    library = Library(settings, models)
    settings.inbox.mkdir()
    for person in ("elton_john", "mindy_kaling"):
        for p in photos_of(celebrities, person, "val")[:3]:
            shutil.copy(p, settings.inbox / f"{person}-{p.name}")
    scan(library)
    people_uc.name(library, persons(library)[0].id, "First")
    tuned = settings.model_copy(update={"embedding": settings.embedding.model_copy(
        update={"weights": str(res.weights)})})
    switched = Library(tuned, Models(models.finder, reloaded))
    reembed_all(switched)
    with switched.session() as s:
        weights = {w for (w,) in s.execute(text("SELECT DISTINCT weights FROM faces"))}
        names = {n for (n,) in s.execute(text("SELECT name FROM persons WHERE name IS NOT NULL"))}
    assert weights == {reloaded.weights_id} and names == {"First"}
