"""The commands as a user types them: arguments, output, exit codes. Most run in-process on a
library with the fake models; a few run `facefold` for real as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from facefold.cli import app
from facefold.core import Library
from tests.helpers.data import photos_of, write_config
from tests.helpers.fakes import person_photo
from tests.helpers.postgres import (
    Postgres,
    both_backends,  # noqa: F401  (SQLite and PostgreSQL)
)

CLI = [sys.executable, "-m", "facefold.cli"]
Invoke = Callable[..., Result]


@pytest.fixture
def ff(lib: Library, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run a command in-process on the fake-model library."""
    import facefold.cli.common as common

    def opened(_config: Path | None, role: str = "facefold") -> Library:
        return lib

    monkeypatch.setattr(common, "open_library", opened)
    for module in ("photos", "people", "model", "daemon", "database"):
        monkeypatch.setattr(f"facefold.cli.{module}.open_library", opened)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, [*args, "--config", str(lib.settings.source)])
    return invoke


def _scanned(lib: Library, ff: Invoke, rng: np.random.Generator) -> list[int]:
    for k in range(6):
        person_photo(lib.settings.inbox / f"{k}.png", k % 2, rng)
    (lib.settings.inbox / "broken.jpg").write_text("this is not a photo")
    r = ff("scan", "--timings")
    assert r.exit_code == 0, r.output
    assert "scan: 7 photos (6 processed" in r.stdout and "1 failed" in r.stdout
    assert "broken.jpg: not an image" in r.stderr and "stages: reconcile" in r.stdout
    return sorted(p["id"] for p in json.loads(ff("persons", "--json").stdout))


def test_scan_persons_status_faces(lib: Library, ff: Invoke, rng: np.random.Generator) -> None:
    ids = _scanned(lib, ff, rng)
    assert len(ids) == 2
    people = json.loads(ff("persons", "--json").stdout)
    assert set(people[0]) == {"id", "name", "faces", "photos", "hidden"}
    st = json.loads(ff("status", "--json").stdout)
    assert st["images_by_status"]["done"] == 6 and st["images_by_status"]["failed"] == 1
    assert st["failures"][0]["path"].endswith("broken.jpg")
    r = ff("status")
    assert "photos: queued 0, processing 0, done 6, failed 1" in r.stdout
    assert "broken.jpg: not an image" in r.stdout
    # what `status` says the config's `auto` chose for each model (no GPU here: LiteRT on the
    # CPU); that the real models then run there is tests/vision/test_models.py's
    # test_detection_and_embedding_on_litert_never_import_tensorflow
    assert st["detection_runtime"] == "tflite" and st["embedding_runtime"] == "tflite-int8"
    assert "models: detection tflite (LiteRT on CPU), embedding tflite-int8" in r.stdout
    faces = json.loads(ff("faces", str(ids[0]), "--json").stdout)
    assert len(faces) == 3 and set(faces[0]) == {"id", "path", "box", "confidence", "pinned"}
    table = ff("persons").stdout
    assert all(f"│ {pid} " in table for pid in ids) and "hidden" in table
    r = ff("retry")
    assert r.exit_code == 0 and "retry: 1 photos queued again" in r.stdout


