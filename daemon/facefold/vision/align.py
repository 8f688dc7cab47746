"""Pure geometry: five landmarks → a levelled, FaceNet-style square crop (CROP_SIZE). No model, no I/O."""

from __future__ import annotations

import cv2
import numpy as np

from facefold.vision.shapes import CROP_SIZE

# Where MTCNN's five landmarks (eyes, nose, mouth corners) fall inside MTCNN's own face box, as
# fractions of the box's width and height: the mean over the 5-celebrity photos with mtcnn 1.0.0,
# made left-right symmetric.
# FaceNet was trained on box crops with a margin, so a template built from the box keeps the crops
# the network knows while the similarity fit levels the eyes and uses all five points.
LANDMARKS_IN_BOX = np.array(
    [
        [0.276, 0.384],  # left eye
        [0.724, 0.384],  # right eye
        [0.500, 0.590],  # nose
        [0.303, 0.746],  # mouth, left corner
        [0.697, 0.746],  # mouth, right corner
    ],
    dtype=np.float64,
)
BOX_ASPECT = 0.73  # mean MTCNN box width / height on the same photos


def crop_template(size: int = CROP_SIZE, margin: float = 0.2) -> np.ndarray:
    """Return the five target landmark positions (5, 2) in a `size`² crop with `margin` total margin.

    The crop is a square around a typical MTCNN box of aspect BOX_ASPECT; the box's height plus
    `margin` of it fills the crop.
    """
    box_h = size / (1.0 + margin)
    box_w = box_h * BOX_ASPECT
    x0 = (size - box_w) / 2.0
    y0 = (size - box_h) / 2.0
    return np.column_stack(
        [x0 + LANDMARKS_IN_BOX[:, 0] * box_w, y0 + LANDMARKS_IN_BOX[:, 1] * box_h]
    )


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Return the 2×3 least-squares similarity (rotation, uniform scale, shift) taking src to dst.

    Umeyama's closed form; `src` and `dst` are (N, 2) with N ≥ 2 and src not all one point.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    if var_s <= 1e-12:
        raise ValueError("landmarks are degenerate (all at one point)")
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / var_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align_face(pixels: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE,
               margin: float = 0.2) -> np.ndarray:
    """Given RGB pixels and a face's five landmarks (x, y), return its (size, size, 3) uint8 crop.

    Parts of the crop outside the photo are filled by reflecting the border.
    """
    m = similarity_transform(landmarks, crop_template(size, margin))
    return cv2.warpAffine(pixels, m, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REFLECT_101)
