"""Pixels → faces ready to embed: detection plus alignment, with the face finder behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facefold.vision.align import align_face
from facefold.vision.detect import Detection
from facefold.vision.ports import FaceFinder
from facefold.vision.shapes import CROP_SIZE


@dataclass(frozen=True)
class FoundFace:
    detection: Detection
    crop: np.ndarray  # (CROP_SIZE, CROP_SIZE, 3) uint8 RGB, aligned


def align_all(pixels: np.ndarray, detections: list[Detection], margin: float,
              scale: float = 1.0) -> list[FoundFace]:
    """Given RGB pixels and detections in full-photo coordinates (pixel coordinates * `scale`),
    return each detection with its aligned crop."""
    return [FoundFace(d, align_face(pixels, d.landmarks / scale, CROP_SIZE, margin))
            for d in detections]


def find_faces(finder: FaceFinder, pixels: np.ndarray, margin: float,
               scale: float = 1.0) -> list[FoundFace]:
    """Given RGB pixels, return every face the finder keeps with its aligned crop, in full-photo
    coordinates: pixel coordinates * `scale` (see `Decoded`)."""
    return align_all(pixels, finder.detect(pixels, scale), margin, scale)
