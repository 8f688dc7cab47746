"""faces.quality (with its sharpness and yaw parts) and person_apart: cannot-links between persons

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: stored before quality was measured; counts as good until the face is embedded again
    op.add_column("faces", sa.Column("quality", sa.Float(), nullable=True))
    op.add_column("faces", sa.Column("sharpness", sa.Float(), nullable=True))
    op.add_column("faces", sa.Column("yaw", sa.Float(), nullable=True))
    op.create_table(
        "person_apart",
        sa.Column("person_a", sa.Integer(), nullable=False),
        sa.Column("person_b", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(["person_a"], ["persons.id"], ondelete="CASCADE",
                                name=op.f("fk_person_apart_person_a_persons")),
        sa.ForeignKeyConstraint(["person_b"], ["persons.id"], ondelete="CASCADE",
                                name=op.f("fk_person_apart_person_b_persons")),
        sa.PrimaryKeyConstraint("person_a", "person_b", name=op.f("pk_person_apart")),
        sa.CheckConstraint("person_a < person_b", name=op.f("ck_person_apart_ordered")),
    )


def downgrade() -> None:
    op.drop_table("person_apart")
    op.execute("DROP VIEW IF EXISTS person_photos")
    with op.batch_alter_table("faces") as b:
        b.drop_column("yaw")
        b.drop_column("sharpness")
        b.drop_column("quality")
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
