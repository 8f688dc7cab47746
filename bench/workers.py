"""Benchmark: more than one process on one library, and nearest faces in SQL.

1. Photos/s from a drop into the inbox to the last link: `facefold watch` alone on SQLite (the
   reference), alone on PostgreSQL, and with 1 and 2 `facefold worker` processes beside it on
   PostgreSQL, all on this machine (a real PostgreSQL 16 + pgvector from the pgserver wheel, on a
   private socket). Ratios against the SQLite daemon, measured in the same run.
2. Nearest-face query latency on synthetic faces (clusters of 10 noisy unit vectors): pgvector's
   HNSW index (recall@10 against exact search), the exact in-memory search facefold falls back to
   (NumPy) and the FAISS flat index its clustering uses, and sqlite-vec through the sqlite3 shell
   (this Python's sqlite3 may not load extensions).

    .venv/bin/python bench/workers.py [--photos 200] [--faces 100000] [--skip-photos]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from facefold.config import load_settings
from facefold.vision.weights import fetch_dataset, fetch_weights

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watch import make_photos  # noqa: E402  (bench/watch.py: distinct variants of the photos)

REPO = Path(__file__).resolve().parent.parent
DIM = 128


def start_postgres(root: Path) -> Any:
    import pgserver

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pgserver.get_server(root, cleanup_mode="stop")


def new_database(pg: Any, name: str) -> str:
    pg.psql(f"CREATE DATABASE {name};")
    return pg.get_uri(name).replace("postgresql://", "postgresql+psycopg://", 1)


def _spawn(command: str, cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "facefold.cli", command, "--config",
                                 str(cfg)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _wait_log(log: Path, mark: str, proc: subprocess.Popen[bytes]) -> None:
    while mark not in log.read_text(errors="replace"):
        if proc.poll() is not None:
            raise SystemExit(f"{log} ended before {mark!r}:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)


def run_library(root: Path, models_dir: Path, photos: list[Path], database: str | None,
                workers: int) -> tuple[float, int, int]:
    """Drop `photos` into a watched inbox; return (seconds to the last link, faces, people)."""
    root.mkdir()
    (root / "inbox").mkdir()
    config: dict[str, Any] = {"models_dir": str(models_dir),
                              "watch": {"settle_seconds": 1.0, "rescan_interval": 0}}
    if database:
        config["database"] = database
    cfg = root / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    procs = []
    for k in range(workers):
        log = root / f"worker-{k}.log"
        procs.append(_spawn("worker", cfg, log))
        _wait_log(log, "processing the queue", procs[-1])
    log = root / "daemon.log"
    watch = _spawn("watch", cfg, log)
    procs.append(watch)
    _wait_log(log, "watching", watch)
    url = database or f"sqlite:///{root / 'state' / 'facefold.db'}"
    engine = create_engine(url, poolclass=NullPool)
    t0 = time.perf_counter()
    for p in photos:
        shutil.copy(p, root / "inbox" / p.name)
    people = root / "people"
    last_change, last_count = time.perf_counter(), -1
    try:
        while True:
            time.sleep(0.5)
            with engine.connect() as c:
                busy, done = c.execute(text(
                    "SELECT SUM(CASE WHEN status IN ('queued','processing') THEN 1 ELSE 0 END),"
                    " SUM(CASE WHEN status IN ('done','failed') THEN 1 ELSE 0 END) FROM images")
                ).one()
            count = sum(1 for d in people.iterdir() if d.is_dir() for _ in d.iterdir())
            if count != last_count:
                last_change, last_count = time.perf_counter(), count
            if done == len(photos) and not busy and time.perf_counter() - last_change > 5:
                break
        with engine.connect() as c:
            faces = c.execute(text("SELECT COUNT(*) FROM faces")).scalar_one()
            persons = c.execute(text("SELECT COUNT(*) FROM persons")).scalar_one()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)
        engine.dispose()
    return last_change - t0, int(faces), int(persons)


def photos_bench(args: argparse.Namespace, tmp: Path, pg: Any) -> None:
    settings = load_settings(REPO / "config.yaml")
    fetch_weights(settings.models_dir)
    data = fetch_dataset(settings.models_dir, Path.home() / ".cache/facefold/testdata/5-celebrity")
    src = sorted(data.glob("train/*/*.jpg")) + sorted(data.glob("val/*/*.jpg"))
    photos = make_photos(src, args.photos, tmp / "staged")
    runs = [("watch alone, SQLite", None, 0), ("watch alone, PostgreSQL", "pg0", 0),
            ("watch + 1 worker, PostgreSQL", "pg1", 1), ("watch + 2 workers, PostgreSQL", "pg2", 2)]
    base = None
    print(f"{len(photos)} photos dropped into a watched inbox, {os.cpu_count()} cores")
    print(f"{'':34}{'seconds':>9}{'photos/s':>10}{'ratio':>8}  faces/people")
    for label, db, workers in runs:
        url = new_database(pg, db) if db else None
        secs, faces, persons = run_library(tmp / (db or "sqlite"), settings.models_dir, photos,
                                           url, workers)
        rate = len(photos) / secs
        base = base or rate
        print(f"{label:34}{secs:9.1f}{rate:10.2f}{rate / base:7.2f}×  {faces}/{persons}",
              flush=True)


def synthetic_faces(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` unit vectors in clusters of 10 (a person's faces), spread like FaceNet's."""
    centres = rng.normal(size=(max(1, n // 10), DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[np.arange(n) % len(centres)] + rng.normal(0, 0.045, (n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _median_ms(times: list[float]) -> float:
    return float(np.median(times) * 1000)


def nearest_bench(args: argparse.Namespace, tmp: Path, pg: Any) -> None:
    import faiss

    rng = np.random.default_rng(0)
    x = synthetic_faces(args.faces, rng)
    queries = rng.choice(args.faces, size=args.queries, replace=False)
    exact = [np.argsort(np.linalg.norm(x - x[q], axis=1))[1:11] for q in queries]
    print(f"\nnearest 10 faces to one face, {args.faces:,} faces, median of {args.queries} "
          "queries")
    # NumPy: facefold's exact fallback (vectors already in memory)
    times = []
    for q in queries:
        t = time.perf_counter()
        np.argsort(np.linalg.norm(x - x[q], axis=1))[1:11]
        times.append(time.perf_counter() - t)
    print(f"  in memory, exact (NumPy):         {_median_ms(times):8.2f} ms   recall 1.000")
    index = faiss.IndexFlatL2(DIM)
    index.add(x)
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(x[q:q + 1], 11)
        times.append(time.perf_counter() - t)
    print(f"  in memory, exact (FAISS flat):    {_median_ms(times):8.2f} ms   recall 1.000")
    # pgvector HNSW, as migration 0008 makes it
    engine = create_engine(new_database(pg, "nearest"), poolclass=NullPool)
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        c.execute(text(f"CREATE TABLE faces (id integer PRIMARY KEY, embedding vector({DIM}))"))
        raw = c.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy("COPY faces (id, embedding) FROM STDIN") as cp:
            for start in range(0, len(x), 20_000):  # text form, a slice at a time
                buf = io.StringIO()
                for i in range(start, min(start + 20_000, len(x))):
                    buf.write(f"{i}\t[{','.join(f'{f:.6f}' for f in x[i])}]\n")
                cp.write(buf.getvalue())
    t = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("SET maintenance_work_mem = '2GB'"))
        c.execute(text("CREATE INDEX ON faces USING hnsw (embedding vector_l2_ops)"))
    build = time.perf_counter() - t
    times, hits = [], 0
    with engine.connect() as c:
        for q, want in zip(queries, exact, strict=True):
            lit = "[" + ",".join(f"{f:.6f}" for f in x[q]) + "]"
            t = time.perf_counter()
            got = [r[0] for r in c.execute(text(
                "SELECT id FROM faces WHERE id <> :q ORDER BY embedding <-> CAST(:v AS vector) "
                "LIMIT 10"), {"q": int(q), "v": lit})]
            times.append(time.perf_counter() - t)
            hits += len(set(got) & set(want.tolist()))
    engine.dispose()
    print(f"  PostgreSQL, pgvector HNSW:        {_median_ms(times):8.2f} ms   recall "
          f"{hits / (10 * len(queries)):.3f}   (index built in {build:.0f}s)")
    sqlite_vec_bench(x, queries, exact, tmp)


def sqlite_vec_bench(x: np.ndarray, queries: np.ndarray, exact: list[np.ndarray],
                     tmp: Path) -> None:
    """sqlite-vec's exact scan, timed by the sqlite3 shell itself (`.timer on`)."""
    import sqlite3

    import sqlite_vec

    shell = shutil.which("sqlite3")
    if shell is None:
        print("  SQLite, sqlite-vec:               (no sqlite3 shell here)")
        return
    db = tmp / "vec.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE faces (id INTEGER PRIMARY KEY, embedding BLOB)")
        c.executemany("INSERT INTO faces VALUES (?, ?)",
                      ((i, v.astype("<f4").tobytes()) for i, v in enumerate(x)))
    sql = [f".load {sqlite_vec.loadable_path()}", ".timer on"]
    for q in queries:
        sql.append(f"SELECT id FROM faces WHERE id <> {int(q)} ORDER BY vec_distance_l2("
                   f"embedding, (SELECT embedding FROM faces WHERE id = {int(q)})) LIMIT 10;")
    out = subprocess.run([shell, str(db)], input="\n".join(sql), capture_output=True, text=True,
                         check=True).stdout
    times = [float(t) for t in re.findall(r"Run Time: real ([0-9.]+)", out)]
    ids = [int(line) for line in out.splitlines() if line.strip().isdigit()]
    hits = sum(len(set(ids[k * 10:(k + 1) * 10]) & set(want.tolist()))
               for k, want in enumerate(exact))
    print(f"  SQLite, sqlite-vec (exact scan):  {_median_ms(times):8.2f} ms   recall "
          f"{hits / (10 * len(queries)):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--faces", type=int, default=100_000, help="synthetic faces (1000000: 1M)")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--skip-photos", action="store_true", help="only the nearest-face part")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pg = start_postgres(tmp / "pg")
        try:
            if not args.skip_photos:
                photos_bench(args, tmp, pg)
            nearest_bench(args, tmp, pg)
        finally:
            pg.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