def test_people_edits_and_their_exit_codes(lib: Library, ff: Invoke,
                                           rng: np.random.Generator) -> None:
    a, b = _scanned(lib, ff, rng)
    r = ff("name", str(a), "Ana")
    assert r.exit_code == 0 and f"person {a} is now 'Ana'" in r.stdout
    assert (lib.settings.people / "Ana").is_dir()
    r = ff("name", str(a), "\n\t ")
    assert r.exit_code == 1 and "visible character" in r.stderr
    assert ff("name", "999", "X").exit_code == 1
    r = ff("merge", str(a))
    assert r.exit_code == 2 and "at least one to merge" in r.stderr
    face = json.loads(ff("faces", str(b), "--json").stdout)[0]["id"]
    assert ff("unassign", str(face)).exit_code == 0
    r = ff("move", str(face), str(a))
    assert r.exit_code == 0 and f"face {face} is now person {a} (pinned)" in r.stdout
    r = ff("recluster", "--full")
    assert r.exit_code == 0 and "recluster --full: 2 people (0 new)" in r.stdout
    assert ff("ignore", str(b)).exit_code == 0
    assert json.loads(ff("persons", "--json").stdout)[1]["hidden"] is True
    assert ff("ignore", str(b), "--undo").exit_code == 0
    r = ff("merge", str(a), str(b))
    assert r.exit_code == 0 and f"merged [{b}] into {a}" in r.stdout
    r = ff("undo")
    assert r.exit_code == 0 and f"Undid merging person {b} into person {a}." in r.stdout
    assert len(json.loads(ff("persons", "--json").stdout)) == 2
    assert ff("unassign", str(face)).exit_code == 0
    r = ff("new-person", str(face), "--name", "Solo")
    assert r.exit_code == 0 and (lib.settings.people / "Solo").is_dir()
    assert ff("undo").exit_code == 0 and not (lib.settings.people / "Solo").exists()
    assert ff("merge", str(a), str(b)).exit_code == 0
    r = ff("review")
    assert r.exit_code == 0 and r.stdout.strip().endswith("index.html")
    r = ff("sheet", str(a))
    assert r.exit_code == 0 and Path(r.stdout.strip()).exists()
    assert ff("sheet", "999").exit_code == 1


