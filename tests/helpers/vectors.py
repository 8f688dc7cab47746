"""Synthetic 128-d unit vectors shaped like FaceNet's on real photos, for the clustering tests."""

from __future__ import annotations

import numpy as np

from facefold.vision.shapes import EMBEDDING_DIM as DIM


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def around(rng: np.random.Generator, centre: np.ndarray, n: int, rms: float) -> np.ndarray:
    """`n` unit vectors around `centre` whose pairwise RMS distance is about `rms`."""
    noise = rng.normal(size=(n, DIM)) / np.sqrt(DIM)
    return unit(centre + noise * rms / np.sqrt(2.0 - rms ** 2))


def apart_by(rng: np.random.Generator, centre: np.ndarray, distance: float) -> np.ndarray:
    """A unit vector `distance` (L2) from the unit vector `centre`."""
    other = rng.normal(size=DIM)
    other -= (other @ centre) * centre
    other /= np.linalg.norm(other)
    cos = 1.0 - distance ** 2 / 2.0
    return unit(cos * centre + np.sqrt(1.0 - cos ** 2) * other)


def blobs(rng: np.random.Generator, people: int, per: int,
          rms: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Photos of `people` random people, `per` each, same-person pairwise RMS `rms`."""
    centres = unit(rng.normal(size=(people, DIM)))
    v = np.concatenate([around(rng, c, per, rms) for c in centres])
    return v, np.repeat(np.arange(people), per)

