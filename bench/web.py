"""Benchmark: the web app on a large library against a small one, same run, same server code.

Builds two synthetic libraries straight into SQLite (random unit vectors, people of Zipf-like
sizes, a third of them named): a large one (default 2,000 people, 100,000 faces in 60,000 photos)
and a small one (100 people, 1,000 faces) as the baseline. For each, serves the app on loopback and
measures, over several cold loads:

- time to first byte and the whole HTML of the people grid, a person page (the largest person),
  the unassigned faces and the status page, over HTTP;
- in Debian's Chromium (when installed), the full load of the grid and of the person page, every
  thumbnail included, with the browser cache off.

Thumbnails of the faces those pages show are written beforehand (the photos are synthetic; a real
library cuts them once from its photos and keeps them). Prints one line per page and measure with
both libraries and their ratio; the last line is
`web: grid_ttfb=…ms grid_load=…ms person_load=…ms (large)`. Then, on the large library, one
thumbnail requested 50 times over one reused keep-alive connection and the grid fully loaded,
each with Nagle's algorithm on (the server before facefold turned it off) and off.

    .venv/bin/python bench/web.py [--people 2000 --faces 100000 --loads 5]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import insert, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.data import write_config  # noqa: E402
from tests.helpers.web import served  # noqa: E402

from facefold.config import load_settings  # noqa: E402
from facefold.core import Library, browse  # noqa: E402
from facefold.db.models import Face, Image, ImageStatus, Person  # noqa: E402
from facefold.thumbs import thumb_path, write_thumb  # noqa: E402
from facefold.vision.shapes import EMBEDDING_DIM  # noqa: E402

PAGES = {"grid": "/", "person": "/person/{top}", "unassigned": "/unassigned",
         "status": "/status"}


def build(root: Path, people: int, faces: int, photos: int, seed: int = 0) -> Library:
    """A library of `people` persons and `faces` faces (10% of nobody) in `photos` photos."""
    root.mkdir(parents=True)
    lib = Library(load_settings(write_config(root)))
    lib.settings.inbox.mkdir()
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, (rng.zipf(1.6, people) * 3).clip(1, faces // 10)).astype(int)
    owners = np.repeat(np.arange(1, people + 1), sizes)
    owners = rng.permutation(np.resize(owners, int(faces * 0.9)))
    person_of = np.concatenate([owners, np.full(faces - len(owners), -1)])
    vec = rng.normal(size=(faces, EMBEDDING_DIM)).astype("<f4")
    vec /= np.linalg.norm(vec, axis=1, keepdims=True)
    with lib.session() as s:
        s.execute(insert(Person), [{"id": i, "name": f"Person {i}" if i % 3 == 0 else None,
                                    "hidden": False} for i in range(1, people + 1)])
        s.execute(insert(Image), [{"id": i, "path": str(lib.settings.inbox / f"p{i:06d}.jpg"),
                                   "sha256": f"{i:064x}", "size": 1000, "mtime": 0.0,
                                   "width": 4000, "height": 3000, "status": ImageStatus.done,
                                   "attempts": 1} for i in range(1, photos + 1)])
        image_of = rng.integers(1, photos + 1, faces)
        rows = [{"id": k + 1, "image_id": int(image_of[k]), "box_x": 100.0, "box_y": 100.0,
                 "box_w": 200.0, "box_h": 200.0, "landmarks": "[[0,0],[0,0],[0,0],[0,0],[0,0]]",
                 "confidence": float(rng.uniform(0.9, 1.0)), "embedding": vec[k].tobytes(),
                 "person_id": None if person_of[k] < 0 else int(person_of[k]),
                 "pinned": False, "weights": "pretrained", "quality": float(rng.uniform())}
                for k in range(faces)]
        for i in range(0, faces, 20_000):
            s.execute(insert(Face), rows[i:i + 20_000])
        s.commit()
    return lib


def write_thumbs(lib: Library, top: int) -> None:
    """Thumbnails of every face the measured pages show."""
    fids: set[int] = set()
    for n in range(3):
        fids |= {c.face_id for c in browse.people(lib, offset=n * 60).rows if c.face_id}
    fids |= {f.id for f in browse.person(lib, top, limit=120).faces.rows}
    fids |= {f.id for f in browse.unassigned(lib).rows}
    tile = np.full((112, 112, 3), 150, np.uint8)
    cv2.circle(tile, (56, 56), 40, (200, 160, 130), -1)
    for fid in fids:
        write_thumb(thumb_path(lib.settings.state_dir, fid), tile)


def http_times(port: int, path: str, loads: int) -> tuple[float, float]:
    """Median time to first byte and to the whole body, in ms."""
    first, whole = [], []
    for _ in range(loads):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t0 = time.perf_counter()
        conn.request("GET", path)
        res = conn.getresponse()
        res.read(1)
        t1 = time.perf_counter()
        res.read()
        t2 = time.perf_counter()
        conn.close()
        assert res.status == 200, (path, res.status)
        first.append((t1 - t0) * 1000)
        whole.append((t2 - t0) * 1000)
    return statistics.median(first), statistics.median(whole)


def keepalive_ms(port: int, path: str, requests: int = 50) -> float:
    """Median time of a request on one reused keep-alive connection, in ms (the first, which
    opens the connection, not counted)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(requests + 1):
        t0 = time.perf_counter()
        conn.request("GET", path)
        res = conn.getresponse()
        res.read()
        times.append((time.perf_counter() - t0) * 1000)
        assert res.status == 200, (path, res.status)
    conn.close()
    return statistics.median(times[1:])


