"""faces.weights: which FaceNet weights made each embedding

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# As created by 0001; batch mode rebuilds the table, so the view is dropped and made again.
PERSON_PHOTOS_VIEW = """
CREATE VIEW person_photos AS
SELECT DISTINCT p.id AS person_id, p.name AS person_name, i.path AS photo_path
FROM persons AS p
JOIN faces AS f ON f.person_id = p.id
JOIN images AS src ON src.id = f.image_id
JOIN images AS i ON i.sha256 = src.sha256
"""


def upgrade() -> None:
    # '' = made before this column existed; the daemon re-embeds those once the weights are known
    op.add_column("faces", sa.Column("weights", sa.String(80), nullable=False, server_default=""))
    op.create_index("ix_faces_weights", "faces", ["weights"])


def downgrade() -> None:
    op.drop_index("ix_faces_weights", "faces")
    op.execute("DROP VIEW IF EXISTS person_photos")
    with op.batch_alter_table("faces") as b:
        b.drop_column("weights")
    op.execute(PERSON_PHOTOS_VIEW)
