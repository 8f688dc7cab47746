"""Pixel signatures of aligned crops: copies and mirror images alike, other faces not."""

import numpy as np

from facefold.vision.pixels import (
    PIXEL_BYTES,
    pixel_signature,
    pixel_similarity,
    signatures,
)


def _crop(rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return np.kron(base, np.ones((10, 10, 1), np.uint8))  # 160 x 160, blotchy like a face


def test_copies_and_mirror_images_match_other_crops_do_not() -> None:
    rng = np.random.default_rng(0)
    crop, other = _crop(rng), _crop(rng)
    sig = signatures([pixel_signature(crop), pixel_signature(crop[:, ::-1]),
                      pixel_signature(np.clip(crop.astype(int) * 1.05 + 3, 0, 255).astype(np.uint8)),
                      pixel_signature(other), None, b"short"])
    assert sig.shape == (6, PIXEL_BYTES) and sig.dtype == np.uint8
    first = np.repeat(sig[:1], 6, axis=0)
    sim = pixel_similarity(first, sig)
    assert sim[0] > 0.999 and sim[1] > 0.999  # itself, and its mirror image
    assert sim[2] > 0.99  # brighter, re-encoded: the same pattern
    assert sim[3] < 0.5  # someone else
    assert sim[4] == sim[5] == 0.0  # no signature (or a broken one): like nothing
