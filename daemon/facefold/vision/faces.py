"""Pixels → faces ready to embed: detection plus alignment, with the vision models behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facefold.timing import Stopwatch
from facefold.vision.align import CROP_SIZE, align_face
from facefold.vision.detect import Detection, FaceDetector


@dataclass(frozen=True)
class FoundFace:
    detection: Detection
    crop: np.ndarray  # (160, 160, 3) uint8 RGB, aligned


def find_faces(detector: FaceDetector, pixels: np.ndarray, margin: float,
               scale: float = 1.0, stages: Stopwatch | None = None) -> list[FoundFace]:
    """Given RGB pixels, return every face the detector keeps with its aligned crop. Detections
    are reported in full-photo coordinates: pixel coordinates * `scale` (see `Decoded`).
    Time spent is added to `stages` under "detect" and "align"."""
    sw = stages or Stopwatch()
    with sw.stage("detect"):
        found = detector.detect(pixels, scale)
    with sw.stage("align"):
        return [FoundFace(d, align_face(pixels, d.landmarks / scale, CROP_SIZE, margin))
                for d in found]
