"""Aligned face crops → L2-normalised 128-d FaceNet vectors, batched at a fixed shape."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facefold.vision.shapes import CROP_SIZE, EMBEDDING_DIM
from facefold.vision.weights import WeightsError, sha256_of

log = logging.getLogger(__name__)


def standardise(crops: np.ndarray) -> np.ndarray:
    """Per-image standardisation as FaceNet was trained: (x - mean) / max(std, 1/sqrt(n)) per crop."""
    x = crops.astype(np.float32)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    std = x.std(axis=axes, keepdims=True)
    floor = np.float32(1.0 / np.sqrt(float(np.prod(x.shape[1:]))))
    return (x - mean) / np.maximum(std, floor)  # float32 throughout


def l2_normalise(v: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """Return each row scaled to unit length (float32)."""
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def weights_id(path: Path) -> str:
    """A short, stable name for a weights file: its stem and the first 12 hex of its sha256."""
    return f"{path.stem}:{sha256_of(path)[:12]}"


EMBED_RUNTIMES = ("tensorflow", "tflite", "tflite-int8")  # embedding.runtime


class Embedder:
    """FaceNet with weights from `weights_file`, loaded lazily once; `embed` maps crops to vectors.

    `runtime`: `tensorflow` (graphs traced at the batch shape), or `tflite` / `tflite-int8`
    (the network converted once into `cache_dir`, run by LiteRT's interpreter)."""

    def __init__(self, weights_file: Path, batch_size: int = 32, runtime: str = "tensorflow",
                 cache_dir: Path | None = None, cpu_fallback: str | None = None) -> None:
        if runtime not in EMBED_RUNTIMES:
            raise ValueError(f"embedding runtime must be one of {EMBED_RUNTIMES}, not {runtime!r}")
        self.weights_file = weights_file
        self.batch_size = batch_size
        self.runtime = runtime
        self.cache_dir = cache_dir or weights_file.parent
        self.cpu_fallback = cpu_fallback  # runtime when TensorFlow finds no GPU (auto's choice)
        self._model: Any = None
        self._forward: Any = None
        self._tail: Any = None
        self._lock = threading.Lock()
        self.weights_id = ""

    def load(self) -> None:
        """Make the network ready and check it; idempotent. Raise WeightsError."""
        with self._lock:
            if self._forward is not None:
                return
            from facefold.vision.device import usable_runtime

            self.runtime = usable_runtime(self.runtime, self.cpu_fallback, "FaceNet")
            if self.runtime == "tensorflow":
                forward, tail = self._tensorflow()
            else:
                forward = tail = self._tflite()
            if not self._check(forward):
                raise WeightsError(
                    f"{self.weights_file}: the network gives degenerate output after loading: "
                    "run `facefold models fetch`"
                )
            self._forward, self._tail = forward, tail
            self.weights_id = weights_id(self.weights_file)

    def _keras(self) -> Any:
        """The Keras network with the weights copied in (built once)."""
        if self._model is None:
            from facefold.vision.facenet import build_facenet
            from facefold.vision.weights import load_facenet_weights

            model = build_facenet()
            load_facenet_weights(model, self.weights_file)
            self._model = model
        return self._model

    def _tensorflow(self) -> tuple[Any, Any]:
        from facefold.vision.runtime import import_tensorflow

        tf = import_tensorflow()
        model = self._keras()
        # Full batches go through a graph traced at the fixed batch shape (the fastest on CPU);
        # the remainder through one traced with a free batch size: padding 17 faces to 32 would
        # waste nearly half the work. Neither retraces.
        fixed = tf.TensorSpec((self.batch_size, CROP_SIZE, CROP_SIZE, 3), tf.float32)
        free = tf.TensorSpec((None, CROP_SIZE, CROP_SIZE, 3), tf.float32)
        forward = tf.function(lambda x: model(x, training=False), input_signature=[fixed])
        tail = tf.function(lambda x: model(x, training=False), input_signature=[free])
        tail(tf.zeros((1, CROP_SIZE, CROP_SIZE, 3)))  # trace now, not on the first photo
        return forward, tail

    def _tflite(self) -> Any:
        from facefold.vision.convert import TFLiteForward, convert, converted_path

        if not self.weights_file.is_file():
            raise WeightsError(f"{self.weights_file}: no such weights file: run "
                               "`facefold models fetch`")
        path = converted_path(self.cache_dir, self.weights_file, self.runtime)
        if not path.is_file():
            log.info("converting FaceNet for %s into %s (once for these weights)", self.runtime,
                     path)
            convert(self._keras(), path, self.runtime)
        return TFLiteForward(path)

    def _check(self, forward: Any) -> bool:
        """Loaded weights give distinct, finite vectors for distinct inputs (random init would too,
        but BN statistics left at defaults give near-constant output, and NaNs show a bad file)."""
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(self.batch_size, CROP_SIZE, CROP_SIZE, 3)).astype(np.uint8)
        out = np.asarray(forward(standardise(x)))
        return bool(np.isfinite(out).all() and out.std(axis=0).mean() > 1e-3)

    @property
    def model(self) -> Any:
        """The Keras network (training fine-tunes it), whatever runtime embeds."""
        with self._lock:
            return self._keras()

    def embed(self, crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Given N (CROP_SIZE, CROP_SIZE, 3) uint8 RGB crops (an array, or a list that may be
        empty), return (N, EMBEDDING_DIM) float32 unit vectors."""
        self.load()
        n = len(crops)
        if n == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        crops = np.stack(crops) if not isinstance(crops, np.ndarray) else crops
        out = np.empty((n, EMBEDDING_DIM), dtype=np.float32)
        bs = self.batch_size
        for start in range(0, n, bs):
            chunk = standardise(crops[start:start + bs])
            forward = self._forward if len(chunk) == bs else self._tail
            out[start:start + len(chunk)] = np.asarray(forward(chunk))
        return l2_normalise(out)
