import numpy as np

from facefold.people.likeness import alike_runs
from tests.helpers.vectors import unit


def _around(centre: np.ndarray, n: int, spread: float, rng: np.random.Generator) -> np.ndarray:
    return np.stack([unit(centre + rng.normal(size=centre.shape) * spread) for _ in range(n)])


def test_a_persons_faces_come_together_the_tightest_run_first() -> None:
    rng = np.random.default_rng(0)
    a, b = unit(rng.normal(size=128)), unit(rng.normal(size=128))
    loose = _around(a, 3, 0.05, rng)  # one person, faces ~0.6 apart
    tight = _around(b, 2, 0.02, rng)  # another, faces ~0.25 apart
    strangers = np.stack([unit(rng.normal(size=128)) for _ in range(4)])  # ~1.4 from all
    vectors = np.concatenate([strangers[:2], loose, strangers[2:], tight]).astype(np.float32)
    runs = alike_runs(vectors, np.arange(len(vectors)), max_distance=0.85)
    assert [set(r.members) for r in runs[:2]] == [{7, 8}, {2, 3, 4}]
    assert runs[0].closest is not None and runs[1].closest is not None
    assert runs[0].closest < runs[1].closest
    assert sorted(m for r in runs[2:] for m in r.members) == [0, 1, 5, 6]
    assert all(len(r.members) == 1 and r.closest is None for r in runs[2:])


def test_two_faces_of_one_photo_never_share_a_run() -> None:
    rng = np.random.default_rng(1)
    a = unit(rng.normal(size=128))
    vectors = _around(a, 3, 0.02, rng).astype(np.float32)
    runs = alike_runs(vectors, np.array([10, 10, 11]), max_distance=0.85)
    assert not any({0, 1} <= set(r.members) for r in runs)
    assert sorted(len(r.members) for r in runs) == [1, 2]


def test_nothing_to_order() -> None:
    assert alike_runs(np.zeros((0, 128), np.float32), np.zeros(0, np.int64), 0.85) == []
    one = alike_runs(np.ones((1, 128), np.float32) / np.sqrt(128), np.zeros(1, np.int64), 0.85)
    assert [r.members for r in one] == [(0,)]
