"""Seconds spent per pipeline stage, summed over photos and batches: for the batch log line,
`facefold scan --timings` and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Stopwatch:
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the time spent in the `with` block to stage `name`."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def add(self, other: Stopwatch) -> None:
        for name, s in other.seconds.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + s

    def summary(self) -> str:
        """`decode 1.20s, detect 3.41s, …` in the order the stages first ran."""
        return ", ".join(f"{name} {s:.2f}s" for name, s in self.seconds.items())
