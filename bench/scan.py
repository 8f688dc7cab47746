"""Benchmark: `facefold scan` against the original script's naive loop, same photos, same run.

The naive loop is what the original did: a plain `mtcnn.MTCNN()` (eager) on the full-size image,
the box cut out and resized to 160 x 160, one `model.predict` per face. facefold is the real
`scan`: JPEG draft decoding, MTCNN (configured runtime) on a copy of at most `detection.max_side`,
landmark alignment, faces of many photos embedded together, SQLite, clustering, folder sync.
Both use models loaded before timing starts.

    .venv/bin/python bench/scan.py [--photos N] [--large N] [--no-watch]

`--large N` adds N photos upscaled to 12 megapixels (4000 x 3000), as phones take them.
Prints, per set: photos/s and faces/s of both and their ratio, facefold's seconds per stage, the
pairwise F1 of the people it made, MTCNN's ms per photo on each detection runtime (before: the
mtcnn package in TensorFlow; after: LiteRT); then FaceNet's own batched floor next to the embed
stage, each embedding runtime's speed and quality, model load and `facefold watch` start-up times,
and the peak memory of a `facefold scan` process on each set. The last line is
`speedup: small=X.X large=Y.Y` (facefold's photos/s over the naive loop's; large is `-` when not
run).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from sqlalchemy import text

from facefold.config import Settings, load_settings
from facefold.core import Library, Models
from facefold.core.clusterer import cluster_params
from facefold.core.scan import ScanResult, scan
from facefold.evaluate import evaluate, pairwise_scores
from facefold.people.cluster import NOISE
from facefold.vision.decode import decode_image
from facefold.vision.embed import EMBED_RUNTIMES, Embedder, l2_normalise, standardise
from facefold.vision.faces import find_faces
from facefold.vision.runtime import import_tensorflow
from facefold.vision.shapes import CROP_SIZE
from facefold.vision.weights import fetch_dataset, fetch_weights

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Photo:
    path: Path
    person: str


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def naive_loop(photos: list[Photo], mtcnn: object, model: object) -> tuple[int, float]:
    """The original script's loop; returns (faces, seconds)."""
    faces = 0
    t0 = time.perf_counter()
    for p in photos:
        pixels = decode_image(p.path.read_bytes(), 10**9)
        for det in mtcnn.detect_faces(pixels):  # type: ignore[attr-defined]
            x, y, w, h = (max(0, int(v)) for v in det["box"])
            face = cv2.resize(pixels[y:y + h, x:x + w], (CROP_SIZE, CROP_SIZE))
            l2_normalise(model.predict(standardise(face[None]), verbose=0))  # type: ignore[attr-defined]
            faces += 1
    return faces, time.perf_counter() - t0


def write_config(work: Path) -> Path:
    cfg = work / "config.yaml"
    settings = load_settings(REPO / "config.yaml")
    cfg.write_text(yaml.safe_dump({"models_dir": str(settings.models_dir)}))
    return cfg


def facefold_scan(photos: list[Photo], models: Models, work: Path) -> tuple[ScanResult, float, float]:
    """Run `scan` on a fresh inbox of `photos`; return its result, seconds and the pairwise F1
    of the people it made over every face (the person folder of its photo is the truth)."""
    inbox = work / "inbox"
    for i, p in enumerate(photos):
        (inbox / p.person).mkdir(parents=True, exist_ok=True)
        shutil.copy(p.path, inbox / p.person / f"{i:04d}-{p.path.name}")
    lib = Library(load_settings(write_config(work)), models)
    lib.engine  # noqa: B018  # migrate before timing
    t0 = time.perf_counter()
    result = scan(lib)
    seconds = time.perf_counter() - t0
    with lib.session() as s:
        rows = s.execute(text("SELECT i.path, f.person_id FROM faces f "
                              "JOIN images i ON i.id = f.image_id")).all()
    people = sorted({Path(path).parent.name for path, _ in rows})
    truth = np.array([people.index(Path(path).parent.name) for path, _ in rows])
    pred = np.array([NOISE if pid is None else pid for _, pid in rows])
    f1 = pairwise_scores(pred, truth)[2] if len(rows) > 1 else 0.0
    lib.close()
    return result, seconds, f1


