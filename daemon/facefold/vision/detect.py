"""Find faces: MTCNN on a downscaled copy, boxes and five landmarks mapped back to the full photo."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

LANDMARK_ORDER = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
MTCNN_MIN_FACE_SIZE = 20  # mtcnn 1.0.0 finds nothing with a larger value: downscale instead
MTCNN_ONET_THRESHOLD = 0.8  # MTCNN's own last-stage cut: what passes it takes part in its final
# suppression of overlapping boxes, so it stays unless doubtful faces are wanted from lower


@dataclass(frozen=True)
class DetectParams:
    """What the detector keeps (each explained in config.yaml, `detection:`)."""

    max_side: int = 1024  # the detector sees a copy whose longest side is at most this
    min_confidence: float = 0.9  # MTCNN's final-stage score a face must reach
    min_face_size: int = 20  # shorter side of the box, in full-photo pixels
    retry_pad: float = 0.25  # nothing found: look again with this border (share of the longest
    # side) added around the photo; 0: never. Finds faces that fill or touch the frame.
    retry_stage_score: float = 0.5  # ... and with MTCNN's first two stages this lenient (their
    # own defaults 0.6 and 0.7);
    retry_min_confidence: float = 0.95  # ... its faces then need this final score;
    retry_min_face_size: int = 16  # ... and MTCNN's pyramid starts at faces this small (px of
    # the copy it sees; 20 is its own default, smaller looks at an enlarged copy as well)
    enlarge_min_face_size: int = 12  # still nothing: a last look at the photo itself with the
    # pyramid starting at faces this small (finds faces of 20-30 px); 0: never
    enlarge_min_confidence: float = 0.85  # ... whose faces need this final score
    confirm_min_confidence: float = 0.8  # a face scored from this up to a pass's own cut is kept
    # when MTCNN's last stage, shown the face in slightly shifted and scaled boxes, scores it
    # `confirm_min_score` on average; 1.0: never
    confirm_min_score: float = 0.8


@dataclass(frozen=True)
class Detection:
    """A face in full-photo pixel coordinates: box (x, y, w, h), landmarks (5, 2) as x, y."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    confidence: float


def downscale(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Return a copy whose longest side is at most `max_side`, and the factor full = small * factor."""
    h, w = pixels.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return pixels, 1.0
    factor = longest / max_side
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), factor


def parse_detections(raw: list[dict[str, Any]], factor: float, min_confidence: float,
                     min_face_size: float, offset: float = 0.0) -> list[Detection]:
    """Map MTCNN's json output (on a copy scaled by 1/factor, with a border of `offset`
    full-photo pixels) to filtered full-photo Detections."""
    out = []
    for face in raw:
        conf = float(face["confidence"])
        x, y, w, h = (float(v) * factor for v in face["box"])
        if conf < min_confidence or min(w, h) < min_face_size:
            continue
        kp = face["keypoints"]
        lm = np.array([kp[k] for k in LANDMARK_ORDER], dtype=np.float64) * factor - offset
        out.append(Detection(box=(x - offset, y - offset, w, h), landmarks=lm, confidence=conf))
    out.sort(key=lambda d: (d.box[0], d.box[1]))
    return out


# A doubtful face is shown to ONet again in these boxes: its square box shifted by these shares of
# its side (in x and y) and scaled by these factors, 27 boxes in all.
CONFIRM_SHIFTS = (-0.1, 0.0, 0.1)
CONFIRM_SCALES = (0.9, 1.0, 1.1)
CONFIRM_MAX_OVERLAP = 0.2  # share of the smaller box: more, and a doubtful face is the kept one


def overlap(a: list[int] | tuple[float, ...], b: list[int] | tuple[float, ...]) -> float:
    """The area two boxes (x, y, w, h) share, over the smaller one's (0..1)."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    smaller = min(a[2] * a[3], b[2] * b[3])
    return float(max(w, 0) * max(h, 0) / smaller) if smaller > 0 else 0.0


