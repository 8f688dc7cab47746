"""Moving a library to another database (`facefold migrate-db`): typically from the default
SQLite file to PostgreSQL, when workers on other machines are to share it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from facefold.core.library import Library
from facefold.db import transfer
from facefold.db.engine import alembic_config, make_engine, upgrade_head


class TransferError(ValueError):
    """The copy cannot be made, or did not come out whole; the message says why."""


@dataclass(frozen=True)
class TransferResult:
    counts: dict[str, int]  # rows per table, the same on both sides
    checksum: str  # of the face vectors, the same on both sides
    seconds: float


def _read_only(url: str) -> Engine:
    """An engine that can only read the source: a SQLite file opened read-only."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return create_engine(f"sqlite:///file:{u.database}?mode=ro&uri=true")
    return create_engine(url)


def _check_source_current(engine: Engine) -> None:
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        head = ScriptDirectory.from_config(alembic_config(conn)).get_current_head()
    if current != head:
        raise TransferError(f"the library's database is at schema {current}, not {head}: run "
                            "any facefold command on it first (it upgrades it), then copy")


def copy_library(lib: Library, target_url: str,
                 on_rows: Callable[[int], None] = lambda n: None) -> TransferResult:
    """Copy every table of the library's database into the empty database at `target_url`
    (its schema made by the migrations), ids kept; then compare the row counts and a checksum
    of the face vectors read back from both. The source is opened read-only. Raise
    TransferError (DatabaseURLError for a bad URL) when the target is not empty or the copy differs."""
    t0 = time.monotonic()
    if make_url(target_url) == make_url(lib.settings.database):
        raise TransferError("the target is the library's own database")
    source = _read_only(lib.settings.database)
    target = make_engine(target_url)
    try:
        _check_source_current(source)
        with target.connect() as conn:
            taken = transfer.schema_tables(conn)
        if taken:
            raise TransferError(f"{target.url.render_as_string(hide_password=True)} is not "
                                f"empty (it has {', '.join(sorted(taken)[:5])}…): give an "
                                "empty database")
        upgrade_head(target)
        with source.connect() as src, target.begin() as dst:
            for table in transfer.tables():
                transfer.copy_table(src, dst, table, on_rows)
            transfer.reset_sequences(dst)
        with source.connect() as a, target.connect() as b:
            counts, theirs = transfer.row_counts(a), transfer.row_counts(b)
            checksum = transfer.embeddings_checksum(a)
            if counts != theirs or checksum != transfer.embeddings_checksum(b):
                raise TransferError(f"the copy differs from the source: {counts} vs {theirs}")
    finally:
        source.dispose()
        target.dispose()
    return TransferResult(counts, checksum, time.monotonic() - t0)


def total_rows(lib: Library) -> int:
    """Rows a copy of the library moves (for progress)."""
    source = _read_only(lib.settings.database)
    try:
        with source.connect() as conn:
            return sum(transfer.row_counts(conn).values())
    finally:
        source.dispose()
