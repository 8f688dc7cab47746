"""people management: hidden persons, pinned faces, and a revision counter for CLI changes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# As created by 0001; batch mode rebuilds tables, so the view is dropped and made again around it.
PERSON_PHOTOS_VIEW = """
CREATE VIEW person_photos AS
SELECT DISTINCT p.id AS person_id, p.name AS person_name, i.path AS photo_path
FROM persons AS p
JOIN faces AS f ON f.person_id = p.id
JOIN images AS src ON src.id = f.image_id
JOIN images AS i ON i.sha256 = src.sha256
"""


def upgrade() -> None:
    # plain ADD COLUMN: SQLite does it in place, so the person_photos view is not in the way
    op.add_column("persons", sa.Column("hidden", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.add_column("faces", sa.Column("pinned", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.execute("DROP VIEW IF EXISTS person_photos")
    with op.batch_alter_table("faces") as b:
        b.drop_column("pinned")
    with op.batch_alter_table("persons") as b:
        b.drop_column("hidden")
    op.execute(PERSON_PHOTOS_VIEW)
