import numpy as np
import pytest

from facefold.evaluate import bcubed_scores, best_threshold, pairwise_scores, verification
from facefold.people.cluster import NOISE


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
