"""The owner lock: one process at a time clusters a library's faces and writes its people
folders (`facefold watch`); any number of workers may fill the queue beside it.

PostgreSQL: a session advisory lock, held by a connection of its own for as long as the owner
runs (it goes with the connection: a dead owner frees it at once). SQLite: an exclusive `flock`
on a file beside the database (it goes with the process)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

# pg_advisory_lock key: b"facefold" as a signed 64-bit integer, so no other application's
# lock on the same database is taken by mistake
ADVISORY_KEY = int.from_bytes(b"facefold", "big", signed=True)


class OwnerLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def where(self) -> str:
        """What the lock is on, for messages."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite":
            return f"{url.database}.owner"
        return f"advisory lock {ADVISORY_KEY} on {url.render_as_string(hide_password=True)}"

    def try_acquire(self) -> bool:
        """Take the lock unless another process holds it; True when this one holds it now.
        Raise OperationalError when the database cannot be reached."""
        if self.held:
            return True
        if self.engine.url.get_backend_name() != "sqlite":
            conn = self.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            if got.scalar():
                conn.commit()
                self._conn = conn
                return True
            conn.close()
            return False
        db = self.engine.url.database
        if not db or db == ":memory:":
            self._file = open(os.devnull, "rb")  # noqa: SIM115  # a private database: no rival
            return True
        f = Path(f"{db}.owner").open("ab")  # noqa: SIM115  # held open for as long as we own it
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            return False
        self._file = f
        return True

    def still_held(self) -> bool:
        """False when the lock went with its connection (the server restarted, or cut it off);
        it must then be taken again before the owner writes anything more."""
        if self._conn is None:
            return self._file is not None
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            self._conn.commit()
            return True
        except DBAPIError:
            self._drop_conn()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._conn.commit()
            except DBAPIError:
                pass  # the connection is gone, and the lock with it
            self._drop_conn()
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None

    def _drop_conn(self) -> None:
        assert self._conn is not None
        try:
            self._conn.invalidate()
            self._conn.close()
        except DBAPIError:
            pass
        self._conn = None
