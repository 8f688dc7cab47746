"""Looking at photos outside the library: who is in them (`identify`), and the original script's
face encodings (`encode`). Nothing here changes the library."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facefold.core.library import Library
from facefold.core.photo import faces_in_file
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.files import ReadError
from facefold.people.assign import nearest_named
from facefold.vision.decode import DecodeError
from facefold.vision.faces import FoundFace

log = logging.getLogger(__name__)


@dataclass
class Looked:
    """What was found in the photos: each face with its photo, and the photos that failed."""

    faces: list[tuple[Path, FoundFace]] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)


def look_at(lib: Library, photos: Sequence[Path]) -> Looked:
    """Every face in the given photos (symlinks followed: they were named on purpose); a photo
    that cannot be read is listed with the reason."""
    out = Looked()
    finder = lib.models.finder
    for photo in photos:
        try:
            out.faces += [(photo, f) for f in faces_in_file(photo, lib.settings, finder, True)]
        except (ReadError, DecodeError) as exc:
            out.failures.append((photo, str(exc)))
    return out


@dataclass(frozen=True)
class Match:
    """One face `identify` saw: where, who (a named person or unknown), how far."""

    photo: str
    box: list[float]
    person_id: int | None
    name: str
    distance: float | None


@dataclass(frozen=True)
class Identified:
    matches: list[Match]
    failures: list[tuple[Path, str]]


def identify(lib: Library, photos: Sequence[Path]) -> Identified:
    """For every face in the photos: the named person whose nearest face is within
    `identify.max_distance`, else unknown (the rule new faces in the library also follow)."""
    with lib.session() as s:
        fm = face_store.face_matrix(s)
        named = people_store.named_persons(s)
        names = people_store.person_names(s)
    looked = look_at(lib, photos)
    vectors = lib.models.embedder.embed([f.crop for _p, f in looked.faces])
    found = nearest_named(vectors, fm.vectors, fm.person_ids, named,
                          lib.settings.identify.max_distance)
    matches = [Match(str(photo), [round(v, 1) for v in f.detection.box], pid,
                     (names[pid] or "") if pid is not None else "unknown",
                     round(d, 4) if np.isfinite(d) else None)
               for (photo, f), (pid, d) in zip(looked.faces, found, strict=True)]
    return Identified(matches, looked.failures)


@dataclass(frozen=True)
class Encoded:
    images: int
    faces: int
    failures: list[tuple[Path, str]]
    out: Path


def encode(lib: Library, images: Sequence[Path], out: Path) -> Encoded:
    """The original script's encoder: write a pickle of {"paths", "boxes", "embeddings"}
    (N × EMBEDDING_DIM) for every face in the images."""
    looked = look_at(lib, images)
    vectors = lib.models.embedder.embed([f.crop for _p, f in looked.faces])
    payload = {
        "paths": [str(p.resolve()) for p, _f in looked.faces],
        "boxes": np.asarray([f.detection.box for _p, f in looked.faces], np.float32).reshape(-1, 4),
        "embeddings": vectors,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return Encoded(len(images), len(looked.faces), looked.failures, out)
