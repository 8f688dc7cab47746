"""TensorFlow, imported once, with its C++ start-up chatter kept off the terminal.

TensorFlow 2.21 prints oneDNN, CUDA-stub and absl lines to stderr from C++ while it is imported
and when it first looks for devices, whatever `TF_CPP_MIN_LOG_LEVEL` says. The import and the
device probe run with stderr (file descriptor 2) sent to a temporary file; what is not known
noise is written back afterwards, so TensorFlow's real errors still reach the user.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations|cudart_stub"
    r"|Could not find cuda drivers|cpu_feature_guard|To enable the following instructions"
    r"|failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning"
    r"|computation placer already registered|Attempting to register factory"
    r"|Created TensorFlow Lite XNNPACK delegate"
)
# Converting a model logs pages of progress from C++; only lines about errors are kept.
CONVERT_NOISE = re.compile(r"^(?!.*error).*$", re.IGNORECASE)
_lock = threading.Lock()
_tf: ModuleType | None = None


@contextmanager
def filtered_stderr(noise: re.Pattern[str] = NOISE) -> Iterator[None]:
    """Hold back everything written to file descriptor 2 inside the block (by Python or C++);
    afterwards write back the lines that do not match `noise`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.search(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()


def import_tensorflow() -> ModuleType:
    """Return the `tensorflow` module, imported (and its devices probed) quietly, once."""
    global _tf
    with _lock:
        if _tf is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ INFO and WARNING off
            with filtered_stderr():
                import tensorflow as tf

                tf.config.list_physical_devices()  # CUDA probing prints now, inside the filter
            _tf = tf
        return _tf
