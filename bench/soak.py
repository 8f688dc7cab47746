"""Soak: the fault loops of tests/service/test_faults.py at full size, outside `make test`.

    .venv/bin/python bench/soak.py [--photos 200] [--kills 5] [--rounds 3] [--seed 0]

Each round drops `--photos` distinct photos into a fresh inbox while `facefold watch` runs and
`kill -9`s it `--kills` times at random moments (0.2 s to ~half the expected run after each
start), restarting it each time. After the last start it must finish with every photo done
exactly once, no face stored twice and the links equal to the database. Prints one line per
round and a total: photos, faces, kills, kills that hit a batch, photos lost, duplicate faces.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from tests.helpers.daemon import Daemon, check_exactly_once, kill_loop  # noqa: E402
from tests.helpers.data import distinct_photos  # noqa: E402

from facefold.config import load_settings  # noqa: E402
from facefold.vision.weights import fetch_dataset, fetch_weights  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    settings = load_settings(REPO / "config.yaml")
    fetch_weights(settings.models_dir)
    data = fetch_dataset(settings.models_dir, Path.home() / ".cache/facefold/testdata/5-celebrity")
    totals = {"photos": 0, "faces": 0, "kills": 0, "hit": 0, "lost": 0, "duplicates": 0}
    failed = 0
    for r in range(args.rounds):
        rng = np.random.default_rng(args.seed + r)
        with tempfile.TemporaryDirectory() as tmp:
            d = Daemon(Path(tmp))
            d.inbox.mkdir()
            t0 = time.monotonic()
            d.start()
            files = distinct_photos(data, args.photos, d.inbox)
            # expected processing ~10 photos/s: kill within the first half of what is left
            hit = kill_loop(d, files, args.kills, rng, max_wait=max(1.0, args.photos / 20))
            done = {row[0] for row in d.query("SELECT path FROM images WHERE status = 'done'")}
            lost = sum(str(f) not in done for f in files)
            dupes = d.query("SELECT COUNT(*) FROM (SELECT 1 FROM faces GROUP BY image_id, box_x, "
                            "box_y HAVING COUNT(*) > 1)")[0][0]
            try:
                counts = check_exactly_once(d, files)
                verdict = "ok"
            except AssertionError as exc:
                counts = {"faces": d.query("SELECT COUNT(*) FROM faces")[0][0]}
                verdict = f"FAILED: {exc}"
                failed += 1
            code = d.stop()
            print(f"round {r + 1}: {len(files)} photos, {counts['faces']} faces, {args.kills} "
                  f"kills ({hit} hit a batch), lost {lost}, duplicate faces {dupes}, exit {code}, "
                  f"{time.monotonic() - t0:.0f}s: {verdict}", flush=True)
            for k, v in (("photos", len(files)), ("faces", counts["faces"]),
                         ("kills", args.kills), ("hit", hit), ("lost", lost),
                         ("duplicates", dupes)):
                totals[k] += v
    print("total: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return 1 if failed or totals["lost"] or totals["duplicates"] else 0


if __name__ == "__main__":
    sys.exit(main())
