import numpy as np
import pytest

from facefold.vision.align import (
    CROP_SIZE,
    LANDMARKS_IN_BOX,
    align_face,
    crop_template,
    similarity_transform,
)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def test_similarity_recovers_a_known_transform(rng: np.random.Generator) -> None:
    src = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = 0.4, 1.7, np.array([12.0, -3.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(_apply(m, src), dst, atol=1e-9)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)


def test_similarity_never_mirrors() -> None:
    src = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)
    dst = src * [-1, 1]  # a mirror image: the best similarity must still be a rotation
    m = similarity_transform(src, dst)
    assert np.linalg.det(m[:, :2]) > 0


def test_degenerate_landmarks_raise() -> None:
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), crop_template())


def test_template_is_symmetric_and_inside_the_crop() -> None:
    t = crop_template(CROP_SIZE, 0.2)
    assert np.all((t > 0) & (t < CROP_SIZE))
    np.testing.assert_allclose(t[0, 0] + t[1, 0], CROP_SIZE, atol=1e-9)  # eyes mirror
    np.testing.assert_allclose(t[0, 1], t[1, 1])  # eyes level
    assert LANDMARKS_IN_BOX.shape == (5, 2)
    # more margin: the face gets smaller in the crop
    assert np.ptp(crop_template(CROP_SIZE, 0.4)[:, 0]) < np.ptp(t[:, 0])


def test_align_levels_a_tilted_face() -> None:
    # Draw the template landmarks as dots, rotate the picture, and align it back.
    img = np.zeros((400, 400, 3), np.uint8)
    pts = crop_template(CROP_SIZE, 0.2) * 1.5 + 80
    for x, y in pts:
        img[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4] = 255
    angle = np.deg2rad(25)
    c = np.array([200.0, 200.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    import cv2

    m = np.hstack([rot, (c - rot @ c)[:, None]])
    tilted = cv2.warpAffine(img, m, (400, 400))
    crop = align_face(tilted, _apply(m, pts), CROP_SIZE, 0.2)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    for x, y in crop_template(CROP_SIZE, 0.2):
        assert crop[int(round(y)), int(round(x))].max() > 100
