"""images.next_attempt_at: back-off for photos whose failure may pass

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("next_attempt_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS person_photos")
    with op.batch_alter_table("images") as b:
        b.drop_column("next_attempt_at")
    op.execute(PERSON_PHOTOS_VIEW)


# As created by 0001; batch mode rebuilds the table, so the view is dropped and made again.
PERSON_PHOTOS_VIEW = """
CREATE VIEW person_photos AS
SELECT DISTINCT p.id AS person_id, p.name AS person_name, i.path AS photo_path
FROM persons AS p
JOIN faces AS f ON f.person_id = p.id
JOIN images AS src ON src.id = f.image_id
JOIN images AS i ON i.sha256 = src.sha256
"""