def confirmed(raw: list[dict[str, Any]], cut: float, floor: float, min_score: float,
              scores: Callable[[list[list[int]]], np.ndarray]) -> list[dict[str, Any]]:
    """MTCNN's json rows kept by a look: those scored at least `cut`, and the doubtful ones
    (from `floor`) whose second opinion, `scores(boxes)`, reaches `min_score`. A doubtful box
    overlapping a kept face is that face seen askew (its shifted boxes cover the real face, so a
    second opinion would confirm it): dropped without one."""
    kept = [r for r in raw if r["confidence"] >= cut]
    doubtful = [r for r in raw if floor <= r["confidence"] < cut
                and not any(overlap(r["box"], k["box"]) > CONFIRM_MAX_OVERLAP for k in kept)]
    if doubtful:
        second = scores([r["box"] for r in doubtful])
        kept += [r for r, c in zip(doubtful, second, strict=True) if c >= min_score]
    return kept


def confirm_boxes(box: tuple[float, float, float, float], height: int, width: int) -> np.ndarray:
    """The boxes a doubtful face (x, y, w, h) is looked at again in: its square box shifted by
    CONFIRM_SHIFTS and scaled by CONFIRM_SCALES, as rows of y1, x1, y2, x2 in shares of
    (height - 1, width - 1), the form `crop_and_resize` takes."""
    x, y, w, h = box
    side = max(w, h)
    cx, cy = x + w / 2, y + h / 2
    rows = []
    for dx in CONFIRM_SHIFTS:
        for dy in CONFIRM_SHIFTS:
            for k in CONFIRM_SCALES:
                s = side * k
                x1, y1 = cx + dx * side - s / 2, cy + dy * side - s / 2
                rows.append((y1 / (height - 1), x1 / (width - 1),
                             (y1 + s) / (height - 1), (x1 + s) / (width - 1)))
    return np.asarray(rows, dtype=np.float32)


# Input shapes of MTCNN's three networks: PNet is fully convolutional (any size, one pyramid level
# per call); RNet and ONet take batches of 24 and 48 px patches.
_STAGE_INPUTS = {1: (None, None, None, 3), 2: (None, 24, 24, 3), 3: (None, 48, 48, 3)}


def compile_stages(mtcnn: Any) -> None:
    """Run each of MTCNN's networks as one TensorFlow graph instead of layer by layer in eager mode.

    mtcnn 1.0.0 calls its Keras models eagerly, so per-op Python overhead dominates on photos of
    a few hundred pixels. The same layers traced once with shape-polymorphic signatures give the
    same boxes, landmarks and confidences (tested) about 2.7x faster, with no retracing per size.
    """
    from facefold.vision.runtime import import_tensorflow

    tf = import_tensorflow()
    for stage in mtcnn.stages:
        model = stage.model
        spec = tf.TensorSpec(_STAGE_INPUTS[stage.id], tf.float32)
        stage._model = tf.function(lambda x, model=model: model(x), input_signature=[spec])


DETECT_RUNTIMES = ("tflite", "tensorflow")  # detection.runtime