def upscale(photos: list[Photo], dest: Path) -> list[Photo]:
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for i, p in enumerate(photos):
        img = cv2.imread(str(p.path))
        h, w = img.shape[:2]
        size = (4000, 3000) if w >= h else (3000, 4000)
        scale = min(size[0] / w, size[1] / h)
        big = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        canvas = np.full((size[1], size[0], 3), 127, np.uint8)
        y0, x0 = (size[1] - big.shape[0]) // 2, (size[0] - big.shape[1]) // 2
        canvas[y0:y0 + big.shape[0], x0:x0 + big.shape[1]] = big
        q = dest / f"large-{i:04d}.jpg"
        cv2.imwrite(str(q), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
        out.append(Photo(q, p.person))
    return out


def compare(label: str, photos: list[Photo], models: Models, naive_mtcnn: object,
            work: Path, between: Callable[[], None] = lambda: None) -> tuple[float, ScanResult]:
    """facefold, then `between` (the embed floor, measured while the machine is in the same
    state), then the naive loop, on the same photos."""
    result, ff_s, f1 = facefold_scan(photos, models, work / f"ff-{label}")
    rss = peak_rss_gb()
    between()
    nv_faces, nv_s = naive_loop(photos, naive_mtcnn, models.embedder.model)  # type: ignore[attr-defined]
    n, ff_faces = len(photos), result.faces
    print(f"{label:>5}: {n} photos | facefold {n / ff_s:6.2f} photos/s {ff_faces / ff_s:6.2f} "
          f"faces/s ({ff_faces} faces, {ff_s:.1f}s) | naive {n / nv_s:6.2f} photos/s "
          f"{nv_faces / nv_s:6.2f} faces/s ({nv_faces} faces, {nv_s:.1f}s) | "
          f"ratio {nv_s / ff_s:.2f}")
    stages = result.stages.seconds
    per = ", ".join(f"{k} {v:.2f}s ({1000 * v / n:.0f} ms/photo)" for k, v in stages.items())
    print(f"{label:>5}: facefold stages: {per}")
    people = result.recluster.persons if result.recluster else 0
    print(f"{label:>5}: facefold people {people}, pairwise F1 {f1:.4f}; "
          f"peak memory after it {rss:.2f} GB")
    return nv_s / ff_s, result


def embed_floor(models: Models) -> tuple[float, int]:
    """FaceNet alone: the best faces/s of one large batched forward pass, over a few batch sizes,
    each traced at its fixed shape and warmed up first."""
    tf = import_tensorflow()
    model = models.embedder.model  # type: ignore[attr-defined]
    x = np.random.default_rng(0).standard_normal((128, CROP_SIZE, CROP_SIZE, 3)).astype(np.float32)
    best, best_bs = 0.0, 0
    for bs in (32, 64, 128):
        spec = tf.TensorSpec((bs, CROP_SIZE, CROP_SIZE, 3), tf.float32)
        fn = tf.function(lambda v: model(v, training=False), input_signature=[spec])
        fn(x[:bs])
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            np.asarray(fn(x[:bs]))
            times.append(time.perf_counter() - t0)
        rate = bs / min(times)
        if rate > best:
            best, best_bs = rate, bs
    return best, best_bs


def runtimes(models: Models, photos: list[Photo], settings: Settings, floor: float) -> None:
    """Each embedding runtime on the largest face of every photo: faces/s (best of three passes,
    after a warm-up; the TFLite forms converted first, outside the timing), against the
    TensorFlow floor of this run, and the quality it gives: verification accuracy and clustering
    F1 with the configured rule."""
    crops, labels, names = [], [], sorted({p.person for p in photos})
    for ph in photos:
        faces = find_faces(models.finder, decode_image(ph.path.read_bytes(), 10**8),
                           settings.embedding.margin)
        if faces:
            crops.append(max(faces, key=lambda f: f.detection.box[2] * f.detection.box[3]).crop)
            labels.append(names.index(ph.person))
    x, y = np.stack(crops), np.array(labels)
    params = cluster_params(settings)
    base = 0.0
    print(f"embedding runtimes ({len(x)} faces; configured: {settings.embedding.runtime}):")
    for runtime in EMBED_RUNTIMES:
        emb = Embedder(settings.weights_file(), settings.embedding.batch_size, runtime,
                       settings.models_dir)
        emb.embed(x[:40])  # load, convert when not cached, warm up
        best = min(_timed(lambda e=emb: e.embed(x)) for _ in range(3))
        rate = len(x) / best
        base = base or rate
        ev = evaluate(emb.embed(x), y, params, runtime)
        print(f"  {runtime:12} {rate:7.1f} faces/s  {rate / base:4.2f}× TensorFlow's, "
              f"{rate / floor:4.2f}× its floor; verification {ev.verification_accuracy:.4f}, "
              f"membership F1 {ev.membership_f1:.4f}, pairwise F1 {ev.pairwise_f1:.4f}")


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def detection(models: Models, sets: dict[str, list[Photo]], settings: Settings) -> None:
    """MTCNN alone, ms per photo on the pixels the pipeline gives it (draft-decoded), for each
    detection runtime: `tensorflow` (the mtcnn package, networks traced as graphs: before) and
    `tflite` (LiteRT networks, NumPy pipeline: after). Best of two passes after a warm-up."""
    from facefold.core.library import detect_params
    from facefold.vision.decode import decode_photo
    from facefold.vision.detect import DETECT_RUNTIMES, FaceDetector

    finders = {rt: FaceDetector(detect_params(settings), rt, settings.models_dir)
               for rt in DETECT_RUNTIMES}
    for label, photos in sets.items():
        decoded = [decode_photo(p.path.read_bytes(), 10**9, settings.decode.draft_min_side)
                   for p in photos]
        ms = {}
        for rt, finder in finders.items():
            finder.detect(decoded[0].pixels, decoded[0].scale)  # load, convert, warm up
            best = min(_timed(lambda f=finder, ds=decoded: [f.detect(d.pixels, d.scale) for d in ds])
                       for _ in range(2))
            ms[rt] = 1000 * best / len(decoded)
        print(f"{label:>5}: detection {ms['tensorflow']:.1f} ms/photo before (tensorflow), "
              f"{ms['tflite']:.1f} after (tflite): {ms['tensorflow'] / ms['tflite']:.2f}× faster")


def scan_memory(folder: Path, work: Path) -> float:
    """Peak resident memory (GB) of a fresh `facefold scan` process over `folder`, with the
    configured runtimes: what the daemon's worker holds for such photos."""
    work.mkdir(parents=True, exist_ok=True)
    cfg = write_config(work)
    probe = ("import resource, subprocess, sys; "
             "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "facefold.cli",
                          "scan", "--config", str(cfg), str(folder)],
                         capture_output=True, text=True, check=True, cwd=work)
    return int(out.stdout.split()[-1]) / 1024**2


