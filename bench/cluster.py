"""Benchmark: clustering at library scale on synthetic faces (no models, no photos).

Synthetic 128-d unit vectors: identities with a geometric spread of photo counts (many people seen
a few times, some seen hundreds of times), faces scattered around each identity so that same-person
distances look like FaceNet's on real photos (median ≈ 0.85, different people ≈ 1.4).

For each size: the full recluster (`cluster_faces`, as `facefold recluster --full` runs it), the
incremental assignment of new faces against the in-memory index (per face, in batches of 16 as
the worker does), the pairwise F1 of both against the truth, and peak memory (ru_maxrss). Each
face has a pixel signature and a scene (random grain and a random photo: no two match), made
when the clustering asks for them (those of close pairs only), as it reads them from the store.

    .venv/bin/python bench/cluster.py [--sizes 10000 50000 100000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from facefold.people.assign import Persons, attach_to_persons
from facefold.people.cluster import NOISE, ClusterParams, cluster_faces
from facefold.vision.pixels import PHOTO_BYTES, PIXEL_BYTES, SCENE_BYTES, scene


def synth(n: int, rng: np.random.Generator, dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(min(400, rng.geometric(1 / 20))))
    truth = np.repeat(np.arange(len(sizes)), sizes)[:n]
    centres = rng.normal(size=(len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[truth] + rng.normal(size=(n, dim)) * (0.66 / np.sqrt(dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), truth


def random_signatures(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signatures of the faces asked for: each face's own random grain and photo (seeded by its
    row, so asked twice it is the same), the face at a random place in it."""
    pixels = np.zeros((len(rows), PIXEL_BYTES), np.uint8)
    scenes = np.zeros((len(rows), SCENE_BYTES), np.uint8)
    for k, r in enumerate(np.asarray(rows).tolist()):
        g = np.random.default_rng(r)
        pixels[k] = g.integers(0, 256, PIXEL_BYTES, dtype=np.uint8)
        scenes[k] = scene(g.integers(0, 256, PHOTO_BYTES, dtype=np.uint8).tobytes(),
                          (float(g.integers(0, 580)), 100.0, 60.0, 60.0), (640, 480))
    return pixels, scenes


def pairwise_f1(pred: np.ndarray, truth: np.ndarray) -> float:
    """Pairwise F1 by counting, without enumerating pairs."""
    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) / 2).sum())
    assigned = pred != NOISE
    _, joint = np.unique(np.stack([pred[assigned], truth[assigned]]), axis=1, return_counts=True)
    tp = pairs(joint)
    _, pc = np.unique(pred[assigned], return_counts=True)
    _, tc = np.unique(truth, return_counts=True)
    prec = tp / max(pairs(pc), 1)
    rec = tp / max(pairs(tc), 1)
    return 2 * prec * rec / max(prec + rec, 1e-12)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    photos_per = 1  # one face per photo: cannot-link never binds, the worst case for merging
    for n in args.sizes:
        x, truth = synth(n + 1000, rng)
        shuffle = rng.permutation(len(x))  # new faces come from everyone, seen or not
        x, truth = x[shuffle], truth[shuffle]
        base, new, t_base, t_new = x[:n], x[n:], truth[:n], truth[n:]
        photos = np.arange(n + 1000) * photos_per
        params = ClusterParams()
        quality = np.ones(n + 1000)
        t0 = time.perf_counter()
        labels = cluster_faces(base, photos[:n], params, quality[:n],
                               signatures=random_signatures)
        full_s = time.perf_counter() - t0
        f1_full = pairwise_f1(labels, t_base)

        persons = Persons.of(base, labels, photos[:n], quality[:n], params)
        got: list[int | None] = []
        t0 = time.perf_counter()
        for start in range(0, len(new), 16):
            sl = slice(n + start, n + start + 16)
            batch = attach_to_persons(new[start:start + 16], photos[sl], quality[sl], persons,
                                      params)
            persons.add(new[start:start + 16], np.array([NOISE if p is None else p for p in batch]),
                        photos[sl], quality[sl], params)
            got += batch
        per_face_ms = (time.perf_counter() - t0) / len(new) * 1000
        # a new face is right when its person is the cluster holding most of its identity
        major = {t: np.bincount(labels[(t_base == t) & (labels != NOISE)]).argmax()
                 for t in np.unique(t_new) if ((t_base == t) & (labels != NOISE)).any()}
        right = sum(1 for g, t in zip(got, t_new, strict=True) if g is not None and major.get(t) == g)
        assigned = sum(g is not None for g in got)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n:>7} faces, {len(np.unique(t_base))} people: full recluster {full_s:6.1f}s "
              f"(pairwise F1 {f1_full:.3f}, {len(np.unique(labels[labels != NOISE]))} persons, "
              f"{(labels == NOISE).sum()} unassigned) | assignment {per_face_ms:.2f} ms/face "
              f"({assigned}/{len(new)} assigned, {right} to the right person, "
              f"{sum(t in major for t in t_new)} of a known person) | "
              f"peak {peak:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
