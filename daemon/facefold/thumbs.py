"""Face thumbnails: small square JPEGs of each face in the state dir, made when the face is stored
and made again from the photo when missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from facefold.files import ReadError, read_photo
from facefold.vision.align import align_face
from facefold.vision.decode import DecodeError, decode_image

THUMB_SIZE = 112  # pixels; the aligned 160 px crop (20% margin) scaled down
THUMB_QUALITY = 85  # JPEG quality


def thumb_path(state_dir: Path, face_id: int) -> Path:
    """`state/thumbs/0012/12345.jpg`: at most 1000 files a folder."""
    return state_dir / "thumbs" / f"{face_id // 1000:04d}" / f"{face_id}.jpg"


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


def ensure_thumb(state_dir: Path, face_id: int, photo: str, landmarks_json: str,
                 max_bytes: int, max_pixels: int, margin: float = 0.2,
                 follow_symlinks: bool = False) -> Path | None:
    """Return the face's thumbnail, making it from the photo when missing; None when the photo
    cannot be read any more."""
    path = thumb_path(state_dir, face_id)
    if path.exists():
        return path
    try:
        pixels = decode_image(read_photo(Path(photo), max_bytes, follow_symlinks).data, max_pixels)
    except (ReadError, DecodeError):
        return None
    crop = align_face(pixels, np.array(json.loads(landmarks_json), dtype=np.float64), 160, margin)
    write_thumb(path, crop)
    return path
