"""faces.not_face: a detection a person said is not a face (a poster, a statue, a pattern); it
belongs to nobody and no clustering sees it. kept_faces.not_face keeps that by content.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("faces", sa.Column("not_face", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column("kept_faces", sa.Column("not_face", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS person_photos")  # batch mode rebuilds the table
    with op.batch_alter_table("kept_faces") as batch:
        batch.drop_column("not_face")
    with op.batch_alter_table("faces") as batch:
        batch.drop_column("not_face")
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
