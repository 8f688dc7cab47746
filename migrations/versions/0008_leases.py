"""leases on claimed photos (workers on other machines), 64-bit file sizes, and on PostgreSQL an
HNSW index on the face vectors

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("images", sa.Column("claimed_by", sa.String(200), nullable=True))
    op.add_column("images", sa.Column("lease_until", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # SQLite's INTEGER is 64-bit already
        op.alter_column("images", "size", type_=sa.BigInteger(), existing_nullable=True)
        # nearest faces by L2 distance in SQL (`ORDER BY embedding <-> :v`), approximately
        op.execute("CREATE INDEX ix_faces_embedding_hnsw ON faces "
                   "USING hnsw (embedding vector_l2_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_faces_embedding_hnsw")
        op.alter_column("images", "size", type_=sa.Integer(), existing_nullable=True)
    op.drop_column("images", "lease_until")
    op.drop_column("images", "claimed_by")