def nagle(lib: Library, loads: int, tmp: Path) -> dict[str, float]:
    """The same thumbnail over a reused connection, and the grid fully loaded in Chromium,
    with Nagle's algorithm on (as before facefold turned it off) and off."""
    fid = next(c.face_id for c in browse.people(lib).rows if c.face_id)  # its thumbnail exists
    out: dict[str, float] = {}
    for nodelay in (False, True):
        tag = "nodelay" if nodelay else "nagle"
        with served(lib, nodelay=nodelay) as (srv, _c):
            out[f"thumb keep-alive {tag}"] = keepalive_ms(srv.port, f"/media/face/{fid}.jpg")
            for name, ms in browser_loads(srv.port, {"grid": "/"}, loads,
                                          tmp / tag).items():
                out[f"{name} full load {tag}"] = ms
    return out


def browser_loads(port: int, paths: dict[str, str], loads: int, tmp: Path) -> dict[str, float]:
    """Median full load (every image included, cache off) in Chromium, in ms; {} without it."""
    try:
        from tests.helpers.browser import driver
        d = driver(tmp)
    except BaseException as exc:  # pytest.skip is a BaseException
        print(f"(no browser: {exc})")
        return {}
    out = {}
    try:
        d.execute_cdp_cmd("Network.enable", {})
        d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        for name, path in paths.items():
            times = []
            for _ in range(loads):
                d.get(f"http://127.0.0.1:{port}{path}")
                # loaded: the load event has fired and every image in the window has arrived
                # (lazy ones below the fold load as they are scrolled to; they do not count)
                for _wait in range(600):
                    t = d.execute_script(
                        "const n = performance.getEntriesByType('navigation')[0];"
                        "const seen = Array.from(document.images).filter(i => "
                        "i.getBoundingClientRect().top < innerHeight);"
                        "if (!n.loadEventEnd || !seen.every(i => i.complete && i.naturalWidth))"
                        " return -1;"
                        "const r = performance.getEntriesByType('resource').filter(e => "
                        "e.initiatorType === 'img').map(e => e.responseEnd);"
                        "return Math.max(n.loadEventEnd, ...r) - n.startTime;")
                    if t >= 0:
                        break
                    time.sleep(0.05)
                times.append(float(t))
            out[name] = statistics.median(times)
    finally:
        d.quit()
    return out


def measure(lib: Library, loads: int, tmp: Path) -> dict[str, float]:
    with lib.session() as s:
        top = int(s.execute(text("SELECT person_id FROM faces WHERE person_id IS NOT NULL "
                                 "GROUP BY person_id ORDER BY COUNT(*) DESC LIMIT 1")).scalar_one())
    write_thumbs(lib, top)
    paths = {k: v.format(top=top) for k, v in PAGES.items()}
    out: dict[str, float] = {}
    with served(lib) as (srv, _c):
        for name, path in paths.items():
            http_times(srv.port, path, 1)  # warm the database pages once
            out[f"{name} ttfb"], out[f"{name} html"] = http_times(srv.port, path, loads)
        for name, ms in browser_loads(srv.port, {"grid": paths["grid"],
                                                 "person": paths["person"]}, loads, tmp).items():
            out[f"{name} full load"] = ms
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--loads", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="facefold-bench-web-") as tmp:
        root = Path(tmp)
        timed: Callable[[str, Callable[[], Library]], Library]

        def timed(what: str, make: Callable[[], Library]) -> Library:
            t = time.perf_counter()
            lib = make()
            print(f"built {what} in {time.perf_counter() - t:.1f}s")
            return lib

        small = timed("small library (100 people, 1,000 faces)",
                      lambda: build(root / "small", 100, 1000, 600))
        large = timed(f"large library ({args.people:,} people, {args.faces:,} faces)",
                      lambda: build(root / "large", args.people, args.faces,
                                    int(args.faces * 0.6)))
        base = measure(small, args.loads, root / "b1")
        big = measure(large, args.loads, root / "b2")
        turns = nagle(large, args.loads, root / "b3")
        print("Nagle's algorithm on (before) and off (now), the large library, same run:")
        for key, ms in turns.items():
            print(f"  {key:<28}{ms:>8.1f} ms")
        before, now = turns.get("grid full load nagle"), turns.get("grid full load nodelay")
        print(f"web keep-alive: thumb={turns['thumb keep-alive nodelay']:.1f}ms (median of 50; "
              f"{turns['thumb keep-alive nagle']:.1f}ms with Nagle)"
              + (f" grid_load={now:.0f}ms vs {before:.0f}ms with Nagle "
                 f"({100 * (1 - now / before):.0f}% sooner)" if before and now else ""))
        print(f"{'page / measure':<24}{'small ms':>10}{'large ms':>10}{'ratio':>8}")
        for key in big:
            ratio = big[key] / base[key] if base.get(key) else float("nan")
            print(f"{key:<24}{base.get(key, float('nan')):>10.1f}{big[key]:>10.1f}{ratio:>7.2f}×")
        print(f"web: grid_ttfb={big['grid ttfb']:.0f}ms grid_load="
              f"{big.get('grid full load', float('nan')):.0f}ms person_load="
              f"{big.get('person full load', float('nan')):.0f}ms (large)")
        small.close()
        large.close()


if __name__ == "__main__":
    main()
