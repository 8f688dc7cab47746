from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine

from facefold.db.engine import make_engine, upgrade_head
from facefold.db.faces import NewFace


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    upgrade_head(e)
    yield e
    e.dispose()


def new_face(seed: int) -> NewFace:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return NewFace((1, 2, 30, 40), [[0, 0]] * 5, 0.99, v / np.linalg.norm(v))
