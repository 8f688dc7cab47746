import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facefold.cli import app
from facefold.evaluate import bcubed_scores, best_threshold, pairwise_scores, verification
from facefold.people.cluster import NOISE
from tests.conftest import photos_of, write_config


def test_best_threshold_separates_when_it_can() -> None:
    dist = np.array([0.2, 0.5, 0.9, 1.3, 1.4])
    same = np.array([True, True, True, False, False])
    cut, acc = best_threshold(dist, same)
    assert acc == 1.0 and 0.9 < cut < 1.3
    cut, acc = best_threshold(np.array([1.0, 0.5]), np.array([True, False]))
    assert acc == 0.5


def test_verification_on_separable_vectors() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    labels = np.repeat(np.arange(4), 6)
    v = centres[labels] + rng.normal(size=(24, 16)) * 0.05
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    acc, std, cut = verification(v.astype(np.float32), labels)
    assert acc == 1.0 and std == 0.0 and 0 < cut < 2


def test_cluster_scores() -> None:
    truth = np.array([0, 0, 0, 1, 1])
    assert pairwise_scores(truth.copy(), truth) == (1.0, 1.0, 1.0)
    assert bcubed_scores(truth.copy(), truth) == (1.0, 1.0, 1.0)
    split = np.array([0, 0, 1, 2, 2])
    p, r, f = pairwise_scores(split, truth)
    assert p == 1.0 and r == pytest.approx(2 / 4)
    bp, br, _ = bcubed_scores(split, truth)
    assert bp == 1.0 and br == pytest.approx((2 / 3 * 2 + 1 / 3 + 1 + 1) / 5)
    noise = np.array([0, 0, NOISE, 1, 1])
    assert pairwise_scores(noise, truth)[0] == 1.0
    assert bcubed_scores(noise, truth)[0] == 1.0  # a noise face is alone, so it is pure


@pytest.mark.models
def test_evaluate_and_identify_on_real_photos(tmp_path: Path, celebrities: Path) -> None:
    cfg = write_config(tmp_path)
    runner = CliRunner()
    r = runner.invoke(app, ["evaluate", str(celebrities / "val"), "--json", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output.strip().splitlines()[-1])
    assert got["people"] == 5 and got["faces"] >= 20
    assert got["verification_accuracy"] > 0.9 and 0.8 < got["threshold"] < 1.5
    assert got["pairwise_f1"] > 0.8 and got["bcubed_f1"] > 0.8 and got["unassigned"] <= 5
    # a second run finds the crops in the cache
    assert list((tmp_path / "state" / "datasets").glob("crops-*.npz"))

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in photos_of(celebrities, "jerry_seinfeld")[:5]:
        shutil.copy(p, inbox / p.name)
    assert runner.invoke(app, ["scan", "--config", str(cfg)]).exit_code == 0
    persons = json.loads(runner.invoke(app, ["persons", "--json", "--config", str(cfg)]).output)
    assert len(persons) == 1
    assert runner.invoke(app, ["name", str(persons[0]["id"]), "Jerry", "--config", str(cfg)]).exit_code == 0
    held_out = photos_of(celebrities, "jerry_seinfeld", "val")[0]
    stranger = photos_of(celebrities, "madonna", "val")[0]
    r = runner.invoke(app, ["identify", str(held_out), str(stranger), "--json", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    seen = json.loads(r.output.strip().splitlines()[-1])
    jerry = [m for m in seen if m["photo"] == str(held_out)]
    other = [m for m in seen if m["photo"] == str(stranger)]
    assert jerry and jerry[0]["name"] == "Jerry" and jerry[0]["distance"] < 1.0
    assert other and all(m["name"] == "unknown" for m in other)
    # the daemon's rule: a new photo of a named person goes straight into that person's folder
    shutil.copy(held_out, inbox / "new-jerry.jpg")
    assert runner.invoke(app, ["scan", "--config", str(cfg)]).exit_code == 0
    assert (tmp_path / "people" / "Jerry" / "new-jerry.jpg").is_symlink()
