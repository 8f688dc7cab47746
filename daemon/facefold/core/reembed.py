"""Re-embedding stored faces after the FaceNet weights changed: vectors from different weights are
not comparable, so each face is cut again from its photo (stored landmarks, no detection) and
embedded with the weights in use. People, names and pinned faces are then kept by a full
recluster that maps clusters onto existing persons. Faces stored before their signatures were
made (by an older facefold: a face's pixels, its photo's) go the same way, so that copies are
known in an old library too; a running daemon does this a chunk at a time when idle."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facefold.core.clusterer import Clusterer, ReclusterResult
from facefold.core.library import Library
from facefold.core.people import settle
from facefold.core.photo import open_photo, stored_crop
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.db import queue
from facefold.files import ReadError
from facefold.vision.decode import DecodeError
from facefold.vision.pixels import photo_signature, pixel_signature
from facefold.vision.quality import face_quality

log = logging.getLogger(__name__)

REEMBED_CHUNK = 64  # faces re-embedded per step: a daemon's idle turn stays short


@dataclass(frozen=True)
class ReembedResult:
    faces: int  # re-embedded
    unreadable: int  # photos gone or unreadable: queued again, so the worker settles them
    left: int  # still to do


def reembed_some(lib: Library, limit: int = REEMBED_CHUNK) -> ReembedResult:
    """Re-embed up to `limit` faces made with other weights than the ones in use, or stored
    before their signatures (a face's pixels, its photo's) were made, which it makes."""
    embedder = lib.models.embedder
    embedder.load()
    weights = embedder.weights_id
    with lib.session() as s:
        todo = face_store.stale_faces(s, weights, limit)
    crops: list[np.ndarray] = []
    ids: list[int] = []
    quality: dict[int, tuple[float, float, float]] = {}
    pixels: dict[int, bytes] = {}
    photo_pixels: dict[str, bytes] = {}
    lost: list[str] = []
    by_photo: dict[str, list[face_store.StoredFace]] = {}
    for f in todo:
        by_photo.setdefault(f.path, []).append(f)
    for path, faces in by_photo.items():
        try:
            _photo, decoded = open_photo(Path(path), lib.settings)
        except (ReadError, DecodeError) as exc:
            log.warning("reembed: %s: %s; queued to be processed again", path, exc)
            lost.append(path)
            continue
        photo_pixels[path] = photo_signature(decoded.pixels)
        for f in faces:
            crops.append(stored_crop(decoded, f.landmarks, lib.settings.embedding.margin))
            ids.append(f.id)
            q = face_quality(f.box, f.confidence, np.array(json.loads(f.landmarks)), crops[-1])
            quality[f.id] = (q.score, q.sharpness, q.yaw)
            pixels[f.id] = pixel_signature(crops[-1])
    vectors = embedder.embed(crops)
    with lib.session() as s:
        face_store.set_embeddings(s, dict(zip(ids, vectors, strict=True)), weights, quality,
                                  pixels)
        face_store.set_photo_signatures(s, photo_pixels)
        queue.enqueue(s, lost)
        s.commit()
        left = face_store.count_stale_faces(s, weights)
    return ReembedResult(len(ids), len(lost), left)


@dataclass(frozen=True)
class Reembedded:
    faces: int
    unreadable: int
    weights: str
    recluster: ReclusterResult


def reembed_all(lib: Library, on_chunk: Callable[[ReembedResult], None] | None = None) -> Reembedded:
    """Re-embed every stale face, then recluster everything keeping people, names and faces
    placed by hand, and sync the folders."""
    done = lost = 0
    while True:
        res = reembed_some(lib)
        done, lost = done + res.faces, lost + res.unreadable
        if on_chunk:
            on_chunk(res)
        if res.left == 0 or res.faces == 0:
            break
    clusterer = Clusterer(lib.settings)
    with lib.session() as s:
        clusterer.load(s)
        people_store.bump_people_rev(s)  # a running daemon reloads who is who
        s.commit()
    settled = settle(lib, clusterer, idle=True, full=True)
    return Reembedded(done, lost, lib.models.embedder.weights_id, settled.recluster)
