"""Face thumbnails: small square JPEGs of each face in the state dir, made when the face is stored
(and made again from the photo when missing, by `core.reports.ensure_thumb`)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

THUMB_SIZE = 112  # pixels; the aligned crop (20% margin) scaled down
THUMB_QUALITY = 85  # JPEG quality
THUMBS_PER_FOLDER = 1000  # face ids are spread over folders of at most this many files


def thumb_path(state_dir: Path, face_id: int) -> Path:
    """`state/thumbs/0012/12345.jpg`."""
    return state_dir / "thumbs" / f"{face_id // THUMBS_PER_FOLDER:04d}" / f"{face_id}.jpg"


def write_thumb(path: Path, crop: np.ndarray, size: int = THUMB_SIZE) -> None:
    """Write an RGB crop as a `size`² JPEG, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, THUMB_QUALITY])
    if not ok:
        raise OSError(f"cannot encode thumbnail {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)
