"""FaceNet converted for TensorFlow Lite (run by LiteRT's interpreter with XNNPACK): fp32, or with
dynamic-range int8 weights. Converted once per weights file and cached beside the weights."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from facefold.vision.weights import sha256_of

TFLITE_RUNTIMES = {"tflite": "fp32", "tflite-int8": "int8"}  # embedding.runtime → converted form


def converted_path(cache_dir: Path, weights_file: Path, runtime: str) -> Path:
    """Where the converted model of these weights lives: keyed by the weights' sha256, so a
    retrained file (`facefold train`) gets its own and a changed one is converted again."""
    return cache_dir / f"facenet-{sha256_of(weights_file)[:16]}-{TFLITE_RUNTIMES[runtime]}.tflite"


def to_tflite(model: Any, input_signature: list[Any] | None = None, int8: bool = False) -> bytes:
    """A Keras model converted for TensorFlow Lite (int8: dynamic-range int8 weights)."""
    from facefold.vision.runtime import CONVERT_NOISE, filtered_stderr, import_tensorflow

    tf = import_tensorflow()
    with tempfile.TemporaryDirectory() as tmp, filtered_stderr(CONVERT_NOISE):
        saved = str(Path(tmp) / "saved")
        # Keras 3: from_concrete_functions fails here
        model.export(saved, input_signature=input_signature, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]  # int8 weights, fp32 maths
        return bytes(converter.convert())


def write_atomically(out: Path, blob: bytes) -> None:
    """Write `blob` to `out` so that no reader ever sees half of it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    part.write_bytes(blob)
    os.replace(part, out)


def convert(model: Any, out: Path, runtime: str) -> Path:
    """Convert the Keras FaceNet `model` for `runtime` and write it to `out` atomically."""
    write_atomically(out, to_tflite(model, int8=TFLITE_RUNTIMES[runtime] == "int8"))
    return out


class TFLiteForward:
    """Standardised crops → raw FaceNet vectors through the LiteRT interpreter. Not thread-safe:
    one embedder, one worker thread."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from facefold.vision.runtime import filtered_stderr

        with filtered_stderr():  # "Created TensorFlow Lite XNNPACK delegate for CPU."
            self.interpreter = Interpreter(model_path=str(path),
                                           num_threads=threads or os.cpu_count())
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self._batch = -1

    def __call__(self, batch: Any) -> Any:
        if len(batch) != self._batch:  # a new batch size: re-plan the tensors (cheap)
            from facefold.vision.runtime import filtered_stderr

            with filtered_stderr():
                self.interpreter.resize_tensor_input(self._input, batch.shape)
                self.interpreter.allocate_tensors()
            self._batch = len(batch)
        self.interpreter.set_tensor(self._input, batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output).copy()
