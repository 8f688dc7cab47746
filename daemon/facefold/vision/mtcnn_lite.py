"""MTCNN without TensorFlow at run time: the `mtcnn` package's three networks converted once for
LiteRT's interpreter, and the package's pipeline (pyramid, proposals, suppression, refinement)
redone in NumPy and OpenCV.

Why not call the package: `mtcnn` 1.0.0 imports TensorFlow for everything, including its box
maths, and runs each network and each image resize as an eager TensorFlow call, converting the
whole photo from NumPy again at every pyramid level. That costs most of a photo's detection time,
and importing TensorFlow costs a few hundred MB and seconds of start-up. Its suppression also
builds n x n matrices over all proposals (hundreds of MB on a busy 12 MP photo).

What is kept exactly: the networks (converted from the package's own weights; outputs within
2e-6 of TensorFlow's), the pyramid (same scales), TensorFlow's area downscale (OpenCV's
INTER_AREA gives the same values to 2e-5) and bilinear crop-and-resize (same formula), and the
package's order of operations, its non-greedy suppression rule and its integer rounding of the
returned boxes and landmarks. `detect_faces` returns the package's json rows; a test compares
them with `mtcnn.MTCNN().detect_faces` on every 5-celebrity photo.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

log = logging.getLogger(__name__)

# network → input shape (PNet is fully convolutional; RNet and ONet take 24 / 48 px patches)
NETS: dict[str, tuple[int | None, ...]] = {
    "pnet": (None, None, None, 3), "rnet": (None, 24, 24, 3), "onet": (None, 48, 48, 3),
}
# each network's outputs in the package's order, named by their last dimension
_OUTPUTS = {"pnet": (4, 2), "rnet": (4, 2), "onet": (4, 10, 2)}
REPLAN_MAX_SHRINK = 4  # an interpreter is re-planned for an input at most this many times smaller
# than the largest it had (its arena keeps that size); otherwise a fresh one is made
_SUPPRESS_BLOCK = 512  # proposals compared at a time: memory is block x proposals, not n x n


def package_weights() -> dict[str, Path]:
    """The `mtcnn` package's weight files, found without importing the package (which would
    import TensorFlow)."""
    spec = importlib.util.find_spec("mtcnn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the mtcnn package is not installed")
    root = Path(list(spec.submodule_search_locations)[0]) / "assets" / "weights"
    return {net: root / f"{net}.lz4" for net in NETS}


def converted_paths(cache_dir: Path) -> dict[str, Path]:
    """Where the converted networks live: keyed by the package's weight files, so a new `mtcnn`
    release with other weights is converted again."""
    digest = hashlib.sha256()
    for path in package_weights().values():
        digest.update(path.read_bytes())
    key = digest.hexdigest()[:16]
    return {net: cache_dir / f"mtcnn-{key}-{net}.tflite" for net in NETS}


def convert_mtcnn(paths: dict[str, Path]) -> None:
    """Convert the package's three Keras networks (fp32) and write them atomically. Needs
    TensorFlow; run once per weights."""
    from facefold.vision.convert import to_tflite, write_atomically
    from facefold.vision.runtime import import_tensorflow

    tf = import_tensorflow()
    from mtcnn.stages import StageONet, StagePNet, StageRNet

    stages = {"pnet": StagePNet, "rnet": StageRNet, "onet": StageONet}
    for net, out in paths.items():
        spec = tf.TensorSpec(NETS[net], tf.float32)
        write_atomically(out, to_tflite(stages[net]().model, [spec]))


# --- the package's pipeline, as pure functions -------------------------------------------------

def pyramid_scales(height: int, width: int, min_face_size: int, scale_factor: float = 0.709,
                   min_size: int = 12) -> np.ndarray:
    """The scales PNet looks at (mtcnn's `build_scale_pyramid`): the first maps a face of
    `min_face_size` px to PNet's 12 px window, each next one is `scale_factor` of it, down to a
    shorter side of about `min_size`."""
    count = round(-((np.log(min(width, height) / min_size) / np.log(scale_factor)) + 1))
    return (min_size / min_face_size) * scale_factor ** np.arange(count)


def area_downscale(image: np.ndarray, scale: float) -> np.ndarray:
    """`tf.image.resize(image, shape * scale, AREA)` for scale < 1: the size is truncated, and
    OpenCV's area interpolation gives TensorFlow's values (to float rounding)."""
    h, w = (np.asarray(image.shape[:2]) * scale).astype(np.int32)
    return cv2.resize(image, (int(w), int(h)), interpolation=cv2.INTER_AREA)


def crop_and_resize(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """`tf.image.crop_and_resize` (bilinear, extrapolation 0) of one (H, W, C) float32 image:
    boxes are (N, 4) rows of y1, x1, y2, x2 as shares of (H - 1, W - 1); returns
    (N, size, size, C) float32."""
    h, w = image.shape[:2]
    b = boxes.astype(np.float32)
    steps = np.arange(size, dtype=np.float32)

    def axis(lo: np.ndarray, hi: np.ndarray, extent: int) -> tuple[np.ndarray, ...]:
        pos = lo[:, None] * (extent - 1) + steps * ((hi - lo) * (extent - 1) / (size - 1))[:, None]
        inside = (pos >= 0) & (pos <= extent - 1)
        floor = np.floor(pos)
        first = np.clip(floor, 0, extent - 1).astype(np.intp)
        second = np.clip(np.ceil(pos), 0, extent - 1).astype(np.intp)
        return first, second, pos - floor, inside

    top, bottom, y_lerp, y_in = axis(b[:, 0], b[:, 2], h)
    left, right, x_lerp, x_in = axis(b[:, 1], b[:, 3], w)
    # the four neighbours of every sample, gathered from the flattened image (one take each)
    flat = image.reshape(-1, image.shape[2])
    t, u = (top * w)[:, :, None], (bottom * w)[:, :, None]
    left, right = left[:, None, :], right[:, None, :]
    tl, tr, bl, br = (np.take(flat, i, axis=0) for i in (t + left, t + right, u + left, u + right))
    x_lerp = x_lerp[:, None, :, None]
    upper = tl + (tr - tl) * x_lerp
    lower = bl + (br - bl) * x_lerp
    out = upper + (lower - upper) * y_lerp[:, :, None, None]
    out[~(y_in[:, :, None] & x_in[:, None, :])] = 0.0
    return out.astype(np.float32)


def proposals(reg: np.ndarray, score: np.ndarray, threshold: float, scale: float) -> np.ndarray:
    """PNet's output map at one scale → rows [0, x1, y1, x2, y2, score] in photo pixels, best
    first (mtcnn's `generate_bounding_box` with stride 2 and 12 px cells, then
    `upscale_bboxes`)."""
    conf = score[0, :, :, 1]
    ys, xs = np.where(conf > threshold)
    r = reg[0, ys, xs].T
    x1, y1 = xs * 2 + 1 + r[0] * 11, ys * 2 + 1 + r[1] * 11
    x2, y2 = xs * 2 + 12 + r[2] * 11, ys * 2 + 12 + r[3] * 11
    rows = np.stack([np.zeros(len(xs)), x1, y1, x2, y2, conf[ys, xs]], axis=0).T
    rows = rows[np.argsort(rows[:, -1])[::-1]]
    rows[:, 1:5] = rows[:, 1:5] / scale
    return rows


def suppress(rows: np.ndarray, threshold: float, method: str = "union",
             sort: bool = True) -> np.ndarray:
    """mtcnn's `smart_nms_from_bboxes` for one image: rows sorted by score (column 5, best first)
    unless `sort` is False; a row is dropped when any row before it (kept or not) overlaps it by
    more than `threshold` (intersection over union, or over the smaller box for "min").
    Compared in blocks, so memory grows with the number of rows, not its square."""
    if sort:
        rows = rows[np.argsort(rows[:, 5])[::-1]]
    n = len(rows)
    if n == 0:
        return rows
    x1, y1, x2, y2 = (rows[:, k] for k in range(1, 5))
    area = (x2 - x1) * (y2 - y1)
    keep = np.ones(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start in range(0, n, _SUPPRESS_BLOCK):
            j = np.arange(start, min(n, start + _SUPPRESS_BLOCK))
            i = np.arange(j[-1])  # only earlier rows can drop these
            iw = np.maximum(0, np.minimum(x2[i][None], x2[j][:, None])
                            - np.maximum(x1[i][None], x1[j][:, None]))
            ih = np.maximum(0, np.minimum(y2[i][None], y2[j][:, None])
                            - np.maximum(y1[i][None], y1[j][:, None]))
            inter = iw * ih
            if method == "union":
                overlap = inter / (area[i][None] + area[j][:, None] - inter)
            else:
                overlap = inter / np.minimum(area[i][None], area[j][:, None])
            earlier = i[None, :] < j[:, None]
            keep[j] = ~((overlap > threshold) & earlier).any(axis=1)
    return rows[keep]


def to_square(rows: np.ndarray) -> np.ndarray:
    """mtcnn's `resize_to_square`: each box grown to its longer side about its centre."""
    rows = rows.copy()
    h, w = rows[:, 4] - rows[:, 2], rows[:, 3] - rows[:, 1]
    side = np.maximum(w, h)
    rows[:, 1] += w * 0.5 - side * 0.5
    rows[:, 2] += h * 0.5 - side * 0.5
    rows[:, 3] = rows[:, 1] + side
    rows[:, 4] = rows[:, 2] + side
    return rows


def refine(rows: np.ndarray, offsets: np.ndarray, score: np.ndarray) -> np.ndarray:
    """A later stage's scores replace the proposal's and its offsets move the box
    (mtcnn's `replace_confidence` and `adjust_bboxes`)."""
    rows = rows.copy()
    rows[:, 5] = score[:, -1]
    w = rows[:, 3] - rows[:, 1] + 1
    h = rows[:, 4] - rows[:, 2] + 1
    rows[:, 1:5] += offsets * np.stack([w, h, w, h], axis=-1)
    return rows


def place_landmarks(landmarks: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """ONet's landmarks (shares of the box) → photo pixels (mtcnn's `adjust_landmarks`)."""
    out = landmarks.astype(np.float64)
    w = rows[:, 3:4] - rows[:, 1:2] + 1
    h = rows[:, 4:5] - rows[:, 2:3] + 1
    out[:, 0:5] = w * out[:, 0:5] + rows[:, 1:2] - 1
    out[:, 5:10] = h * out[:, 5:10] + rows[:, 2:3] - 1
    return out


def as_json(rows: np.ndarray, height: int, width: int) -> list[dict[str, Any]]:
    """Rows → the package's json (`limit_bboxes` without landmarks, then `to_json`): boxes
    clipped to the image, x, y, w, h and landmarks rounded to whole pixels."""
    out = []
    for r in rows:
        x1, x2 = (min(max(v, 0), width - 1) for v in (r[1], r[3]))
        y1, y2 = (min(max(v, 0), height - 1) for v in (r[2], r[4]))
        box = np.asarray([x1, y1, x2 - x1, y2 - y1]).round().astype(int).tolist()
        lm = r[6:16].round().astype(int)
        out.append({"box": box, "confidence": r[5], "keypoints": {
            "nose": [lm[2], lm[7]], "mouth_right": [lm[4], lm[9]], "right_eye": [lm[1], lm[6]],
            "left_eye": [lm[0], lm[5]], "mouth_left": [lm[3], lm[8]]}})
    return out


# --- the networks through LiteRT ---------------------------------------------------------------

class LiteNet:
    """One converted network: a float32 batch in, its outputs in the package's order out.

    Re-planning an interpreter for a new input shape costs about as much as running PNet on it,
    and PNet sees a new shape at every pyramid level. So up to `keep` interpreters stay planned
    for the shapes used last (photos from one camera share their pyramid); a new shape re-plans
    the one used longest ago, unless that one's arena was sized for an input more than
    REPLAN_MAX_SHRINK times larger: a re-planned interpreter keeps the arena of the largest
    input it ever had, so 16 of them would all grow to a 12 MP photo's first pyramid level."""

    def __init__(self, path: Path, net: str, threads: int | None = None, keep: int = 16) -> None:
        self._model = path.read_bytes()
        self._net = net
        self._threads = threads or os.cpu_count()
        self._keep = keep
        # shape → (interpreter, input index, output indices, largest input size it was planned for)
        self._plans: OrderedDict[tuple[int, ...], tuple[Any, int, list[int], int]] = OrderedDict()

    def _plan(self, shape: tuple[int, ...]) -> tuple[Any, int, list[int], int]:
        plan = self._plans.pop(shape, None)
        if plan is None:
            size = math.prod(shape)
            old = None
            if len(self._plans) >= self._keep:  # re-plan the least recently used interpreter
                old = self._plans.popitem(last=False)[1]
                if old[3] > size * REPLAN_MAX_SHRINK:  # its arena was sized for a far larger input
                    old = None
            it, inp, outs, peak = old or (*self._interpreter(), 0)
            it.resize_tensor_input(inp, shape)
            it.allocate_tensors()
            plan = (it, inp, outs, max(peak, size))
        self._plans[shape] = plan
        return plan

    def _interpreter(self) -> tuple[Any, int, list[int]]:
        from ai_edge_litert.interpreter import Interpreter

        from facefold.vision.runtime import filtered_stderr

        with filtered_stderr():
            it = Interpreter(model_content=self._model, num_threads=self._threads)
        by_size = {int(d["shape_signature"][-1]): d["index"] for d in it.get_output_details()}
        return it, it.get_input_details()[0]["index"], [by_size[k] for k in _OUTPUTS[self._net]]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        it, inp, outs, _ = self._plan(tuple(batch.shape))
        it.set_tensor(inp, np.ascontiguousarray(batch, dtype=np.float32))
        it.invoke()
        return [it.get_tensor(i).copy() for i in outs]


class LiteMTCNN:
    """`mtcnn.MTCNN` for one image at a time, run by LiteRT; `detect_faces` takes the same
    thresholds and returns the same json rows. Converts the networks into `cache_dir` on first
    use. Not thread-safe: one detector, one worker thread."""

    def __init__(self, cache_dir: Path) -> None:
        paths = converted_paths(cache_dir)
        if not all(p.is_file() for p in paths.values()):
            log.info("converting MTCNN for LiteRT into %s (once)", cache_dir)
            convert_mtcnn(paths)
        self.paths = paths
        self.nets = {net: LiteNet(path, net) for net, path in paths.items()}

    def detect_faces(self, image: np.ndarray, min_face_size: int = 20, scale_factor: float = 0.709,
                     threshold_pnet: float = 0.6, threshold_rnet: float = 0.7,
                     threshold_onet: float = 0.8, nms_pnet1: float = 0.5, nms_pnet2: float = 0.7,
                     nms_rnet: float = 0.7, nms_onet: float = 0.7) -> list[dict[str, Any]]:
        """Given (H, W, 3) uint8 RGB pixels, return the faces as the package's json rows."""
        h, w = image.shape[:2]
        x = (image.astype(np.float32) - 127.5) / 128
        shape = np.asarray([h, w, h, w], dtype=np.float64)

        found = []
        for scale in pyramid_scales(h, w, min_face_size, scale_factor):
            reg, score = self.nets["pnet"](area_downscale(x, scale)[None])
            found.append(suppress(proposals(reg, score, threshold_pnet, scale), nms_pnet1,
                                  sort=False))
        rows = to_square(suppress(np.concatenate(found) if found else np.empty((0, 6)),
                                  nms_pnet2))
        if len(rows) == 0:
            return []

        offsets, score = self.nets["rnet"](crop_and_resize(x, rows[:, [2, 1, 4, 3]] / shape, 24))
        rows = refine(rows, offsets, score)
        rows = to_square(suppress(rows[rows[:, 5] > threshold_rnet], nms_rnet))
        if len(rows) == 0:
            return []

        offsets, landmarks, score = self.nets["onet"](
            crop_and_resize(x, rows[:, [2, 1, 4, 3]] / shape, 48))
        rows = np.concatenate([refine(rows, offsets, score), place_landmarks(landmarks, rows)],
                              axis=-1)
        rows = suppress(rows[rows[:, 5] > threshold_onet], nms_onet, method="min")
        return as_json(rows, h, w)
