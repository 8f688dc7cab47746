"""indexes that keep a person's best face and their faces in order, for pages of a large library

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_faces_person_best", "faces",
                    ["person_id", sa.text("quality DESC"), sa.text("confidence DESC"), "id"])
    op.create_index("ix_faces_person_confidence", "faces",
                    ["person_id", sa.text("confidence DESC"), "id"])


def downgrade() -> None:
    op.drop_index("ix_faces_person_confidence", "faces")
    op.drop_index("ix_faces_person_best", "faces")
