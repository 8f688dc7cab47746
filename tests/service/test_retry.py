"""Failures that may pass are retried a bounded number of times; final ones are not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from facefold.cli import app
from facefold.config import load_settings
from facefold.db import store
from facefold.db.engine import make_engine, upgrade_head
from facefold.service.pipeline import retry_delay
from facefold.service.scan import scan
from tests.conftest import photos_of, write_config


def test_back_off_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 30) for n in range(4)] == [30, 60, 120, 240]
    assert retry_delay(20, 30) == 3600


@pytest.mark.models
def test_truncated_photo_is_retried_then_failed_then_retried_by_hand(
        tmp_path: Path, celebrities: Path, models: object) -> None:
    settings = load_settings(write_config(tmp_path, watch={"max_attempts": 3, "retry_seconds": 0}))
    settings.inbox.mkdir()
    good = photos_of(celebrities, "madonna")[0]
    half = settings.inbox / "half.jpg"
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (settings.inbox / "notes.jpg").write_text("not a photo")
    engine = make_engine(settings.database)
    upgrade_head(engine)
    res = scan(settings, engine, models)
    with Session(engine) as s:
        h, n = store.image_by_path(s, str(half)), store.image_by_path(s, str(settings.inbox / "notes.jpg"))
        assert h is not None and n is not None
        assert h.status.value == "failed" and h.attempts == 3 and "truncated" in (h.error or "")
        assert n.status.value == "failed" and n.attempts == 1  # final at once
    assert sum(p == str(half) for p, _ in res.failures) == 1  # listed once, tried three times

    shutil.copy(good, half)  # the copy finished after all
    r = CliRunner().invoke(app, ["retry", str(half), "--config", str(settings.source)])
    assert r.exit_code == 0 and "1 photos queued again" in r.output
    scan(settings, engine, models)
    with Session(engine) as s:
        h = store.image_by_path(s, str(half))
        assert h is not None and h.status.value == "done" and len(h.faces) == 1
        assert store.status_summary(s).images_by_status["failed"] == 1
