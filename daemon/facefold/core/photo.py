"""One photo file → pixels → faces: the sequence every use case that looks at photos shares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from facefold.config import DecodeSettings, Settings
from facefold.files import PhotoFile, read_photo
from facefold.vision.align import align_face
from facefold.vision.decode import Decoded, decode_photo
from facefold.vision.faces import FoundFace, find_faces
from facefold.vision.ports import FaceFinder
from facefold.vision.shapes import CROP_SIZE


def decode(photo: PhotoFile, d: DecodeSettings) -> Decoded:
    """The photo's pixels, upright, decoded at a reduced scale when it is a large JPEG; raise
    DecodeError."""
    return decode_photo(photo.data, d.max_pixels, d.draft_min_side, d.max_scans)


def open_photo(path: Path, settings: Settings,
               follow_symlinks: bool | None = None) -> tuple[PhotoFile, Decoded]:
    """Read and decode a photo with the configured limits; raise ReadError or DecodeError.
    Symlinks are followed as configured unless `follow_symlinks` says otherwise (a photo named
    on the command line is the user's own choice)."""
    follow = settings.follow_symlinks if follow_symlinks is None else follow_symlinks
    photo = read_photo(path, settings.decode.max_file_bytes, follow)
    return photo, decode(photo, settings.decode)


def faces_in_photo(photo: PhotoFile, settings: Settings,
                   finder: FaceFinder) -> tuple[Decoded, list[FoundFace]]:
    """A photo already read, decoded, and every face in it, aligned; raise DecodeError."""
    decoded = decode(photo, settings.decode)
    return decoded, find_faces(finder, decoded.pixels, settings.embedding.margin, decoded.scale)


def faces_in_file(path: Path, settings: Settings, finder: FaceFinder,
                  follow_symlinks: bool | None = None) -> list[FoundFace]:
    """Every face in a photo file, aligned; raise ReadError or DecodeError. Symlinks are
    followed as configured unless `follow_symlinks` says otherwise."""
    follow = settings.follow_symlinks if follow_symlinks is None else follow_symlinks
    return faces_in_photo(read_photo(path, settings.decode.max_file_bytes, follow), settings,
                          finder)[1]


def largest(faces: list[FoundFace]) -> FoundFace | None:
    """The face with the largest box (the subject of a portrait), or None."""
    return max(faces, key=lambda f: f.detection.box[2] * f.detection.box[3], default=None)


def stored_crop(decoded: Decoded, landmarks_json: str, margin: float) -> np.ndarray:
    """A stored face cut again from its photo: its landmarks (full-photo pixels) → aligned crop."""
    landmarks = np.array(json.loads(landmarks_json), np.float64) / decoded.scale
    return align_face(decoded.pixels, landmarks, CROP_SIZE, margin)
