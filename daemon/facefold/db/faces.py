"""The faces table: stored faces, their vectors as matrices, and who each face is.

Every function takes the caller's Session and none commits.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Row, and_, func, or_, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from facefold.db.models import Face, Image, ImageStatus
from facefold.db.types import EMBEDDING_DTYPE, text_to_path
from facefold.vision.pixels import SCENE_BYTES, scene, signatures
from facefold.vision.shapes import EMBEDDING_DIM


@dataclass(frozen=True)
class NewFace:
    box: tuple[float, float, float, float]
    landmarks: list[list[float]]
    confidence: float
    embedding: np.ndarray  # (EMBEDDING_DIM,) float32, unit length
    weights: str = ""  # which FaceNet weights made the embedding (Embedder.weights_id)
    quality: float | None = None  # 0..1, vision.quality; None: not measured
    sharpness: float | None = None
    yaw: float | None = None
    pixels: bytes | None = None  # vision.pixels signature of the aligned crop


def face_rows(image_id: int, faces: Sequence[NewFace]) -> list[Face]:
    """ORM rows for new faces of one image."""
    return [Face(
        image_id=image_id, box_x=f.box[0], box_y=f.box[1], box_w=f.box[2], box_h=f.box[3],
        landmarks=json.dumps(f.landmarks), confidence=f.confidence,
        embedding=np.asarray(f.embedding, dtype=EMBEDDING_DTYPE).tobytes(), weights=f.weights,
        quality=f.quality, sharpness=f.sharpness, yaw=f.yaw, pixels=f.pixels,
    ) for f in faces]


@dataclass(frozen=True)
class FaceMatrix:
    """Stored faces as arrays, row-aligned: what clustering needs, loaded in one query. The
    faces' signatures (for copies) are read apart, only for the faces that need them
    (`face_signatures`)."""

    face_ids: np.ndarray
    image_ids: np.ndarray
    person_ids: np.ndarray  # -1 where unassigned
    vectors: np.ndarray  # (N, EMBEDDING_DIM) float32
    pinned: np.ndarray  # bool: placed (or unassigned) by hand, never moved by clustering
    quality: np.ndarray  # 0..1; 1 where not measured (faces stored before it was)


def face_matrix(s: Session, face_ids: Sequence[int] | None = None,
                unassigned: bool = False) -> FaceMatrix:
    """All faces (or those with the given ids, or with `unassigned` the faces of nobody) as one
    matrix; detections said not to be a face are left out: no clustering sees them."""
    q = (select(Face.id, Face.image_id, Face.person_id, Face.embedding, Face.pinned,
                Face.quality).where(~Face.not_face).order_by(Face.id))
    if face_ids is not None:
        q = q.where(Face.id.in_(list(face_ids)))
    if unassigned:
        q = q.where(Face.person_id.is_(None))
    rows = s.execute(q).all()
    if not rows:
        return FaceMatrix(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
                          np.zeros((0, EMBEDDING_DIM), np.float32), np.zeros(0, bool),
                          np.zeros(0, np.float32))
    vectors = np.frombuffer(b"".join(r[3] for r in rows), dtype=EMBEDDING_DTYPE)
    return FaceMatrix(
        face_ids=np.array([r[0] for r in rows], dtype=np.int64),
        image_ids=np.array([r[1] for r in rows], dtype=np.int64),
        person_ids=np.array([r[2] if r[2] is not None else -1 for r in rows], dtype=np.int64),
        vectors=vectors.reshape(len(rows), -1).astype(np.float32),
        pinned=np.array([bool(r[4]) for r in rows], dtype=bool),
        quality=np.array([1.0 if r[5] is None else r[5] for r in rows], dtype=np.float32),
    )


def face_signatures(s: Session, face_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The faces' vision.pixels signatures, in the order given: (pixels, scenes) with zeros
    where none was stored (like no other signature)."""
    out_p, out_s = signatures([None] * len(face_ids)), np.zeros((len(face_ids), SCENE_BYTES),
                                                                np.uint8)
    where = {int(f): k for k, f in enumerate(face_ids)}
    for start in range(0, len(face_ids), 500):
        chunk = [int(f) for f in face_ids[start:start + 500]]
        for r in s.execute(select(Face.id, Face.pixels, Image.pixels, Face.box_x, Face.box_y,
                                  Face.box_w, Face.box_h, Image.width, Image.height)
                           .join(Image, Image.id == Face.image_id).where(Face.id.in_(chunk))):
            k = where[int(r[0])]
            out_p[k] = signatures([r[1]])[0]
            out_s[k] = scene(r[2], (r[3], r[4], r[5], r[6]), (r[7], r[8]))
    return out_p, out_s


