"""Fuzz the photo decoder and the config loader with Hypothesis for a bounded time, and the
whole per-photo path with mutated whole photos in real scans.

    .venv/bin/python bench/fuzz.py [--seconds 300]
    .venv/bin/python bench/fuzz.py --photos 20000 [--chunk 1000] [--seed 0]

Whole photos (`--photos`): real face photos (the 5-celebrity set) saved in every format with
random EXIF of every tag type, ICC profiles, XMP packets, and then any of: declared dimensions
set to anything, a chunk's or segment's length broken, a JPEG's scan repeated up to 2,000 times,
bytes flipped, cut, repeated or spliced (tests.helpers.hostile.fuzzed_photo). Each chunk goes
through a real `facefold scan` (a process of its own, one photo per batch) of a fresh library.
Each scan must exit 0 with every photo done or failed with a reason; peak memory must stay
under 2 GB and no photo may take more than 30 s (the time between two photos' ends).

Decoder: random bytes, and real small images in every supported format (JPEG, progressive JPEG,
PNG, 16-bit PNG, GIF, WEBP, BMP, TIFF, HEIC) with bytes flipped, cut, repeated or spliced; also
their headers with absurd declared sizes. Every input must give upright (H, W, 3) uint8 pixels
or a DecodeError; anything else (another exception, a wrong shape) is a finding, and so is an
input that takes more than a second.
Config loader: YAML built from the real keys with values of every type, and YAML-ish text.
Every input must give Settings or a ConfigError listing what is wrong.
Prints the inputs tried and each finding (minimised by Hypothesis); exit 1 when any.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from facefold.config import ConfigError, Settings, load_settings  # noqa: E402
from facefold.vision.decode import DecodeError, decode_photo  # noqa: E402

MAX_PIXELS = 20_000_000
SLOW_SECONDS = 1.0


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    out = []
    for fmt, kw in (("JPEG", {"quality": 80}), ("JPEG", {"progressive": True}), ("PNG", {}),
                    ("GIF", {}), ("WEBP", {}), ("BMP", {}), ("TIFF", {}), ("HEIF", {})):
        buf = io.BytesIO()
        try:
            img.save(buf, format=fmt, **kw)
        except (KeyError, OSError):  # a format this Pillow cannot write
            continue
        out.append(buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray(arr[..., 0].astype(np.uint16) * 257).save(buf, format="PNG")
    out.append(buf.getvalue())
    big = io.BytesIO()
    Image.fromarray(np.zeros((3200, 4000, 3), np.uint8)).save(big, format="JPEG", quality=50)
    out.append(big.getvalue())  # takes the reduced-scale (draft) path
    return out


SEEDS = _seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "repeat", "splice", "header"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "repeat":
            n = draw(st.integers(1, 64))
            data[i:i] = data[i:i + n] * draw(st.integers(1, 8))
        elif op == "splice":
            data[i:i] = draw(st.binary(max_size=64))
        else:  # an absurd 16/32-bit number where headers keep sizes
            j = draw(st.integers(0, min(40, len(data) - 1)))
            data[j:j + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff", b"\0\0\0\0"]))
    return bytes(data)


findings: list[str] = []
slow: list[tuple[float, bytes]] = []
tried = {"decode": 0, "config": 0}


def check_decode(data: bytes) -> None:
    tried["decode"] += 1
    t0 = time.perf_counter()
    try:
        d = decode_photo(data, MAX_PIXELS, 1536)
    except DecodeError:
        pass
    else:
        px = d.pixels
        assert px.ndim == 3 and px.shape[2] == 3 and px.dtype == np.uint8, px.shape
        assert d.scale >= 1.0
    took = time.perf_counter() - t0
    if took > SLOW_SECONDS:
        slow.append((took, data[:64]))


KEYS = {
    "inbox": None, "people": None, "database": None, "database_busy_seconds": None,
    "state_dir": None, "models_dir": None,
    "decode": ["max_pixels", "max_file_bytes", "extensions", "draft_min_side"],
    "detection": ["max_side", "min_confidence", "min_face_size"],
    "embedding": ["batch_size", "margin", "weights"],
    "clustering": ["min_cluster_size", "min_samples", "merge_distance", "max_distance",
                   "neighbours", "min_support", "pool_growth"],
    "watch": ["settle_seconds", "rescan_interval", "batch_photos", "max_attempts",
              "retry_seconds", "storage_retry_seconds", "ignore"],
    "logging": ["level"], "bogus": None,
}
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                    st.sampled_from(["../../etc", "/", "~", "sqlite:///:memory:",
                                     "postgresql://x", "!!python/object:os.system", "\0", ".."]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


@st.composite
def configs(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        doc: dict[str, object] = {}
        for key in draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=6, unique=True)):
            subs = KEYS[key]
            if subs and draw(st.booleans()):
                doc[key] = {k: draw(values) for k in draw(
                    st.lists(st.sampled_from(subs), max_size=4, unique=True))}
            else:
                doc[key] = draw(values)
        return yaml.safe_dump(doc, allow_unicode=True)
    return draw(st.text(alphabet=st.sampled_from(list("abc: -[]{}!&*|>'\"#\n\t0.1")), max_size=200))


def check_config(text: str, folder: Path) -> None:
    tried["config"] += 1
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        result = load_settings(path)
    except ConfigError as exc:
        assert str(exc).strip(), "an empty error message"
    else:
        assert isinstance(result, Settings)


def run(name: str, test: Callable[[], None], budget: float) -> None:
    end = time.monotonic() + budget
    while time.monotonic() < end:
        try:
            test()
        except Exception as exc:  # a finding, already minimised by Hypothesis
            findings.append(f"{name}: {type(exc).__name__}: {exc}"[:2000])


PEAK_MB = 2048  # whole photos: the most a scan process may hold
PHOTO_SECONDS = 30.0  # ... and the longest one photo may take


def fuzz_photos(total: int, chunk: int, seed: int) -> int:
    """Whole mutated photos through real scans; print a line per chunk and a total; return 1
    when any limit is broken."""
    import os
    import resource
    import sqlite3
    import subprocess
    from datetime import datetime

    from tests.helpers.data import celebrity_photos, write_config
    from tests.helpers.hostile import fuzzed_photo

    base_dir = celebrity_photos(load_settings(REPO / "config.yaml").models_dir)
    bases = [Image.open(p).convert("RGB") for p in sorted(base_dir.rglob("*.jpg"))]
    rng = np.random.default_rng(seed)
    totals = {"cases": 0, "done": 0, "failed": 0, "unfinished": 0, "exits": 0}
    slowest = 0.0
    reasons: dict[str, int] = {}
    for start in range(0, total, chunk):
        n = min(chunk, total - start)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            config = write_config(root, watch={"batch_photos": 1, "max_attempts": 1})
            inbox = root / "inbox"
            inbox.mkdir()
            for i in range(n):
                suffix, data = fuzzed_photo(bases[int(rng.integers(len(bases)))], rng)
                (inbox / f"{start + i:06d}{suffix}").write_bytes(data)
            t0 = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "facefold.cli", "scan", "--config",
                                   str(config)], capture_output=True, text=True,
                                  timeout=n * PHOTO_SECONDS,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            seconds = time.monotonic() - t0
            with sqlite3.connect(root / "state" / "facefold.db") as db:
                rows = db.execute("SELECT status, error, updated_at FROM images").fetchall()
        ends = sorted(datetime.fromisoformat(str(u)) for _s, _e, u in rows)
        gaps = [(b - a).total_seconds() for a, b in zip(ends, ends[1:], strict=False)]
        slowest = max([slowest, *gaps])
        statuses = [st for st, _e, _u in rows]
        for _st, error, _u in rows:
            if error:
                key = re.sub(r"\d+", "N", error.split(":")[0])[:60]
                reasons[key] = reasons.get(key, 0) + 1
        exits = int(proc.returncode != 0 or "Traceback" in proc.stderr)
        unfinished = n - statuses.count("done") - statuses.count("failed")
        for k, v in (("cases", n), ("done", statuses.count("done")),
                     ("failed", statuses.count("failed")), ("unfinished", unfinished),
                     ("exits", exits)):
            totals[k] += v
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"photos {start}-{start + n - 1}: exit {proc.returncode}, "
              f"{statuses.count('done')} done, {statuses.count('failed')} failed, "
              f"{unfinished} unfinished, slowest photo {max(gaps, default=0):.1f}s, "
              f"{seconds:.0f}s, peak memory so far {peak:.0f} MB", flush=True)
        if exits:
            print(proc.stderr[-3000:], flush=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("failure reasons: " + ", ".join(f"{k} {v}" for k, v in
                                           sorted(reasons.items(), key=lambda kv: -kv[1])[:12]))
    print("whole photos: " + ", ".join(f"{k} {v}" for k, v in totals.items())
          + f", peak memory {peak:.0f} MB, slowest photo {slowest:.1f}s")
    broken = (totals["exits"] or totals["unfinished"] or peak > PEAK_MB
              or slowest > PHOTO_SECONDS)
    return 1 if broken else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="total time, split evenly")
    ap.add_argument("--photos", type=int, default=0,
                    help="whole mutated photos through real scans instead (e.g. 20000)")
    ap.add_argument("--chunk", type=int, default=1000, help="photos per scan")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.photos:
        return fuzz_photos(args.photos, args.chunk, args.seed)
    warnings.filterwarnings("ignore", category=UserWarning)  # Pillow's notes on odd TIFF tags
    cfg = settings(max_examples=300, deadline=None, database=None, derandomize=False,
                   phases=[Phase.generate, Phase.shrink],
                   suppress_health_check=list(HealthCheck))

    @cfg
    @given(st.one_of(mutated(), st.binary(max_size=4096)))
    def fuzz_decode(data: bytes) -> None:
        check_decode(data)

    with tempfile.TemporaryDirectory() as tmp:
        @cfg
        @given(configs())
        def fuzz_config(text: str) -> None:
            check_config(text, Path(tmp))

        run("decode", fuzz_decode, args.seconds * 0.6)
        run("config", fuzz_config, args.seconds * 0.4)
    print(f"inputs tried: decoder {tried['decode']}, config loader {tried['config']}")
    if slow:
        worst = max(slow)
        print(f"slow decodes (> {SLOW_SECONDS}s): {len(slow)}, worst {worst[0]:.2f}s, "
              f"starting {worst[1]!r}")
    for f in dict.fromkeys(findings):
        print("finding:", f)
    print(f"findings: {len(set(findings))}")
    return 1 if findings or slow else 0


if __name__ == "__main__":
    sys.exit(main())
