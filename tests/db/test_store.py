from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from facefold.db import store
from facefold.db.engine import make_engine, upgrade_head
from facefold.db.models import Face, Image, ImageStatus


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'state' / 'f.db'}")
    upgrade_head(e)
    return e


def _face(seed: int) -> store.NewFace:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return store.NewFace((1, 2, 30, 40), [[0, 0]] * 5, 0.99, v / np.linalg.norm(v))


def test_migration_creates_schema_and_view_owner_only(engine: Engine, tmp_path: Path) -> None:
    insp = inspect(engine)
    assert {"images", "faces", "persons", "alembic_version"} <= set(insp.get_table_names())
    assert "person_photos" in insp.get_view_names()
    db = tmp_path / "state" / "f.db"
    assert (db.stat().st_mode & 0o777) == 0o600
    assert (db.parent.stat().st_mode & 0o777) == 0o700
    upgrade_head(engine)  # idempotent
    with engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_duplicates_share_faces_through_the_view(engine: Engine) -> None:
    with Session(engine) as s:
        store.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [_face(1), _face(2)])
        store.record_duplicate(s, "/in/copy-of-a.jpg", "h1", 10, 1.0)
        s.commit()
        p = store.create_person(s)
        store.set_face_persons(s, {f.id: p.id for f in s.query(Face)})
        s.commit()
        rows = store.person_photo_rows(s)
        assert rows == [(p.id, None, "/in/a.jpg"), (p.id, None, "/in/copy-of-a.jpg")]
        # the original goes: its faces move to the copy, nothing is re-embedded
        store.forget_image(s, store.image_by_path(s, "/in/a.jpg"))
        s.commit()
        assert store.person_photo_rows(s) == [(p.id, None, "/in/copy-of-a.jpg")]
        assert s.query(Face).count() == 2


def test_changed_content_replaces_faces(engine: Engine) -> None:
    with Session(engine) as s:
        store.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [_face(1), _face(2)])
        s.commit()
        store.record_processed(s, "/in/a.jpg", "h2", 11, 2.0, 100, 100, [_face(3)])
        s.commit()
        img = store.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.sha256 == "h2" and len(img.faces) == 1
        m = store.face_matrix(s)
        assert m.vectors.shape == (1, 128)
        np.testing.assert_allclose(m.vectors[0], _face(3).embedding, rtol=1e-6)


def test_failures_and_status(engine: Engine) -> None:
    with Session(engine) as s:
        store.record_failure(s, "/in/bad.jpg", "not an image in a known format")
        store.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [])
        s.commit()
        st = store.status_summary(s)
        assert st.images_by_status["failed"] == 1 and st.images_by_status["done"] == 1
        assert st.failures == [("/in/bad.jpg", "not an image in a known format")]
        img = s.query(Image).filter_by(path="/in/bad.jpg").one()
        assert img.status is ImageStatus.failed and img.attempts == 1


def test_empty_unnamed_persons_are_deleted_named_kept(engine: Engine) -> None:
    with Session(engine) as s:
        store.create_person(s)
        b = store.create_person(s)
        b.name = "Ana María"
        s.commit()
        assert store.delete_empty_unnamed_persons(s) == 1
        s.commit()
        assert [p.name for p in store.person_summaries(s)] == ["Ana María"]


def test_migrations_go_down_and_up_again(engine: Engine) -> None:
    from alembic import command

    from facefold.db.engine import alembic_config

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    assert "meta" not in inspect(engine).get_table_names()
    upgrade_head(engine)
    insp = inspect(engine)
    assert "meta" in insp.get_table_names() and "person_photos" in insp.get_view_names()
    assert "pinned" in {c["name"] for c in insp.get_columns("faces")}


def test_transient_failures_wait_then_retry_and_retry_requeues(engine: Engine) -> None:
    with Session(engine) as s:
        store.record_failure(s, "/in/slow.jpg", "truncated image", retry_after=3600)
        store.record_failure(s, "/in/now.jpg", "permission denied", retry_after=0)
        store.record_failure(s, "/in/bad.jpg", "not an image in a known format")
        s.commit()
        st = store.status_summary(s)
        assert st.images_by_status["queued"] == 2 and st.retrying == 2
        assert st.images_by_status["failed"] == 1
        claimed = store.claim_batch(s, 10)
        assert [c.path for c in claimed] == ["/in/now.jpg"] and claimed[0].attempts == 1
        s.commit()
        assert store.retry_failed(s) == 1
        s.commit()
        bad = store.image_by_path(s, "/in/bad.jpg")
        assert bad is not None and bad.status.value == "queued" and bad.attempts == 0
