"""Benchmark: `facefold scan` against the original script's naive loop, same photos, same run.

The naive loop is what the original did: MTCNN on the full-size image, the box cut out and resized
to 160 × 160, one `model.predict` per face. facefold: detection on a copy of at most
`detection.max_side`, landmark alignment, faces of many photos embedded together at a fixed batch
shape, then SQLite, clustering and the folder sync. Both use models loaded before timing starts.

    .venv/bin/python bench/scan.py [--photos N] [--large N]

`--large N` adds N photos upscaled to 12 megapixels (4000 × 3000), as phones take them.
Prints photos/s and faces/s of both and their ratio; the last line is
`speedup: small=X.X large=Y.Y` (large is `-` when not run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from facefold.config import load_settings  # noqa: E402
from facefold.db.engine import make_engine, upgrade_head  # noqa: E402
from facefold.service.pipeline import Models
from facefold.service.scan import scan  # noqa: E402
from facefold.vision.decode import decode_image  # noqa: E402
from facefold.vision.embed import l2_normalise, standardise  # noqa: E402
from facefold.vision.weights import fetch_dataset, fetch_weights  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def naive_loop(photos: list[Path], models: Models) -> tuple[int, float]:
    """The original script's loop; returns (faces, seconds)."""
    mtcnn = models.detector._mtcnn
    model = models.embedder.model
    faces = 0
    t0 = time.perf_counter()
    for p in photos:
        pixels = decode_image(p.read_bytes(), 10**9)
        for det in mtcnn.detect_faces(pixels):
            x, y, w, h = (max(0, int(v)) for v in det["box"])
            face = cv2.resize(pixels[y:y + h, x:x + w], (160, 160))
            l2_normalise(model.predict(standardise(face[None]), verbose=0))
            faces += 1
    return faces, time.perf_counter() - t0


def facefold_scan(photos: list[Path], models: Models, work: Path) -> tuple[int, float]:
    inbox = work / "inbox"
    inbox.mkdir(parents=True)
    for i, p in enumerate(photos):
        shutil.copy(p, inbox / f"{i:04d}-{p.name}")
    cfg = work / "config.yaml"
    settings = load_settings(REPO / "config.yaml")
    cfg.write_text(yaml.safe_dump({"models_dir": str(settings.models_dir)}))
    settings = load_settings(cfg)
    engine = make_engine(settings.database)
    upgrade_head(engine)
    t0 = time.perf_counter()
    result = scan(settings, engine, models)
    return result.faces, time.perf_counter() - t0


def upscale(photos: list[Path], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i, p in enumerate(photos):
        img = cv2.imread(str(p))
        h, w = img.shape[:2]
        size = (4000, 3000) if w >= h else (3000, 4000)
        scale = min(size[0] / w, size[1] / h)
        big = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((size[1], size[0], 3), 127, np.uint8)
        y0, x0 = (size[1] - big.shape[0]) // 2, (size[0] - big.shape[1]) // 2
        canvas[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
        q = dest / f"large-{i:04d}.jpg"
        cv2.imwrite(str(q), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
        out.append(q)
    return out


def compare(label: str, photos: list[Path], models: Models, work: Path) -> float:
    ff_faces, ff_s = facefold_scan(photos, models, work / f"ff-{label}")
    nv_faces, nv_s = naive_loop(photos, models)
    n = len(photos)
    print(f"{label:>5}: {n} photos | facefold {n / ff_s:6.2f} photos/s {ff_faces / ff_s:6.2f} faces/s "
          f"({ff_faces} faces, {ff_s:.1f}s) | naive {n / nv_s:6.2f} photos/s "
          f"{nv_faces / nv_s:6.2f} faces/s ({nv_faces} faces, {nv_s:.1f}s) | "
          f"ratio {nv_s / ff_s:.2f}")
    return nv_s / ff_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=0, help="small photos to use (0: all)")
    ap.add_argument("--large", type=int, default=0, help="12-megapixel photos to add (0: none)")
    args = ap.parse_args()

    settings = load_settings(REPO / "config.yaml")
    fetch_weights(settings.models_dir)
    data = fetch_dataset(settings.models_dir, Path.home() / ".cache/facefold/testdata/5-celebrity")
    photos = sorted(data.glob("train/*/*.jpg")) + sorted(data.glob("val/*/*.jpg"))
    if args.photos:
        photos = photos[: args.photos]
    t0 = time.perf_counter()
    models = Models.from_settings(settings)
    models.load()
    print(f"model load: {time.perf_counter() - t0:.1f}s")
    # warm both paths (graph tracing, first-call allocations) outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        facefold_scan(photos[:2], models, Path(tmp))
        naive_loop(photos[:2], models)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        small = compare("small", photos, models, work)
        large = None
        if args.large:
            big = upscale(photos[: args.large], work / "large-src")
            large = compare("large", big, models, work)
    print(f"speedup: small={small:.1f} large={'-' if large is None else f'{large:.1f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