def test_identify_encode_and_their_usage_errors(lib: Library, ff: Invoke, tmp_path: Path,
                                                rng: np.random.Generator) -> None:
    _scanned(lib, ff, rng)
    photo = person_photo(tmp_path / "x.png", 0, rng)
    r = ff("identify", str(photo), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["name"] == "unknown"
    r = ff("identify", str(tmp_path / "missing.png"))
    assert r.exit_code == 1 and "missing.png" in r.stderr
    r = ff("encode", str(photo))
    assert r.exit_code == 2 and "output .pkl" in r.stderr
    r = ff("encode", str(photo), str(tmp_path / "f.pkl"))
    assert r.exit_code == 0 and "1 faces" in r.stdout
    assert ff("scan", str(tmp_path / "nowhere")).exit_code == 2
    (tmp_path / "set" / "one").mkdir(parents=True)
    r = ff("evaluate", str(tmp_path / "set"))
    assert r.exit_code == 2 and "a folder per person" in r.stderr


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(CLI + args, cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.mark.parametrize("command", ["status", "watch", "scan"])
def test_a_bad_config_is_exit_78_with_every_error(tmp_path: Path, command: str) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("detection:\n  min_confidence: 7\nclustering:\n  min_samples: 0\nbogus: 1\n")
    r = _run([command, "--config", str(cfg)], tmp_path)
    assert r.returncode == 78  # EX_CONFIG: the unit does not restart on it
    for key in ("detection.min_confidence", "clustering.min_samples", "bogus"):
        assert key in r.stderr


def test_a_bad_database_url_is_exit_78(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, database="postgresql+nosuchdriver://localhost/facefold")
    r = _run(["persons", "--config", str(cfg)], tmp_path)
    assert r.returncode == 78 and "database: cannot use" in r.stderr


def test_commands_without_models_never_import_tensorflow(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    code = ("import sys\nfrom facefold.cli import app\n"
            f"try:\n    app(['persons', '--config', {str(cfg)!r}])\nexcept SystemExit:\n    pass\n"
            "print('tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"


def test_real_scan_prints_only_facefold_output(tmp_path: Path, celebrities: Path) -> None:
    cfg = write_config(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for p in photos_of(celebrities, "mindy_kaling")[:3]:
        shutil.copy(p, inbox / p.name)
    r = _run(["scan", "--config", str(cfg)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("scan: 3 photos (3 processed") and "1 people (1 new)" in r.stdout
    noise = [line for line in r.stderr.splitlines() if line.strip()]
    assert noise == [], noise  # no oneDNN, CUDA-stub or absl lines from TensorFlow


def test_suggest_and_apart(lib: Library, ff: Invoke, rng: np.random.Generator) -> None:
    a, b = _scanned(lib, ff, rng)
    r = ff("suggest", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []  # two clearly different people
    r = ff("apart", str(a), str(b))
    assert r.exit_code == 0 and f"persons {a} and {b} are kept apart" in r.stdout
    assert ff("apart", str(a), str(b), "--undo").exit_code == 0
    r = ff("apart", str(a), str(a))
    assert r.exit_code == 1 and "themselves" in r.stderr
    assert "facefold merge" not in ff("suggest").stdout


def test_similar_and_the_same_query_in_a_users_own_session(
        lib: Library, ff: Invoke, rng: np.random.Generator, backend: str,
        request: pytest.FixtureRequest) -> None:
    a, _b = _scanned(lib, ff, rng)
    face = json.loads(ff("faces", str(a), "--json").stdout)[0]["id"]
    r = ff("similar", str(face), "--limit", "3", "--json")
    assert r.exit_code == 0, r.output
    found = json.loads(r.stdout)
    assert [f["person_id"] for f in found[:2]] == [a, a] and len(found) == 3
    sql = ff("similar", str(face), "--limit", "3", "--sql").stdout
    if backend == "postgresql":
        import pgserver

        pg: Postgres = request.getfixturevalue("postgres")
        url = lib.settings.database.replace("+psycopg", "")
        out = pgserver.psql(["-d", url, "-At", "-F", "|", "-c", sql],
                            user=pg.server.system_user)
    else:
        if shutil.which("sqlite3") is None:
            pytest.skip("the sqlite3 shell is not installed (`make test` installs it when root)")
        db = lib.settings.database.removeprefix("sqlite:///")
        out = subprocess.run(["sqlite3", db], input=sql, capture_output=True, text=True,
                             check=True).stdout
    ids = [int(line.split("|")[0]) for line in out.splitlines() if line.strip()]
    assert ids == [f["face_id"] for f in found]
    r = ff("similar", "99999")
    assert r.exit_code == 1 and "no face 99999" in r.stderr


def test_migrate_db_copies_the_library_and_leaves_the_source_as_it_was(
        lib: Library, ff: Invoke, rng: np.random.Generator, backend: str,
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import hashlib

    a, b = _scanned(lib, ff, rng)
    ff("name", str(a), "Ana")
    face = json.loads(ff("faces", str(b), "--json").stdout)[0]["id"]
    ff("move", str(face), str(a))  # a pin
    ff("apart", str(a), str(b))
    before = json.loads(ff("persons", "--json").stdout)
    if backend == "postgresql":
        target = f"sqlite:///{tmp_path / 'copy' / 'facefold.db'}"  # and back the other way
    else:
        target = request.getfixturevalue("postgres").new_database()
    src = lib.settings.database.removeprefix("sqlite:///")
    digest = hashlib.sha256(Path(src).read_bytes()).hexdigest() if backend == "sqlite" else ""
    r = ff("migrate-db", target)
    assert r.exit_code == 0, r.output
    assert "counts and the face vectors' checksum" in r.stdout and "match" in r.stdout
    if backend == "sqlite":
        assert hashlib.sha256(Path(src).read_bytes()).hexdigest() == digest
    moved = Library(lib.settings.model_copy(update={"database": target}), lib.models)
    try:
        from facefold.core.reports import persons

        assert [(p.id, p.name, p.faces) for p in persons(moved)] == [
            (p["id"], p["name"], p["faces"]) for p in before]
        with moved.session() as s:
            from facefold.db import people as people_store

            assert people_store.create_person(s).id > max(p["id"] for p in before)
            assert people_store.apart_pairs(s) == {(min(a, b), max(a, b))}
    finally:
        moved.close()
    r = ff("migrate-db", target)
    assert r.exit_code == 1 and "not empty" in r.stderr
