import numpy as np

from facefold.vision.embed import l2_normalise, standardise


def test_standardise_and_normalise() -> None:
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3)).astype(np.uint8)
    s = standardise(x)
    np.testing.assert_allclose(s.reshape(3, -1).mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(s.reshape(3, -1).std(1), 1, atol=1e-4)
    flat = standardise(np.full((1, 4, 4, 3), 7, np.uint8))
    assert np.isfinite(flat).all()  # constant crops do not divide by zero
    v = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(v[0], [0.6, 0.8])
    assert np.isfinite(v).all()
