from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from facefold.db.engine import DatabaseURLError, alembic_config, make_engine, upgrade_head


def test_migration_creates_schema_and_view_owner_only(engine: Engine, tmp_path: Path) -> None:
    insp = inspect(engine)
    assert {"images", "faces", "persons", "alembic_version"} <= set(insp.get_table_names())
    assert "person_photos" in insp.get_view_names()
    db = tmp_path / "state" / "facefold.db"
    assert (db.stat().st_mode & 0o777) == 0o600
    assert (db.parent.stat().st_mode & 0o777) == 0o700
    upgrade_head(engine)  # idempotent
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_migrations_go_down_and_up_again(engine: Engine) -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    assert "meta" not in inspect(engine).get_table_names()
    upgrade_head(engine)
    insp = inspect(engine)
    assert "meta" in insp.get_table_names() and "person_photos" in insp.get_view_names()
    assert "pinned" in {c["name"] for c in insp.get_columns("faces")}


@pytest.mark.parametrize("url", ["nonsense://x", "sqlite+nodriver:///x.db", "postgresql+nopq://h/db"])
def test_an_unusable_database_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(DatabaseURLError, match="database: cannot use"):
        make_engine(url)


def test_a_database_that_refuses_writes_is_a_clear_error(tmp_path: Path) -> None:
    from facefold.db.engine import DatabaseUnusable, check_writable

    db = tmp_path / "facefold.db"
    e = make_engine(f"sqlite:///{db}")
    upgrade_head(e)
    check_writable(e)  # writable: nothing to say
    e.dispose()
    ro = make_engine(f"sqlite:///file:{db}?mode=ro&uri=true")  # as a read-only mount opens it
    with pytest.raises(DatabaseUnusable, match="cannot be written"):
        check_writable(ro)
    ro.dispose()


def test_a_database_file_deleted_while_running_is_noticed(tmp_path: Path) -> None:
    from facefold.config import load_settings
    from facefold.core import Library
    from facefold.db.engine import DatabaseUnusable
    from tests.helpers.data import write_config

    lib = Library(load_settings(write_config(tmp_path)))
    lib.check_writable()
    lib.check_database()  # still there
    (tmp_path / "state" / "facefold.db").unlink()
    with pytest.raises(DatabaseUnusable, match="deleted or replaced while facefold was running"):
        lib.check_database()
    lib.close()
