"""The peer, run inside `.venv-peer` (face_recognition + dlib): the five-line script everyone
starts from. HOG detector with one upsample, `face_encodings`, Chinese-whispers clustering at
0.5; clusters of at least two faces are people. Imports nothing of facefold's.

    .venv-peer/bin/python bench/peer_face_recognition.py SET_DIR…

Prints one JSON line per set: {"set", "seconds", "photos", "faces": [[photo, cluster|null, area]]},
with the models loaded and warmed before timing starts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dlib
import face_recognition

PHOTO_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
THRESHOLD = 0.5  # Chinese-whispers edge threshold, as in dlib's face-clustering example
MIN_PEOPLE_FACES = 2  # a cluster of one face is nobody


def photos(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in PHOTO_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def run(root: Path) -> dict[str, object]:
    found: list[tuple[str, list[float], float]] = []
    files = photos(root)
    t0 = time.perf_counter()
    for p in files:
        image = face_recognition.load_image_file(p)
        boxes = face_recognition.face_locations(image, number_of_times_to_upsample=1, model="hog")
        for box, encoding in zip(boxes, face_recognition.face_encodings(image, boxes),
                                 strict=True):
            top, right, bottom, left = box
            found.append((p.relative_to(root).as_posix(), list(encoding),
                          float((bottom - top) * (right - left))))
    labels = dlib.chinese_whispers_clustering([dlib.vector(e) for _p, e, _a in found],
                                              THRESHOLD) if found else []
    seconds = time.perf_counter() - t0
    sizes: dict[int, int] = {}
    for lab in labels:
        sizes[lab] = sizes.get(lab, 0) + 1
    faces = [[photo, f"c{lab}" if sizes[lab] >= MIN_PEOPLE_FACES else None, area]
             for (photo, _e, area), lab in zip(found, labels, strict=True)]
    return {"set": str(root), "seconds": seconds, "photos": len(files), "faces": faces}


def main() -> int:
    roots = [Path(a) for a in sys.argv[1:]]
    warm = next((p for r in roots for p in photos(r)), None)
    if warm is not None:  # models load on import; the first call allocates
        face_recognition.face_encodings(face_recognition.load_image_file(warm))
    for root in roots:
        print(json.dumps(run(root)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
