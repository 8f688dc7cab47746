"""The pure parts of fine-tuning: splits and batches by person, the triplet loss."""

from __future__ import annotations

import numpy as np
import pytest

from facefold.train import pk_batches, semihard_triplet_loss, split_by_person


def test_split_and_batches_are_by_person() -> None:
    labels = np.repeat(np.arange(4), 6)
    tr, va = split_by_person(labels, 0.2, 0)
    assert set(tr) | set(va) == set(range(24)) and not set(tr) & set(va)
    assert all((labels[va] == p).sum() >= 1 for p in range(4))
    rng = np.random.default_rng(0)
    for b in pk_batches(labels[tr], 2, 4, 5, rng):
        assert len(b) == 8 and len(set(labels[tr][b])) == 2


@pytest.mark.models  # TensorFlow, not the weights
def test_semihard_loss_prefers_the_closest_farther_negative() -> None:
    from facefold.vision.runtime import import_tensorflow

    tf = import_tensorflow()

    e = np.array([[1, 0], [0.96, 0.28], [0.8, 0.6], [0, 1]], np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    y = np.array([0, 0, 1, 1])
    loss, active = semihard_triplet_loss(tf.constant(e), tf.constant(y), 0.2)
    # by the definition, pair by pair: the negative is the closest one farther than the
    # positive (the farthest when none is farther)
    d = np.maximum(2 - 2 * e @ e.T, 0)
    losses = []
    for a in range(4):
        for p in range(4):
            if a != p and y[a] == y[p]:
                negs = [d[a, n] for n in range(4) if y[n] != y[a]]
                farther = [x for x in negs if x > d[a, p]]
                neg = min(farther) if farther else max(negs)
                losses.append(max(d[a, p] - neg + 0.2, 0.0))
    assert float(loss) == pytest.approx(np.mean(losses), abs=1e-5)
    assert float(active) == pytest.approx(np.mean(np.array(losses) > 0)) == 0.5
    far = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], np.float32)
    loss, active = semihard_triplet_loss(tf.constant(far), tf.constant(y), 0.2)
    assert float(loss) == 0 and float(active) == 0
