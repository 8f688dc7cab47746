"""Re-embedding stored faces after the FaceNet weights changed: vectors from different weights are
not comparable, so each face is cut again from its photo (stored landmarks, no detection) and
embedded with the weights in use. People, names and pinned faces are then kept by a full
recluster that maps clusters onto existing persons."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.files import ReadError, read_photo
from facefold.service.pipeline import Models
from facefold.vision.align import align_face
from facefold.vision.decode import DecodeError, decode_photo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReembedResult:
    faces: int  # re-embedded
    unreadable: int  # photos gone or unreadable: queued again, so the worker settles them
    left: int  # still to do


def reembed_some(settings: Settings, engine: Engine, models: Models, limit: int) -> ReembedResult:
    """Re-embed up to `limit` faces made with other weights than the ones in use."""
    models.embedder.load()
    weights = models.embedder.weights_id
    with Session(engine) as s:
        todo = store.stale_faces(s, weights, limit)
    crops: list[np.ndarray] = []
    ids: list[int] = []
    lost: list[str] = []
    by_photo: dict[str, list[store.StaleFace]] = {}
    for f in todo:
        by_photo.setdefault(f.path, []).append(f)
    for path, faces in by_photo.items():
        try:
            decoded = decode_photo(read_photo(Path(path), settings.decode.max_file_bytes,
                                              settings.follow_symlinks).data,
                                   settings.decode.max_pixels, settings.decode.draft_min_side)
        except (ReadError, DecodeError) as exc:
            log.warning("reembed: %s: %s; queued to be processed again", path, exc)
            lost.append(path)
            continue
        for f in faces:
            landmarks = np.array(json.loads(f.landmarks), np.float64) / decoded.scale
            crops.append(align_face(decoded.pixels, landmarks, 160, settings.embedding.margin))
            ids.append(f.id)
    vectors = models.embedder.embed(crops)
    with Session(engine) as s:
        store.set_embeddings(s, dict(zip(ids, vectors, strict=True)), weights)
        store.enqueue(s, lost)
        s.commit()
        left = store.count_stale_faces(s, weights)
    return ReembedResult(len(ids), len(lost), left)