def watch_startup(work: Path) -> float:
    """Seconds from launching `facefold watch` until it logs that it is watching."""
    work.mkdir(parents=True, exist_ok=True)
    cfg = write_config(work)
    log = work / "watch.log"
    env = dict(os.environ)
    t0 = time.perf_counter()
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "facefold.cli", "watch", "--config",
                                 str(cfg)], stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=work)
        try:
            while "watching" not in log.read_text(errors="replace"):
                if proc.poll() is not None or time.perf_counter() - t0 > 300:
                    raise RuntimeError(f"facefold watch did not start:\n{log.read_text()}")
                time.sleep(0.05)
            return time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", type=int, default=0, help="small photos to use (0: all)")
    ap.add_argument("--large", type=int, default=0, help="12-megapixel photos to add (0: none)")
    ap.add_argument("--no-watch", action="store_true", help="skip the watch start-up timing")
    args = ap.parse_args()

    settings = load_settings(REPO / "config.yaml")
    fetch_weights(settings.models_dir)
    data = fetch_dataset(settings.models_dir, Path.home() / ".cache/facefold/testdata/5-celebrity")
    photos = [Photo(p, p.parent.name)
              for p in sorted(data.glob("train/*/*.jpg")) + sorted(data.glob("val/*/*.jpg"))]
    if args.photos:
        photos = photos[: args.photos]
    t0 = time.perf_counter()
    models = Models.from_settings(settings)
    models.load()
    load_s = time.perf_counter() - t0
    print(f"model load: {load_s:.1f}s (in this process; peak memory {peak_rss_gb():.2f} GB)")
    from mtcnn import MTCNN

    naive_mtcnn = MTCNN()  # the original's detector: eager, full-size images
    # warm both paths (graph tracing, first-call allocations) outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        facefold_scan(photos[:2], models, Path(tmp))
        naive_loop(photos[:2], naive_mtcnn, models.embedder.model)  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        floors: list[tuple[float, int]] = []
        small, res = compare("small", photos, models, naive_mtcnn, work,
                             lambda: floors.append(embed_floor(models)))
        large = None
        sets = {"small": photos}
        if args.large:
            big = upscale(photos[: args.large], work / "large-src")
            large, _ = compare("large", big, models, naive_mtcnn, work)
            sets["large"] = big
        detection(models, sets, settings)
        floor, floor_bs = floors[0]
        embed_s = res.stages.seconds.get("embed", 0.0)
        rate = res.faces / embed_s if embed_s else 0.0
        print(f"embed: pipeline {rate:.1f} faces/s (batches of up to "
              f"{settings.embedding.batch_size} faces over {settings.watch.batch_photos} photos); "
              f"network floor {floor:.1f} faces/s (one batch of {floor_bs}); "
              f"floor / pipeline = {floor / rate if rate else float('inf'):.2f}")
        runtimes(models, photos, settings, floor)
        if not args.no_watch:
            print(f"watch start-up: {watch_startup(work / 'watch'):.1f}s to 'watching' "
                  "(a new process: imports, models, database)")
        small_src = work / "small-src"
        for i, ph in enumerate(photos):
            (small_src / ph.person).mkdir(parents=True, exist_ok=True)
            shutil.copy(ph.path, small_src / ph.person / f"{i:04d}-{ph.path.name}")
        mem = {"small": scan_memory(small_src, work / "mem-small")}
        if args.large:
            mem["large"] = scan_memory(work / "large-src", work / "mem-large")
        print("peak memory of a `facefold scan` process: " + ", ".join(
            f"{k} photos {v:.2f} GB" for k, v in mem.items()) + " (targets: 1.0 small, 1.5 large)")
    print(f"peak memory of this process: {peak_rss_gb():.2f} GB (the naive loop included)")
    print(f"speedup: small={small:.1f} large={'-' if large is None else f'{large:.1f}'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
