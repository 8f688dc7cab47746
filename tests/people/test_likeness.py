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


def test_runs_and_single_faces_in_the_order_a_person_acts_on_them() -> None:
    """The closest pair of a run is its closeness (a run joined from two: the closer one);
    single faces follow, those with the nearest neighbour first, even when it is too far to
    join; the first face (position 0) joins like any other."""
    rng = np.random.default_rng(2)
    a, b = unit(rng.normal(size=128)), unit(rng.normal(size=128))
    pair_a = _around(a, 2, 0.01, rng)  # ~0.14 apart
    pair_b = _around(a + 0.3 * b, 2, 0.015, rng)
    far = unit(rng.normal(size=128))
    near_far = unit(far + rng.normal(size=128) * 0.2)  # a near neighbour, in its own photo
    loner = unit(rng.normal(size=128))
    vectors = np.concatenate([pair_a, pair_b, [far, near_far, loner]]).astype(np.float32)
    photos = np.array([0, 1, 2, 3, 4, 4, 5])  # far and near_far share a photo: never one run
    d = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    runs = alike_runs(vectors, photos, max_distance=float(d[0, 2]) + 0.05)
    assert set(runs[0].members) == {0, 1, 2, 3} and 0 in runs[0].members
    assert runs[0].closest is not None
    assert abs(runs[0].closest - min(d[0, 1], d[2, 3])) < 1e-5
    assert [r.members for r in runs[1:]] == [(4,), (5,), (6,)] or \
        [r.members for r in runs[1:]] == [(5,), (4,), (6,)]
    assert [r.closest for r in runs[1:]] == [None, None, None]


def test_single_faces_by_their_nearest_neighbour() -> None:
    rng = np.random.default_rng(3)
    base = unit(rng.normal(size=128))
    # one photo each, all too far to join, but some nearer their neighbours than others
    spreads = [0.02, 0.3, 0.6, 0.1]  # the first face is the others' nearest
    vectors = np.stack([unit(base + rng.normal(size=128) * s) for s in spreads]).astype(
        np.float32)
    d = np.linalg.norm(vectors[:, None] - vectors[None], axis=2) + np.eye(4) * 9
    runs = alike_runs(vectors, np.arange(4), max_distance=0.01)
    order = [r.members[0] for r in runs]
    assert [round(float(d[i].min()), 6) for i in order] == \
        sorted(round(float(d[i].min()), 6) for i in range(4))
