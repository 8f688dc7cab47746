"""images (and the work queue), faces, persons, batches and the person_photos view

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from facefold.db.types import Embedding

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

PERSON_PHOTOS_VIEW = """
CREATE VIEW person_photos AS
SELECT DISTINCT p.id AS person_id, p.name AS person_name, i.path AS photo_path
FROM persons AS p
JOIN faces AS f ON f.person_id = p.id
JOIN images AS src ON src.id = f.image_id
JOIN images AS i ON i.sha256 = src.sha256
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")  # pgvector: faces.embedding
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("mtime", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("queued", "processing", "done", "failed", name="imagestatus",
                    native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("path", name=op.f("uq_images_path")),
    )
    op.create_index(op.f("ix_images_sha256"), "images", ["sha256"])
    op.create_index(op.f("ix_images_status"), "images", ["status"])
    op.create_index("ix_images_status_queued_at", "images", ["status", "queued_at"])
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    op.create_table(
        "faces",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("box_x", sa.Float(), nullable=False),
        sa.Column("box_y", sa.Float(), nullable=False),
        sa.Column("box_w", sa.Float(), nullable=False),
        sa.Column("box_h", sa.Float(), nullable=False),
        sa.Column("landmarks", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("embedding", Embedding(), nullable=False),  # vector(128) on PostgreSQL
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], ondelete="CASCADE",
                                name=op.f("fk_faces_image_id_images")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="SET NULL",
                                name=op.f("fk_faces_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faces")),
    )
    op.create_index(op.f("ix_faces_image_id"), "faces", ["image_id"])
    op.create_index(op.f("ix_faces_person_id"), "faces", ["person_id"])
    op.create_index("ix_faces_person_id_image_id", "faces", ["person_id", "image_id"])
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("new_persons", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.execute(PERSON_PHOTOS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS person_photos")
    op.drop_table("batches")
    op.drop_table("faces")
    op.drop_table("persons")
    op.drop_table("images")
