"""Engines for the configured database: SQLite tuned for a daemon plus readers, migrations at start."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used; a person has to fix the configuration."""


class DatabaseUnusable(DatabaseURLError):
    """The database cannot be used as it is (read-only, its file deleted while facefold ran);
    a person has to act first."""


def _read_only(exc: DBAPIError) -> bool:
    text_ = str(exc.orig).lower()
    return any(k in text_ for k in ("readonly", "read-only", "permission denied"))


def check_writable(engine: Engine) -> None:
    """Raise DatabaseUnusable when the database refuses writes (a read-only file or mount, a
    read-only PostgreSQL server or role): a daemon that cannot write must say so at start,
    not retry for ever. The probe deletes nothing."""
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM meta WHERE 1 = 0"))
    except DBAPIError as exc:
        if _read_only(exc):
            raise DatabaseUnusable(f"database: {engine.url.render_as_string(hide_password=True)}"
                                   f" cannot be written: {exc.orig}") from None
        raise


def database_file(engine: Engine) -> Path | None:
    """The file of a SQLite database, None for any other."""
    u = engine.url
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database).resolve()
    return None


def migrations_dir() -> Path:
    """The Alembic scripts: packaged inside the wheel, or the repository's top-level folder."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_migrations"
    return packaged if packaged.is_dir() else here.parent.parent / "migrations"


def make_engine(url: str, busy_seconds: float = 30.0) -> Engine:
    """Return an Engine; for a SQLite file, create its folder owner-only and turn on WAL,
    foreign keys and a busy timeout on every connection; PostgreSQL runs in UTC. Raise DatabaseURLError when the URL
    is malformed or names a driver that is not installed."""
    try:
        u = make_url(url)
        is_sqlite = u.get_backend_name() == "sqlite"
        if is_sqlite and u.database and u.database != ":memory:":
            folder = Path(u.database).parent
            if not folder.exists():
                folder.mkdir(parents=True, mode=0o700)
        if u.get_backend_name() == "postgresql":
            # UTC timestamps whatever the server's zone; a connection the server dropped (a
            # restart) is replaced on checkout instead of failing the next statement
            engine = create_engine(url, pool_pre_ping=True,
                                   connect_args={"options": "-c timezone=UTC"})
        else:
            engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise DatabaseURLError(f"database: cannot use {url!r}: {exc}") from None
    if is_sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {round(busy_seconds * 1000)}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()
            load_sqlite_vec(dbapi_conn)

        if u.database and u.database != ":memory:":
            db = Path(u.database)
            with engine.connect():
                pass
            if db.exists():
                os.chmod(db, 0o600)
    return engine


def load_sqlite_vec(dbapi_conn: Any) -> bool:
    """Load the sqlite-vec extension (nearest faces in SQL: `vec_distance_l2`) into a SQLite
    connection; False when this Python's sqlite3 cannot load extensions (some builds leave
    that out: then facefold searches in memory, and a `sqlite3` shell can still `.load` it)."""
    try:
        import sqlite_vec

        dbapi_conn.enable_load_extension(True)
        try:
            sqlite_vec.load(dbapi_conn)
        finally:
            dbapi_conn.enable_load_extension(False)
    except (ImportError, AttributeError, sqlite3.OperationalError):
        return False
    return True


def alembic_config(conn: Connection) -> AlembicConfig:
    """An Alembic config for facefold's migrations that runs on `conn`."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.attributes["connection"] = conn
    return cfg


_alembic_lock = threading.Lock()  # Alembic keeps its running context in module globals


# pg_advisory_xact_lock key ("ffmigrat"): processes starting together on one PostgreSQL database
# (a watch and its workers) migrate it one after the other, never side by side
MIGRATION_LOCK_KEY = int.from_bytes(b"ffmigrat", "big", signed=True)


def upgrade_head(engine: Engine) -> None:
    """Apply every pending migration (Alembic `upgrade head`) on this engine's database; raise
    DatabaseUnusable when one is pending and the database cannot be written."""
    try:
        with _alembic_lock, engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            command.upgrade(alembic_config(conn), "head")
    except DBAPIError as exc:
        if _read_only(exc):
            raise DatabaseUnusable(f"database: {engine.url.render_as_string(hide_password=True)}"
                                   f" needs its schema brought up to date and cannot be "
                                   f"written: {exc.orig}") from None
        raise


def rows_changed(res: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return cast(CursorResult[Any], res).rowcount
