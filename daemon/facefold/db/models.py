"""The schema, as typed SQLAlchemy 2.0 models. Migrations in the top-level `migrations/` create it."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from facefold.db.types import Embedding, FsPath

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ImageStatus(enum.StrEnum):
    queued = "queued"
    processing = "processing"
    done = "done"
    failed = "failed"


class Image(Base):
    """A photo file at one path, and its place in the work queue (`status`).

    Faces hang off the first image with a given content (sha256); other paths with the same
    content share them through the `person_photos` view. `sha256` is the content last processed
    (or that failed), so a queued photo keeps showing its faces until it is processed again."""

    __tablename__ = "images"
    __table_args__ = (Index("ix_images_status_queued_at", "status", "queued_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)  # any name (db.types.FsPath)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    pixels: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # the photo in small
    # (vision.pixels.photo_signature): copies of one photo are known by it; None: not made
    status: Mapped[ImageStatus] = mapped_column(
        Enum(ImageStatus, native_enum=False, length=16, validate_strings=True), index=True
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime | None] = mapped_column()  # when it last entered the queue
    next_attempt_at: Mapped[datetime | None] = mapped_column()  # a retry waits until then
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # who is processing it
    lease_until: Mapped[datetime | None] = mapped_column()  # back on the queue after this
    # times a process stopped (crashed, was killed) while holding it: a photo that keeps
    # stopping the process is failed instead of being tried for ever
    interrupted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the file changed (rewritten, deleted, renamed) while it was being processed: queue it
    # again once this turn is done
    requeue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    faces: Mapped[list[Face]] = relationship(back_populates="image", cascade="all, delete-orphan")


class Person(Base):
    """A person: a cluster of faces with a stable id, optionally named by the user."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())

    faces: Mapped[list[Face]] = relationship(back_populates="person")


class Face(Base):
    """One detected face: where it is, how sure the detector was, and its FaceNet vector."""

    __tablename__ = "faces"
    __table_args__ = (
        Index("ix_faces_person_id_image_id", "person_id", "image_id"),
        # a person's best face, and their faces most confident first, without sorting them all
        Index("ix_faces_person_best", "person_id", text("quality DESC"), text("confidence DESC"),
              "id"),
        Index("ix_faces_person_confidence", "person_id", text("confidence DESC"), "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    box_x: Mapped[float] = mapped_column(Float)
    box_y: Mapped[float] = mapped_column(Float)
    box_w: Mapped[float] = mapped_column(Float)
    box_h: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[str] = mapped_column(Text)  # JSON [[x, y] × 5]: eyes, nose, mouth corners
    confidence: Mapped[float] = mapped_column(Float)
    embedding: Mapped[bytes] = mapped_column(Embedding)  # 128 float32, unit length (db.types)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # a person said this detection is not a face: nobody's, pinned, and seen by no clustering
    not_face: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    weights: Mapped[str] = mapped_column(String(80), default="", server_default="", index=True)
    quality: Mapped[float | None] = mapped_column(Float)  # 0..1 (vision.quality); None: not measured
    sharpness: Mapped[float | None] = mapped_column(Float)  # variance of the crop's Laplacian
    yaw: Mapped[float | None] = mapped_column(Float)  # nose offset in half eye-distances; 0 frontal
    # the aligned crop as 32 x 32 grayscale (vision.pixels); None: stored before it was kept
    pixels: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    image: Mapped[Image] = relationship(back_populates="faces")
    person: Mapped[Person | None] = relationship(back_populates="faces")


class PersonApart(Base):
    """Two persons a user said are different people (`facefold apart`): no recluster or merge
    suggestion ever makes them one. Stored with person_a < person_b."""

    __tablename__ = "person_apart"
    __table_args__ = (CheckConstraint("person_a < person_b", name="ordered"),)

    person_a: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"),
                                          primary_key=True)
    person_b: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"),
                                          primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class KeptFace(Base):
    """A person's work on a face whose photo was forgotten (its file gone): the person it was
    in, when that person was named, hidden or kept apart from another, or that it was placed or
    taken out by hand (`pinned`), or said not to be a face. Kept by the photo's content and the face's box, so the same
    photo coming back under any path gets it again."""

    __tablename__ = "kept_faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    box_x: Mapped[float] = mapped_column(Float)
    box_y: Mapped[float] = mapped_column(Float)
    box_w: Mapped[float] = mapped_column(Float)
    box_h: Mapped[float] = mapped_column(Float)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    not_face: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class EditLog(Base):
    """One hand edit to people (name, merge, move, …): what it was and, as JSON, the persons,
    faces and apart links it touched as they were before, so that `undo` can put them back."""

    __tablename__ = "edit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    action: Mapped[str] = mapped_column(Text)
    before: Mapped[str] = mapped_column(Text)


class Batch(Base):
    """One batch of the worker: what it did and how long it took (for `facefold status`)."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    photos: Mapped[int] = mapped_column(Integer)
    faces: Mapped[int] = mapped_column(Integer)
    new_persons: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)


class Meta(Base):
    """Small key/value facts, e.g. `people_rev`: bumped by every change to people made outside
    the daemon, so a running daemon reloads who is who."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
