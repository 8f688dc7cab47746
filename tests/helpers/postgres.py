"""A real PostgreSQL 16 with pgvector for the tests: the `pgserver` wheel's server, started in a
temporary data directory listening only on a private Unix socket (no TCP), stopped after."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_names = itertools.count()


class Postgres:
    """One server; `new_database()` gives each test an empty database of its own."""

    def __init__(self, root: Path) -> None:
        import warnings

        import pgserver

        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR under root, uses /tmp
            warnings.simplefilter("ignore")
            self.server: Any = pgserver.get_server(root, cleanup_mode="stop")

    def url(self, database: str = "postgres") -> str:
        """An SQLAlchemy URL for the psycopg driver on the server's socket."""
        return self.server.get_uri(database).replace("postgresql://", "postgresql+psycopg://", 1)

    def new_database(self) -> str:
        name = f"t{next(_names)}"
        self.server.psql(f"CREATE DATABASE {name};")
        return self.url(name)

    def restart(self) -> None:
        """`pg_ctl restart`: every connection is cut; the server is back when this returns."""
        import pgserver

        pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.server.pgdata,
                        user=self.server.system_user, timeout=60)

    def outage(self, seconds: float) -> None:
        """The server goes away for `seconds` (`pg_ctl stop`), then comes back on the same
        socket with the same data."""
        import time

        import pgserver

        sock = self.server.get_postmaster_info().socket_dir
        pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata,
                        user=self.server.system_user, timeout=60)
        time.sleep(seconds)
        pgserver.pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {sock}", "-l", str(self.server.log),
                         "start"], pgdata=self.server.pgdata, user=self.server.system_user,
                        timeout=60)

    def stop(self) -> None:
        """Stop the server. pgserver stops only the postmaster it started itself; after a test's
        restart or outage the running one is another, stopped here with pg_ctl."""
        import subprocess

        import pgserver

        self.server.cleanup()
        if (Path(self.server.pgdata) / "postmaster.pid").exists():
            try:
                pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata,
                                user=self.server.system_user, timeout=60)
            except subprocess.CalledProcessError:
                pass  # it was stopped after all


def postgres_server(root: Path) -> Iterator[Postgres]:
    try:
        import pgserver  # noqa: F401
    except ImportError:
        pytest.skip("pgserver is not installed (`make test` installs it with the dev extras)")
    pg = Postgres(root)
    try:
        yield pg
    finally:
        pg.stop()



@pytest.fixture(name="backend", params=["sqlite", "postgresql"])
def both_backends(request: pytest.FixtureRequest) -> str:
    """Imported into a test module (`from tests.helpers.postgres import both_backends`), it
    replaces tests/conftest.py's `backend` there: every test of that module that uses a database
    runs on SQLite and on PostgreSQL."""
    return str(request.param)
