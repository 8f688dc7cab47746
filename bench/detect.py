"""Benchmark: face detection recall, false faces and time, before and after the further looks at
a photo where nothing was found (`detection.retry_pad`: with a border; `enlarge_min_face_size`:
enlarged).

Labelled folders (default: the 5-celebrity train and val photos and the generated hard cases;
more on the command line) give recall: the share of photos in which at least one face is kept,
and the photos without one, listed. Face-free photos (tests/helpers/facefree.py: scikit-image's
samples without people, generated patterns, strips of the 5-celebrity photos beside the person)
give false faces per 100 photos. Time is the detector's own, per photo, models loaded first.

    .venv/bin/python bench/detect.py [SET_DIR …]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.data import celebrity_photos, data_cache_dir  # noqa: E402
from tests.helpers.facefree import face_free  # noqa: E402
from tests.helpers.hardcases import measured_sets  # noqa: E402

from facefold.config import load_settings  # noqa: E402
from facefold.core import Models  # noqa: E402
from facefold.files import iter_photos  # noqa: E402
from facefold.vision.decode import decode_photo  # noqa: E402


def run(models: Models, root: Path, extensions: tuple[str, ...]) -> tuple[int, int, list[str], float]:
    """(photos, faces kept, photos without a face, ms per photo) for every photo under root."""
    photos = faces = 0
    missed: list[str] = []
    seconds = 0.0
    for p in iter_photos([root], extensions):
        decoded = decode_photo(p.read_bytes(), 10**9, 1536)
        t0 = time.perf_counter()
        found = models.finder.detect(decoded.pixels, decoded.scale)
        seconds += time.perf_counter() - t0
        photos += 1
        faces += len(found)
        if not found:
            missed.append(p.relative_to(root).as_posix())
    return photos, faces, missed, 1000 * seconds / max(photos, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("sets", nargs="*", type=Path)
    args = ap.parse_args()
    settings = load_settings(REPO / "config.yaml")
    celeb = celebrity_photos(settings.models_dir)
    models = Models.from_settings(settings)
    models.load()
    sets = args.sets or measured_sets(celeb, models.finder)
    free = face_free(celeb, data_cache_dir() / "face-free", models.finder)
    ext = settings.decode.extensions
    after = models.finder.params
    results = {}
    one_look = replace(after, retry_pad=0.0, enlarge_min_face_size=0, confirm_min_confidence=1.0)
    for label, params in (("before", one_look), ("after", after)):
        models.finder.params = params
        run(models, sets[0], ext)  # warm: graphs traced off the clock
        per_set = [run(models, s, ext) for s in sets]
        fp = run(models, free, ext)
        results[label] = (per_set, fp)
    models.finder.params = after
    for (label, (per_set, fp)) in results.items():
        print(f"{label}: " + ("one look" if label == "before" else
                              f"retry_pad {after.retry_pad} (pyramid from "
                              f"{after.retry_min_face_size} px), then enlarged (from "
                              f"{after.enlarge_min_face_size} px); faces scored "
                              f"{after.confirm_min_confidence}-{after.min_confidence} confirmed"))
        for root, (n, _faces, missed, ms) in zip(sets, per_set, strict=True):
            print(f"  {root.parent.name}/{root.name}: recall {(n - len(missed)) / n:.4f} "
                  f"({n - len(missed)}/{n}), {ms:.0f} ms/photo"
                  + (f"; no face: {', '.join(m[:50] for m in missed)}" if missed else ""))
        n, faces, _missed, ms = fp
        print(f"  face-free: {faces} false faces in {n} photos = {100 * faces / n:.2f} per 100, "
              f"{ms:.0f} ms/photo")
    b, a = results["before"], results["after"]
    recall = [(n - len(m)) / n for n, _f, m, _ms in a[0]]
    print(f"detect: recall_min {min((n - len(m)) / n for n, _f, m, _ms in b[0]):.4f} -> "
          f"{min(recall):.4f}, false_per_100 {100 * b[1][1] / b[1][0]:.2f} -> "
          f"{100 * a[1][1] / a[1][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
