"""images.interrupted (how often the process stopped while holding the photo: a photo that
keeps stopping it is failed, not requeued for ever), images.requeue (the file changed while it
was being processed: queue it again when done), and kept_faces: a person's work on a face (its
person when named, hidden or kept apart, or placed by hand) remembered by content when its photo
is forgotten, so that the photo coming back under any path finds it again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("interrupted", sa.Integer(), nullable=False,
                                      server_default="0"))
    op.add_column("images", sa.Column("requeue", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        "kept_faces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("box_x", sa.Float(), nullable=False),
        sa.Column("box_y", sa.Float(), nullable=False),
        sa.Column("box_w", sa.Float(), nullable=False),
        sa.Column("box_h", sa.Float(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE",
                                name=op.f("fk_kept_faces_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kept_faces")),
    )
    op.create_index(op.f("ix_kept_faces_sha256"), "kept_faces", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kept_faces_sha256"), "kept_faces")
    op.drop_table("kept_faces")
    op.execute("DROP VIEW IF EXISTS person_photos")  # batch mode rebuilds the table
    with op.batch_alter_table("images") as batch:
        batch.drop_column("requeue")
        batch.drop_column("interrupted")
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
