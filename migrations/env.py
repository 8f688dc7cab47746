"""Alembic environment: facefold passes its own connection (`facefold.db.engine.upgrade_head`);
`alembic -x url=sqlite:///path upgrade head` works from the command line too."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from facefold.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url")
    if not url:
        raise SystemExit("give the database with -x url=sqlite:///path/to/facefold.db")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("facefold's migrations run online only")
run_migrations_online()