class FaceDetector:
    """MTCNN, loaded lazily once; `detect` is safe to call from one worker thread at a time.
    `params` may be replaced at any time (a config reload). `runtime`: `tflite` (the networks
    converted once into `cache_dir`, run by LiteRT, no TensorFlow import: `mtcnn_lite`) or
    `tensorflow` (the `mtcnn` package itself, its networks traced as graphs, on the GPU when
    TensorFlow sees one)."""

    def __init__(self, params: DetectParams | None = None, runtime: str = "tensorflow",
                 cache_dir: Path | None = None, cpu_fallback: str | None = None) -> None:
        if runtime not in DETECT_RUNTIMES:
            raise ValueError(f"detection runtime must be one of {DETECT_RUNTIMES}, not {runtime!r}")
        if runtime == "tflite" and cache_dir is None:
            raise ValueError("the tflite detection runtime needs a cache_dir for its networks")
        self.params = params or DetectParams()
        self.runtime = runtime
        self.cache_dir = cache_dir
        self.cpu_fallback = cpu_fallback  # runtime when TensorFlow finds no GPU (auto's choice)
        self._mtcnn: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._mtcnn is None:
                from facefold.vision.device import usable_runtime

                self.runtime = usable_runtime(self.runtime, self.cpu_fallback, "MTCNN")
                self._mtcnn = self._lite() if self.runtime == "tflite" else self._tensorflow()

    def _lite(self) -> Any:
        from facefold.vision.mtcnn_lite import LiteMTCNN

        assert self.cache_dir is not None
        return LiteMTCNN(self.cache_dir)

    @staticmethod
    def _tensorflow() -> Any:
        from mtcnn import MTCNN

        from facefold.vision.device import tensorflow_sees_gpu  # imports TensorFlow

        mtcnn = MTCNN(device="GPU:0" if tensorflow_sees_gpu() else "CPU:0")
        compile_stages(mtcnn)
        return mtcnn

    def detect(self, pixels: np.ndarray, scale: float = 1.0) -> list[Detection]:
        """Given RGB pixels, return the faces found, left to right, in full-photo coordinates:
        pixel coordinates * `scale` (the photo was decoded at 1/scale, see `Decoded`). When
        nothing is found, look once more with a border added (`retry_pad`): MTCNN misses faces
        that fill the frame or are cut by its edge; then, if still nothing, at an enlarged copy
        (`enlarge_min_face_size`), where the smallest faces score higher."""
        self.load()
        p = self.params
        lenient = {"threshold_pnet": p.retry_stage_score, "threshold_rnet": p.retry_stage_score}
        found = self._pass(pixels, scale, 0)
        if not found and p.retry_pad > 0:
            # the border goes around the detector's copy, not the full photo: its size is then
            # bounded by max_side whatever the photo's shape (a 1 x 1,000,000 px photo padded
            # in full asked for 2 TiB), and the photo keeps its scale in the padded copy
            small, factor = downscale(pixels, p.max_side)
            off = round(max(small.shape[:2]) * p.retry_pad)
            padded = np.pad(small, ((off, off), (off, off), (0, 0)), mode="edge")
            found = self._pass(padded, scale * factor, off, p.retry_min_confidence,
                               max(padded.shape[:2]), p.retry_min_face_size, **lenient)
        if not found and p.enlarge_min_face_size > 0:
            found = self._pass(pixels, scale, 0, p.enlarge_min_confidence, None,
                               p.enlarge_min_face_size, **lenient)
        return found

    def _pass(self, pixels: np.ndarray, scale: float, offset: int,
              min_confidence: float | None = None, max_side: int | None = None,
              pyramid_start: int = MTCNN_MIN_FACE_SIZE, **stages: float) -> list[Detection]:
        p = self.params
        small, factor = downscale(pixels, max_side or p.max_side)
        if min(small.shape[:2]) < MTCNN_MIN_FACE_SIZE:
            return []
        cut = min_confidence or p.min_confidence
        floor = min(cut, p.confirm_min_confidence)
        raw = self._mtcnn.detect_faces(small, min_face_size=pyramid_start,
                                       threshold_onet=min(floor, MTCNN_ONET_THRESHOLD), **stages)
        raw = confirmed(raw, cut, floor, p.confirm_min_score,
                        lambda boxes: self._confirm_scores(small, boxes))
        return parse_detections(raw, factor * scale, floor, p.min_face_size, offset * scale)

    def _confirm_scores(self, pixels: np.ndarray, boxes: list[list[int]]) -> np.ndarray:
        """For each box (x, y, w, h) of a doubtful face, the mean score MTCNN's last stage (ONet)
        gives it in its 27 `confirm_boxes`. Its single score swings with where the pyramid
        happens to put the box: a 40 px face scored 0.71-0.996 as the photo's border changed.
        Real faces among those scored 0.8-0.9 average 0.8-0.99 over the boxes, the false faces
        of the face-free photos (grass, gravel, motorcycle parts) at most 0.66."""
        from facefold.vision.mtcnn_lite import crop_and_resize

        h, w = pixels.shape[:2]
        x = (pixels.astype(np.float32) - 127.5) / 128  # as MTCNN normalises
        rows = np.concatenate([confirm_boxes((float(bx), float(by), float(bw), float(bh)), h, w)
                               for bx, by, bw, bh in boxes])
        patches = crop_and_resize(x, rows, 48)
        if self.runtime == "tflite":
            score = self._mtcnn.nets["onet"](patches)[2]
        else:
            score = np.asarray(self._mtcnn.get_stage(stage_id=3)._model(patches)[2])
        return np.asarray(score[:, -1]).reshape(len(boxes), -1).mean(axis=1)
