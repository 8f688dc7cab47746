"""Soak: the fault loops of tests/service/test_faults.py at full size, outside `make test`.

    .venv/bin/python bench/soak.py [--photos 200] [--kills 5] [--rounds 3] [--seed 0]
    .venv/bin/python bench/soak.py --hostile 500 [--kill-every 20] [--seed 0]

`--hostile N`: N photos, among them every file of tests/service/test_attacks.py (EXIF that
Pillow cannot write back, a HEIC over libheif's limits, 1 x 1,000,000 px, 20,000 scans, a
name that is not UTF-8, 244- and 255-byte names, colliding link names) and fuzzed whole photos
(tests.helpers.hostile.fuzzed_photo), the rest real photos; `facefold watch` is `kill -9`ed every
~`--kill-every` seconds (±25%) until every photo is done or failed. Prints: photos, kills,
restarts a photo caused (the daemon exiting by itself), photos lost (not done or failed),
good photos set aside, duplicate faces.

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


def _hostile_files(inbox: Path, data: Path, count: int, rng: np.random.Generator) -> list[Path]:
    """`count` files in `inbox`: the attack files, fuzzed whole photos, then real photos."""
    import os

    from PIL import Image
    from tests.helpers.hostile import (
        bad_exif,
        fuzzed_photo,
        heic_over_limits,
        many_scans_jpeg,
        png,
    )

    face = Image.open(sorted(data.rglob("*.jpg"))[0]).convert("RGB")
    made: list[Path] = []

    def put(name: str | bytes, blob: bytes | None) -> None:
        if blob is None:
            return
        path = Path(os.fsdecode(os.path.join(os.fsencode(inbox), os.fsencode(name))))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
        made.append(path)

    for tag, typ, n, fmt in ((0x011A, 2, 4, "JPEG"), (0x0128, 1, 1, "JPEG"),
                             (0x0128, 1, 1, "WEBP"), (0x0131, 5, 1, "JPEG")):
        put(f"exif-{tag:x}-{typ}.{fmt.lower()}", bad_exif(face, tag, typ, n, fmt))
    put("over-limits.heic", heic_over_limits(face))
    put("one-by-a-million.png", png(1, 1_000_000))
    put("twenty-thousand-scans.jpg", many_scans_jpeg(face, 20_000))
    put(b"live-\xe9t\xe9.jpg", bad_exif(face, 0x0112, 3, 1))
    put("顔" * 80 + ".jpg", bad_exif(face, 0x0112, 3, 1, "PNG"))
    put("n" * 251 + ".jpg", bad_exif(face, 0x0112, 3, 1, "WEBP"))
    bases = [Image.open(p).convert("RGB") for p in sorted(data.rglob("*.jpg"))]
    for i in range(count // 10):
        suffix, blob = fuzzed_photo(bases[i % len(bases)], rng)
        put(f"fuzzed/{i:04d}{suffix}", blob)
    good = distinct_photos(data, count - len(made), inbox / "good")
    return made + good


def hostile(count: int, kill_every: float, seed: int, data: Path) -> int:
    """The hostile mix under kill -9; return 1 when a photo was lost, caused a restart, or
    a good one was set aside."""
    import signal

    from tests.helpers.daemon import WORK_TIMEOUT, wait_for

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        d = Daemon(Path(tmp), watch={"settle_seconds": 0.3, "retry_seconds": 1.0})
        d.inbox.mkdir()
        files = _hostile_files(d.inbox, data, count, rng)
        t0 = time.monotonic()
        d.start()
        kills = restarts = 0

        def finished() -> bool:
            busy = d.query("SELECT COUNT(*) FROM images WHERE status IN ('queued','processing')")
            return busy[0][0] == 0 and d.idle()

        while not finished():
            until = time.monotonic() + float(rng.uniform(0.75, 1.25)) * kill_every
            while time.monotonic() < until and not finished():
                if not d.alive():  # it stopped by itself: a photo (or a bug) caused that
                    restarts += 1
                    print(f"the daemon exited by itself:\n{d.log.read_text()[-2000:]}")
                    d.start()
                time.sleep(0.5)
            if not finished():
                assert d.stop(signal.SIGKILL) == -signal.SIGKILL
                kills += 1
                d.start()
        wait_for(finished, WORK_TIMEOUT, d.log, d.proc, d.state)
        from facefold.db.types import text_to_path

        rows = {text_to_path(p): (st, e) for p, st, e in d.query(
            "SELECT path, status, error FROM images")}
        lost = [f for f in files if rows.get(str(f), ("",))[0] not in ("done", "failed")]
        set_aside = [f for f in files if "/good/" in str(f) and "stopped the process"
                     in (rows.get(str(f), ("", ""))[1] or "")]
        dupes = d.query("SELECT COUNT(*) FROM (SELECT 1 FROM faces GROUP BY image_id, box_x, "
                        "box_y HAVING COUNT(*) > 1)")[0][0]
        done = sum(st == "done" for st, _e in rows.values())
        code = d.stop()
        print(f"hostile: {len(files)} photos ({done} done, {len(rows) - done} failed), "
              f"{kills} kills, {restarts} restarts caused by a photo, {len(lost)} lost, "
              f"{len(set_aside)} good photos set aside, {dupes} duplicate faces, exit {code}, "
              f"{time.monotonic() - t0:.0f}s", flush=True)
        return 1 if lost or restarts or set_aside or dupes else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hostile", type=int, default=0, help="the hostile mix of this many photos")
    ap.add_argument("--kill-every", type=float, default=20.0)
    args = ap.parse_args()
    settings = load_settings(REPO / "config.yaml")
    fetch_weights(settings.models_dir)
    data = fetch_dataset(settings.models_dir, Path.home() / ".cache/facefold/testdata/5-celebrity")
    if args.hostile:
        return hostile(args.hostile, args.kill_every, args.seed, data)
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
