"""What the rest of facefold needs from the vision models, as small interfaces.

The real implementations are `detect.FaceDetector` (MTCNN) and `embed.Embedder` (FaceNet); unit
tests fill them with fakes that need no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from facefold.vision.detect import Detection, DetectParams


class FaceFinder(Protocol):
    """Finds faces with five landmarks in RGB pixels."""

    params: DetectParams

    def load(self) -> None:
        """Load the model now (idempotent); it is otherwise loaded on first use."""

    def detect(self, pixels: np.ndarray, scale: float = 1.0) -> list[Detection]:
        """Given (H, W, 3) uint8 RGB pixels, return the faces found, left to right, in full-photo
        coordinates: pixel coordinates * `scale`."""
        ...


class FaceEmbedder(Protocol):
    """Maps aligned face crops to unit vectors; `weights_id` names the weights that made them."""

    weights_id: str

    def load(self) -> None:
        """Load the model now (idempotent); raise `WeightsError` when the weights are unusable."""

    def embed(self, crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Given N (CROP_SIZE, CROP_SIZE, 3) uint8 RGB crops, return (N, EMBEDDING_DIM) float32
        unit vectors."""
        ...
