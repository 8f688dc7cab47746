"""Pixels → faces ready to embed: detection plus alignment, with the vision models behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facefold.vision.align import CROP_SIZE, align_face
from facefold.vision.detect import Detection, FaceDetector


@dataclass(frozen=True)
class FoundFace:
    detection: Detection
    crop: np.ndarray  # (160, 160, 3) uint8 RGB, aligned


def find_faces(detector: FaceDetector, pixels: np.ndarray, margin: float) -> list[FoundFace]:
    """Given RGB pixels, return every face the detector keeps with its aligned crop."""
    return [
        FoundFace(d, align_face(pixels, d.landmarks, CROP_SIZE, margin))
        for d in detector.detect(pixels)
    ]
