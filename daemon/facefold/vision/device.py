"""Which runtime runs each model, and on which device: `auto` picks TensorFlow when a GPU is
there to run it, LiteRT on the CPU otherwise. Decided without importing TensorFlow (seconds and
hundreds of MB), from what the GPU driver lists."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU the driver has bound
# what `auto` means: (with a GPU, without one), per model
AUTO = {"detection": ("tensorflow", "tflite"), "embedding": ("tensorflow", "tflite-int8")}


def visible_gpus(root: Path = NVIDIA_GPUS) -> list[str]:
    """The model names of the GPUs the NVIDIA driver lists (TensorFlow's wheels run CUDA only);
    empty when there is no driver."""
    names = []
    for info in sorted(root.glob("*/information")):
        try:
            fields = dict(line.split(":", 1) for line in info.read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        names.append(fields.get("Model", info.parent.name).strip())
    return names


@dataclass(frozen=True)
class Runtimes:
    """The runtimes chosen for this process, and the GPUs that made the choice."""

    detection: str
    embedding: str
    gpus: tuple[str, ...]
    auto: frozenset[str] = frozenset()  # the models whose runtime `auto` chose

    def cpu_fallback(self, model: str) -> str | None:
        """What `model` runs on instead when `auto` chose TensorFlow for a listed GPU that
        TensorFlow then cannot use (no CUDA libraries, say); None when it was not `auto`'s
        choice."""
        chosen = self.detection if model == "detection" else self.embedding
        return AUTO[model][1] if model in self.auto and chosen == "tensorflow" else None

    def describe(self) -> str:
        """One line for `status`: what runs each model, and where."""
        def where(runtime: str) -> str:
            if runtime == "tensorflow":
                return f"TensorFlow on {'GPU (' + ', '.join(self.gpus) + ')' if self.gpus else 'CPU'}"
            return "LiteRT on CPU"

        return (f"detection {self.detection} ({where(self.detection)}), "
                f"embedding {self.embedding} ({where(self.embedding)})")


def choose_runtimes(detection: str, embedding: str, gpus: list[str] | None = None) -> Runtimes:
    """Resolve `auto` in the configured runtimes: TensorFlow where a GPU can run it, else the
    fastest CPU runtime. Explicit choices are kept as they are."""
    found = tuple(visible_gpus() if gpus is None else gpus)
    pick = {k: AUTO[k][0 if found else 1] for k in AUTO}
    return Runtimes(pick["detection"] if detection == "auto" else detection,
                    pick["embedding"] if embedding == "auto" else embedding, found,
                    frozenset(k for k, v in (("detection", detection), ("embedding", embedding))
                              if v == "auto"))


def tensorflow_sees_gpu() -> bool:
    """Whether TensorFlow (imported now) can run on a GPU."""
    from facefold.vision.runtime import import_tensorflow

    return bool(import_tensorflow().config.list_physical_devices("GPU"))


def usable_runtime(runtime: str, cpu_fallback: str | None, network: str) -> str:
    """The runtime `network` (a name for the log) really runs on: `cpu_fallback`, with a
    warning, when `auto` chose TensorFlow for a GPU that TensorFlow then cannot use."""
    if runtime == "tensorflow" and cpu_fallback and not tensorflow_sees_gpu():
        log.warning("a GPU is listed but TensorFlow cannot use it (are its CUDA libraries "
                    "installed?): %s runs on %s", network, cpu_fallback)
        return cpu_fallback
    return runtime