def faces_signature(s: Session) -> tuple[int, int]:
    """(how many faces, the highest face id): it changes whenever faces are added or removed,
    by this process or another (a worker on another machine)."""
    n, top = s.execute(select(func.count(Face.id), func.max(Face.id)).where(~Face.not_face)).one()
    return int(n), int(top or 0)


def face_persons(s: Session) -> dict[int, int | None]:
    """face id → person id for every face, not-a-face ones left out (what a running daemon
    reloads after CLI changes)."""
    return {int(f): (None if p is None else int(p))
            for f, p in s.execute(select(Face.id, Face.person_id).where(~Face.not_face))}


def set_face_persons(s: Session, assignment: dict[int, int | None]) -> None:
    """Set face id → person id (None: unassigned) in bulk."""
    if assignment:
        s.execute(update(Face), [{"id": f, "person_id": p} for f, p in assignment.items()])


@dataclass(frozen=True)
class StoredFace:
    """A face and where it was found: enough to show it, or to cut it again from its photo."""

    id: int
    person_id: int | None
    path: str
    box: tuple[float, float, float, float]  # x, y, w, h in full-photo pixels
    landmarks: str  # JSON [[x, y] × 5] in full-photo pixels
    confidence: float
    pinned: bool
    quality: float | None = None  # 0..1; None: not measured
    not_face: bool = False  # a person said it is not a face


def _stored_columns() -> tuple[Any, ...]:
    return (Face.id, Face.person_id, Image.path, Face.box_x, Face.box_y, Face.box_w, Face.box_h,
            Face.landmarks, Face.confidence, Face.pinned, Face.quality, Face.not_face)


def _stored(row: Row[Any]) -> StoredFace:
    fid, pid, path, x, y, w, h, landmarks, confidence, pinned, quality, not_face = tuple(row)
    return StoredFace(fid, pid, path, (x, y, w, h), landmarks, confidence, bool(pinned), quality,
                      bool(not_face))


def faces_of_person(s: Session, pid: int | None, limit: int | None = None,
                    offset: int = 0) -> list[StoredFace]:
    """A person's faces (None: the faces of nobody, not-a-face detections left out), most
    confident first."""
    q = (select(*_stored_columns()).join(Image, Image.id == Face.image_id)
         .where((Face.person_id.is_(None) & ~Face.not_face) if pid is None
                else Face.person_id == pid)
         .order_by(Face.confidence.desc(), Face.id).offset(offset))
    return [_stored(r) for r in s.execute(q if limit is None else q.limit(limit))]


def faces_by_id(s: Session, ids: Sequence[int]) -> list[StoredFace]:
    rows = s.execute(select(*_stored_columns()).join(Image, Image.id == Face.image_id)
                     .where(Face.id.in_(list(ids))).order_by(Face.id))
    return [_stored(r) for r in rows]


def top_faces(s: Session, per_person: int, unassigned: int) -> list[StoredFace]:
    """Up to `per_person` faces of each person (most confident first) and up to `unassigned`
    faces of nobody, in one query."""
    ranked = select(
        *_stored_columns(),
        func.row_number().over(partition_by=Face.person_id,
                               order_by=(Face.confidence.desc(), Face.id)).label("rank"),
    ).join(Image, Image.id == Face.image_id).where(~Face.not_face).subquery()
    rows = s.execute(
        select(*[c for c in ranked.c if c.name != "rank"]).where(
            ((ranked.c.person_id.is_not(None)) & (ranked.c.rank <= per_person))
            | ((ranked.c.person_id.is_(None)) & (ranked.c.rank <= unassigned)))
        .order_by(ranked.c.person_id, ranked.c.rank)
    ).all()
    return [_stored(r) for r in rows]


def _stale(weights: str) -> ColumnElement[bool]:
    """Faces of processed photos embedded with other weights than `weights`, or stored before
    their pixel signature or their photo's was made."""
    return and_(Image.status == ImageStatus.done, or_(
        Face.weights != weights, Face.pixels.is_(None), Image.pixels.is_(None)))


