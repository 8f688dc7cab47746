"""images.pixels: each photo as a 16 x 16 grayscale signature (vision.pixels.photo_signature), so
that a face in copies of one photo counts as one burst even where the face is too small for its
own pixels or FaceNet to match

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:  # plain ADD COLUMN: in place on SQLite, the view is not in the way
    op.add_column("images", sa.Column("pixels", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS person_photos")  # batch mode rebuilds the table
    with op.batch_alter_table("images") as batch:
        batch.drop_column("pixels")
    op.execute(PERSON_PHOTOS_VIEW)


# As 0001 made it
PERSON_PHOTOS_VIEW = """
CREATE VIEW person_photos AS
SELECT DISTINCT p.id AS person_id, p.name AS person_name, i.path AS photo_path
FROM persons AS p
JOIN faces AS f ON f.person_id = p.id
JOIN images AS src ON src.id = f.image_id
JOIN images AS i ON i.sha256 = src.sha256
"""
