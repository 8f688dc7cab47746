"""Fakes of the two vision ports, for tests of pure logic: no TensorFlow, milliseconds a photo.

A fake photo (`paint`) is a mid-grey canvas, blotched, with solid squares on it, one square per face; the
square's colour is who it is. `FakeFinder` finds the squares (boxes and five landmarks placed
where MTCNN puts them); `FakeEmbedder` turns the colour in the middle of an aligned crop into a
unit vector with random Fourier features, so colours a few levels apart are close (the same
person in another photo) and colours far apart are far (another person), much as FaceNet's
vectors behave on real faces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facefold.vision.align import LANDMARKS_IN_BOX
from facefold.vision.detect import Detection, DetectParams
from facefold.vision.embed import l2_normalise
from facefold.vision.shapes import CROP_SIZE, EMBEDDING_DIM

BACKGROUND = 128  # grey level of the canvas
FACE_THRESHOLD = 50  # a pixel this far from the background (any channel) belongs to a face
COLOUR_SCALE = 40.0  # colour distance at which two faces stop looking alike (the kernel's width)
JITTER = 15  # colour jitter between photos of one person: distances median 0.48, 95% under 0.76
# and 3% past 0.8 (pair_distance), as between real photos of one person (ORL 0.45); closer than
# 0.3 is near-identical

# Colours of different people: every pair at least ~180 apart, so never confused.
PEOPLE_COLOURS = [(220, 40, 40), (40, 200, 40), (40, 40, 220), (220, 220, 40), (220, 40, 220),
                  (40, 220, 220)]


@dataclass(frozen=True)
class Square:
    x: int
    y: int
    size: int
    colour: tuple[int, int, int]


TEXTURE = 20  # grey levels of grain on a face: real faces are not flat (their sharpness counts)
BACKDROP = 35  # grey levels of broad blotches on the canvas, each painting its own: two photos
# are not one picture (photos are told apart as wholes, vision.pixels.same_scene); < FACE_THRESHOLD


def paint(path: Path, squares: Sequence[Square], size: tuple[int, int] = (320, 240)) -> Path:
    """Write a PNG of `size` (width, height) with the squares painted, grainy, on a grey canvas."""
    img = np.full((size[1], size[0], 3), BACKGROUND, np.uint8)
    # the grain follows the colours: the same painting gives the same file, and two photos of a
    # person (jittered colours) differ in their pixels as two real photos do
    grain = np.random.default_rng([size[0], *(c for q in squares for c in q.colour)])
    backdrop_rng = np.random.default_rng([size[1], *(c for q in squares for c in q.colour)])
    blotches = backdrop_rng.uniform(-BACKDROP, BACKDROP, (3, 4)).astype(np.float32)
    backdrop = cv2.resize(blotches, size, interpolation=cv2.INTER_LINEAR)
    img = np.clip(img + backdrop[:, :, None], 0, 255).astype(np.uint8)
    for q in squares:
        face = np.array(q.colour, np.int16) + grain.integers(-TEXTURE, TEXTURE + 1,
                                                             (q.size, q.size, 1))
        img[q.y:q.y + q.size, q.x:q.x + q.size] = np.clip(face, 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path


def person_photo(path: Path, person: int, rng: np.random.Generator, faces: int = 1) -> Path:
    """A photo of `person` (index into PEOPLE_COLOURS), its colour jittered a little as lighting
    changes a face, plus `faces - 1` other people standing beside them."""
    squares = []
    for k in range(faces):
        who = (person + k) % len(PEOPLE_COLOURS)
        jitter = rng.integers(-JITTER, JITTER + 1, 3)
        colour = tuple(int(c) for c in np.clip(np.array(PEOPLE_COLOURS[who]) + jitter, 0, 255))
        squares.append(Square(20 + 100 * k, 60, 80, colour))  # type: ignore[arg-type]
    return paint(path, squares, (max(320, 100 * faces + 40), 240))


class FakeFinder:
    """Finds the painted squares: boxes of at least `params.min_face_size`, landmarks where
    MTCNN's fall inside its box, confidence 0.99."""

    def __init__(self, params: DetectParams | None = None) -> None:
        self.params = params or DetectParams()
        self.loaded = False
        self.calls = 0

    def load(self) -> None:
        self.loaded = True

    def detect(self, pixels: np.ndarray, scale: float = 1.0) -> list[Detection]:
        self.calls += 1
        mask = (np.abs(pixels.astype(np.int16) - BACKGROUND).max(axis=2) > FACE_THRESHOLD)
        n, _labels, stats, _centres = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
        out = []
        for x, y, w, h, _area in stats[1:n]:
            box = (float(x) * scale, float(y) * scale, float(w) * scale, float(h) * scale)
            if min(box[2], box[3]) < self.params.min_face_size:
                continue
            landmarks = np.column_stack([box[0] + LANDMARKS_IN_BOX[:, 0] * box[2],
                                         box[1] + LANDMARKS_IN_BOX[:, 1] * box[3]])
            out.append(Detection(box, landmarks, 0.99))
        return sorted(out, key=lambda d: (d.box[0], d.box[1]))


class FakeEmbedder:
    """Colour in the middle of the crop → unit vector (random Fourier features of the colour)."""

    def __init__(self, weights_id: str = "fake:0", seed: int = 0) -> None:
        self.weights_id = weights_id
        rng = np.random.default_rng(seed)
        self._w = rng.normal(size=(EMBEDDING_DIM, 3)) / COLOUR_SCALE
        self._b = rng.uniform(0, 2 * np.pi, EMBEDDING_DIM)
        self.faces = 0

    def load(self) -> None:
        pass

    def embed(self, crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        c = CROP_SIZE // 2
        mid = np.stack([np.asarray(x)[c - 16:c + 16, c - 16:c + 16].reshape(-1, 3).mean(axis=0)
                        for x in crops])
        self.faces += len(crops)
        return l2_normalise(np.cos(mid @ self._w.T + self._b))
