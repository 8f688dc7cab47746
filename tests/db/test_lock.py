import pytest
from sqlalchemy import Engine, create_engine

from facefold.db.lock import OwnerLock
from tests.helpers.postgres import (
    Postgres,
    both_backends,  # noqa: F401  (SQLite and PostgreSQL)
)


def test_one_owner_at_a_time(engine: Engine) -> None:
    other_engine = create_engine(engine.url)  # another process's connections
    first, second = OwnerLock(engine), OwnerLock(other_engine)
    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire() and not second.held
    first.release()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()
    other_engine.dispose()


def test_the_lock_goes_with_a_database_restart_and_is_taken_again(
        engine: Engine, backend: str, request: pytest.FixtureRequest) -> None:
    if backend != "postgresql":
        pytest.skip("a SQLite lock is a file lock: it lives as long as the process")
    pg: Postgres = request.getfixturevalue("postgres")
    lock = OwnerLock(engine)
    assert lock.try_acquire()
    pg.restart()
    assert not lock.still_held()  # its connection, and the lock with it, are gone
    assert lock.try_acquire() and lock.still_held()
    lock.release()
