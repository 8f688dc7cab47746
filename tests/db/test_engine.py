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
