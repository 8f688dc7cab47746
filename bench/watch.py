"""Benchmark: drop N photos at once into the inbox of a running `facefold watch`.

Reports the daemon's start-up time (until it watches), the time from the drop to the last link in
the people folders, photos/s, and the daemon's peak memory (VmHWM). The photos are the 5-celebrity
set made distinct (mirrored, cropped, re-encoded), so none is skipped as a duplicate.

    .venv/bin/python bench/watch.py [--photos 500]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import yaml

from facefold.config import load_settings
from facefold.vision.weights import fetch_dataset, fetch_weights

REPO = Path(__file__).resolve().parent.parent


def make_photos(src: list[Path], n: int, dest: Path) -> list[Path]:
    dest.mkdir(parents=True)
    out = []
    for i in range(n):
        img = cv2.imread(str(src[i % len(src)]))
        variant = i // len(src)
        if variant % 2:
            img = cv2.flip(img, 1)
        c = variant // 2
        if c:
            h, w = img.shape[:2]
            img = img[c * 2:h - c * 2, c * 2:w - c * 2]
        p = dest / f"{i:04d}.jpg"
        cv2.imwrite(str(p), img, [cv2.IMWRITE_JPEG_QUALITY, 90 - variant])
        out.append(p)
    return out


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=500)
    args = ap.parse_args()
    settings = load_settings(REPO / "config.yaml")
    fetch_weights(settings.models_dir)
    data = fetch_dataset(settings.models_dir, Path.home() / ".cache/facefold/testdata/5-celebrity")
    src = sorted(data.glob("train/*/*.jpg")) + sorted(data.glob("val/*/*.jpg"))

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        staged = make_photos(src, args.photos, root / "staged")
        inbox = root / "inbox"
        inbox.mkdir()
        cfg = root / "config.yaml"
        cfg.write_text(yaml.safe_dump({"models_dir": str(settings.models_dir),
                                       "watch": {"settle_seconds": 1.0}}))
        log = (root / "daemon.log").open("wb")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "facefold.cli", "watch", "--config", str(cfg)],
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        while b"watching" not in (root / "daemon.log").read_bytes():
            time.sleep(0.1)
        started = time.perf_counter() - t0

        t1 = time.perf_counter()
        for p in staged:
            os.rename(p, inbox / p.name)
        db = root / "state" / "facefold.db"
        people = root / "people"
        last_change, last_count = time.perf_counter(), -1
        while True:
            time.sleep(0.5)
            with sqlite3.connect(db, timeout=30) as c:
                busy = c.execute("SELECT COUNT(*) FROM images WHERE status IN "
                                 "('queued','processing')").fetchone()[0]
                done = c.execute("SELECT COUNT(*) FROM images WHERE status IN "
                                 "('done','failed')").fetchone()[0]
            count = sum(1 for d in people.iterdir() if d.is_dir() for _ in d.iterdir())
            if count != last_count:
                last_change, last_count = time.perf_counter(), count
            if done == len(staged) and busy == 0 and time.perf_counter() - last_change > 5:
                break
        to_last_link = last_change - t1
        peak = vm_hwm_mb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        log.close()
        with sqlite3.connect(db) as c:
            faces = c.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
            persons = c.execute("SELECT COUNT(*) FROM persons").fetchone()[0]
        print(f"start-up to watching: {started:.1f}s")
        print(f"{len(staged)} photos dropped: last link after {to_last_link:.1f}s "
              f"({len(staged) / to_last_link:.2f} photos/s), {faces} faces, {persons} people, "
              f"{last_count} links")
        print(f"daemon peak memory (VmHWM): {peak:.0f} MB; exit code after SIGTERM: {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
