"""How far a face can be trusted, from what the detector and the crop show: size, the detector's
confidence, sharpness and how frontal it is. Pure: no model, no I/O.

The score is the weakest of four terms, each 0..1, so a user can see which one held a face back
(the parts are stored beside it). Faces below `clustering.min_quality` never found a person;
they may still join one. Scales measured on the 5-celebrity, LFW, Yale and ORL photos (README).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE_RANGE = (20.0, 60.0)  # short side of the box in pixels: 0 at 20 (the smallest kept), 1 from 60
CONFIDENCE_RANGE = (0.7, 0.95)  # MTCNN's score: 0 at 0.7, 1 from 0.95
SHARPNESS_RANGE = (10.0, 100.0)  # variance of the crop's Laplacian (log scale): LFW's median 74
YAW_RANGE = (0.5, 1.2)  # nose offset from the eyes' middle in half eye-distances: 1 up to 0.5,
# 0 from 1.2 (a profile); frontal faces measure ~0.2


@dataclass(frozen=True)
class Quality:
    score: float  # 0..1: the weakest of the four terms below
    sharpness: float  # variance of the Laplacian of the aligned crop, in grey levels²
    yaw: float  # nose offset from the eyes' middle, in half eye-distances (0: frontal)


def _ramp(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))


def yaw_of(landmarks: np.ndarray) -> float:
    """How far the face is turned: |nose x − eyes' middle x| / half the eye distance."""
    left, right, nose = landmarks[0], landmarks[1], landmarks[2]
    half = max(abs(float(right[0] - left[0])) / 2.0, 1e-6)
    return abs(float(nose[0] - (left[0] + right[0]) / 2.0)) / half


def sharpness_of(crop: np.ndarray) -> float:
    """Variance of the Laplacian of an RGB crop in grey: low for blurred or upscaled faces."""
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def face_quality(box: tuple[float, float, float, float], confidence: float,
                 landmarks: np.ndarray, crop: np.ndarray) -> Quality:
    """Given a face's box (full-photo pixels), detector confidence, five landmarks and aligned
    crop, return its quality."""
    sharp = sharpness_of(crop)
    yaw = yaw_of(landmarks)
    terms = (
        _ramp(min(box[2], box[3]), *SIZE_RANGE),
        _ramp(confidence, *CONFIDENCE_RANGE),
        _ramp(np.log10(max(sharp, 1e-6)), np.log10(SHARPNESS_RANGE[0]), np.log10(SHARPNESS_RANGE[1])),
        1.0 - _ramp(yaw, *YAW_RANGE),
    )
    return Quality(round(min(terms), 4), round(sharp, 2), round(yaw, 4))