def stale_faces(s: Session, weights: str, limit: int) -> list[StoredFace]:
    """Faces to embed again (`_stale`), by photo."""
    rows = s.execute(
        select(*_stored_columns()).join(Image, Image.id == Face.image_id)
        .where(_stale(weights)).order_by(Face.image_id, Face.id).limit(limit))
    return [_stored(r) for r in rows]


def count_stale_faces(s: Session, weights: str) -> int:
    return int(s.scalar(select(func.count(Face.id)).join(Image, Image.id == Face.image_id)
                        .where(_stale(weights))) or 0)


def set_photo_signatures(s: Session, signatures: dict[str, bytes]) -> None:
    """Set photos' signatures (vision.pixels.photo_signature), by path."""
    for path, sig in signatures.items():
        s.execute(update(Image).where(Image.path == path).values(pixels=sig))


def set_embeddings(s: Session, vectors: dict[int, np.ndarray], weights: str,
                   quality: dict[int, tuple[float, float, float]] | None = None,
                   pixels: dict[int, bytes] | None = None) -> None:
    """Replace faces' embeddings (made with `weights`), and their (quality, sharpness, yaw) and
    pixel signatures where given."""
    if vectors:
        q, px = quality or {}, pixels or {}
        s.execute(update(Face), [
            {"id": fid, "embedding": np.asarray(v, dtype=EMBEDDING_DTYPE).tobytes(),
             "weights": weights, **({} if fid not in q else dict(
                 zip(("quality", "sharpness", "yaw"), q[fid], strict=True))),
             **({} if fid not in px else {"pixels": px[fid]})}
            for fid, v in vectors.items()])


def photo_faces(s: Session) -> list[tuple[str, int | None, float]]:
    """(photo path, person id, box area) for every face a processed photo shows, copies of the
    same content included."""
    rows = s.execute(text(
        "SELECT i.path, f.person_id, f.box_w * f.box_h FROM images AS i "
        "JOIN images AS src ON src.sha256 = i.sha256 JOIN faces AS f ON f.image_id = src.id "
        "WHERE i.status = 'done'"))
    return [(text_to_path(str(p)), None if pid is None else int(pid), float(a))
            for p, pid, a in rows]


def nearest_faces(s: Session, fid: int, limit: int) -> list[tuple[StoredFace, float]]:
    """The `limit` faces closest to face `fid` (L2 distance between unit vectors; 0 is the same
    face), nearest first, with their distances. In SQL where the database can: pgvector's `<->`
    on PostgreSQL (its HNSW index: approximate at scale), sqlite-vec's `vec_distance_l2` on
    SQLite when the extension is loaded; else an exact search over the vectors in memory.
    Raise KeyError when there is no face `fid`."""
    vec = s.scalar(select(Face.embedding).where(Face.id == fid))
    if vec is None:
        raise KeyError(fid)
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        literal = "[" + ",".join(repr(float(x)) for x in np.frombuffer(vec, EMBEDDING_DTYPE)) + "]"
        found = [(int(f), float(d)) for f, d in s.execute(text(
            "SELECT id, embedding <-> CAST(:v AS vector) AS d FROM faces WHERE id <> :id "
            "ORDER BY embedding <-> CAST(:v AS vector) LIMIT :k"),
            {"v": literal, "id": fid, "k": limit})]
    elif dialect == "sqlite" and sqlite_vec_loaded(s):
        found = [(int(f), float(d)) for f, d in s.execute(text(
            "SELECT id, vec_distance_l2(embedding, :v) AS d FROM faces WHERE id <> :id "
            "ORDER BY d LIMIT :k"), {"v": vec, "id": fid, "k": limit})]
    else:
        fm = face_matrix(s)
        d = np.linalg.norm(fm.vectors - np.frombuffer(vec, EMBEDDING_DTYPE), axis=1)
        order = [i for i in np.argsort(d, kind="stable") if fm.face_ids[i] != fid][:limit]
        found = [(int(fm.face_ids[i]), float(d[i])) for i in order]
    faces = {f.id: f for f in faces_by_id(s, [f for f, _ in found])}
    return [(faces[f], d) for f, d in found if f in faces]


def sqlite_vec_loaded(s: Session) -> bool:
    """The sqlite-vec extension answers on this session's connection."""
    try:
        with s.begin_nested():
            s.execute(text("SELECT vec_version()"))
        return True
    except DBAPIError:
        return False
