"""Pure clustering maths: unit face vectors → person labels. Knows nothing of facefold's storage.

A face is a noisy sighting of its person: FaceNet puts a good face at a squared distance of about
`face_noise` from its person's centre, and a small, blurred or turned one further
(`small_face_noise`). So two groups of faces are one person when the distance between their
centres, once the noise their own faces show is taken away, is under `merge_distance`:

    D²(A, B) − v(A) − v(B) < merge_distance²

where D² is the mean squared distance between the faces of A and of B, and v(X) the spread of
X's faces around its centre (for a group of one, its face's expected noise; for a larger one,
what its faces show, steadied by that expectation). Halves of one person who looks different
from photo to photo are close once their wide spreads are taken away; two people with many
photos each are far apart however alike; two single faces must be really close to pair.
(bench/quality.py measures this rule against simpler ones, on sets it was and was not chosen on.)

1. Copies of one photo count once: faces whose crops and photos, in small, correlate at least
   `copy_similarity` (either, when closer than `copy_distance`: a resized, re-encoded, cropped
   or mirrored copy) form one *unit*, one piece of evidence. Distinct photos of a person are distinct
   evidence, however alike they look: a unit joins faces at least half of whose pairs are
   copies, so the photos of one session do not chain into one.
2. Units merge, closest first, along a k-nearest-neighbour graph (never an n × n matrix), while
   the criterion above holds; never two faces of one photo in one person, never two people a
   user kept apart; the faces of a person the user named or hid start as one group.
3. A group of two or more units with at least one face of `min_quality` is a person.
4. What is left joins the person it would merge with, by the same criterion; a weak face (below
   `min_quality`) that still fits nobody joins its nearest person when closer than
   `weak_distance` and clearly nearer than the runner-up (`weak_margin`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facefold.vision.pixels import pixel_similarity, same_scene

NOISE = -1
NEIGHBOURS = 10  # candidates looked at per face: the k of the k-nearest-neighbour graph
EXACT_MAX_POINTS = 50_000  # up to this many points the k-NN search is exact; above, IVF
CENTRE_ROUNDS = 3  # rounds of candidates from a k-NN over the groups' centres
COPY_PLACE = 0.25  # copies show a face at one place: centres and sizes within this share
COPY_CHUNK = 4096  # pairs whose signatures are compared at once
PAIR_CHUNK = 65536  # pairs of groups judged at once


@dataclass(frozen=True)
class ClusterParams:
    """Each explained in config.yaml, `clustering:`; measured in bench/quality.py."""

    merge_distance: float = 0.75  # groups whose noise-free centres are closer are one person
    face_noise: float = 0.2  # a good face's squared distance from its person's centre
    small_face_noise: float = 1.0  # a face of quality 0 is this much noisier (×(1 + this))
    min_quality: float = 0.4  # a person needs one face at least this good; below: weak
    weak_distance: float = 1.25  # a weak face joins its nearest person only under this ...
    weak_margin: float = 0.9  # ... and when nearer than this share of the runner-up
    copy_distance: float = 0.3  # faces closer than this, whose photos and crops match ...
    copy_similarity: float = 0.9  # ... this much (correlation in small), are copies: one unit
    method: str = "evidence"  # "hdbscan": HDBSCAN over the units instead of steps 2 to 4
    hdbscan_min_cluster_size: int = 2  # with method "hdbscan": units a cluster needs


def face_noise(quality: np.ndarray, params: ClusterParams) -> np.ndarray:
    """Each face's expected squared distance from its person's centre, by quality: `face_noise`
    at `min_quality` and above, rising to face_noise × (1 + small_face_noise) at quality 0."""
    short = np.maximum((params.min_quality - quality) / max(params.min_quality, 1e-9), 0.0)
    return params.face_noise * (1.0 + params.small_face_noise * short)


def knn(vectors: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of each unit vector, itself excluded: (indices, distances),
    nearest first; -1 where there are fewer. FAISS's exact inner-product search up to
    EXACT_MAX_POINTS, its IVF index above (each point looks at 16 of √n·4 lists)."""
    import faiss

    n = len(vectors)
    k = min(k, max(n - 1, 0))
    if k == 0:
        return np.zeros((n, 0), np.int64), np.zeros((n, 0), np.float32)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index: Any
    if n <= EXACT_MAX_POINTS:
        index = faiss.IndexFlatIP(x.shape[1])
    else:
        # pragmas below: how the approximate search is tuned (lists, training, lists looked
        # at) trades time for the share of true neighbours found; a step either way changes
        # no person (tests/people/test_cluster.py checks that share, bench/cluster.py times it)
        lists = int(4 * np.sqrt(n))  # pragma: no mutate
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(x.shape[1]), x.shape[1], lists,
                                   faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10  # pragma: no mutate
        index.cp.min_points_per_centroid = 16  # pragma: no mutate
        sample = x[np.random.default_rng(0).choice(n, min(n, lists * 16), replace=False)]  # pragma: no mutate
        index.train(sample)
        index.nprobe = 16  # pragma: no mutate
    index.add(x)
    sims, idx = index.search(x, k + 1)
    own = idx == np.arange(n)[:, None]
    keep = ~own
    keep[np.flatnonzero(~own.any(axis=1)), -1] = False  # self not found: drop the farthest
    idx = idx[keep].reshape(n, k)
    sims = sims[keep].reshape(n, k)
    return idx.astype(np.int64), np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims)).astype(np.float32)


def graph_pairs(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The undirected pairs (a < b) of a k-NN graph, each once."""
    n = len(idx)
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    ok = cols >= 0
    a, b = np.minimum(rows[ok], cols[ok]), np.maximum(rows[ok], cols[ok])
    key = np.unique(a * n + b)
    return key // n, key % n


Signatures = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""Given face indices, their (pixels, scenes): vision.pixels signatures of crop and photo."""


def pair_d2(vectors: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances of the pairs of rows (a[i], b[i]), a chunk of pairs at a time (never
    all their vectors at once: ten pairs a face)."""
    # pragma below: float32 or float64, the same distances to the precision compared
    out = np.empty(len(a), np.float32)  # pragma: no mutate
    for s in range(0, len(a), PAIR_CHUNK):
        x, y = vectors[a[s:s + PAIR_CHUNK]], vectors[b[s:s + PAIR_CHUNK]]
        out[s:s + PAIR_CHUNK] = np.einsum("ij,ij->i", x - y, x - y)
    return out


def copy_units(vectors: np.ndarray, photos: np.ndarray, params: ClusterParams,
               signatures: Signatures | None, quality: np.ndarray,
               idx: np.ndarray | None = None) -> np.ndarray:
    """A unit id per face (0..u-1): faces that are one face in copies of one photo share one.
    Two faces of different photos that could otherwise pair up as a person are a copy pair
    when both their crops (or one's mirror image) and their photos, moved so that the faces
    coincide, correlate at least `copy_similarity`; or, closer than `copy_distance`, either
    does (a resized, re-encoded, cropped or mirrored copy; a small face's copies drift apart
    in FaceNet, their pixels do not). Pairs join units closest first, two units only when at
    least half their faces' pairs are copy pairs: photos of one session, each near the next,
    do not chain into one. Signatures are asked for only for the faces of such pairs; without
    them, nothing counts as a copy."""
    n = len(vectors)
    if n < 2 or signatures is None:
        return np.arange(n)
    if idx is None:
        idx, _ = knn(vectors)
    noise = face_noise(quality, params)
    a, b = graph_pairs(idx)
    d2 = pair_d2(vectors, a, b)
    ok = d2 - noise[a] - noise[b] < params.merge_distance ** 2
    # pragma below: faces of one photo are never one unit (the photo check below); leaving
    # them out here only saves looking at their pixels
    ok[photos[a] == photos[b]] = False  # pragma: no mutate
    k = np.flatnonzero(ok)
    if len(k):
        faces = np.unique(np.concatenate([a[k], b[k]]))
        pixels, scenes = signatures(faces)
        for part in np.array_split(k, -(-len(k) // COPY_CHUNK)):  # bounded memory
            pa, pb = np.searchsorted(faces, a[part]), np.searchsorted(faces, b[part])
            crops = pixel_similarity(pixels[pa], pixels[pb]) >= params.copy_similarity
            photo = same_scene(scenes[pa], scenes[pb], params.copy_similarity, COPY_PLACE)
            close = d2[part] < params.copy_distance ** 2
            ok[part] = (crops & photo) | (close & (crops | photo))
    a, b, d2 = a[ok], b[ok], d2[ok]
    links = set(zip(a.tolist(), b.tolist(), strict=True))
    unit = np.arange(n)
    members: dict[int, list[int]] = {}
    for e in np.argsort(d2, kind="stable").tolist():
        x, y = int(unit[a[e]]), int(unit[b[e]])
        if x == y:
            continue
        ma, mb = members.get(x, [x]), members.get(y, [y])
        if {int(photos[f]) for f in ma} & {int(photos[f]) for f in mb}:
            continue
        hits = sum((min(p, q), max(p, q)) in links for p in ma for q in mb)
        if 2 * hits >= len(ma) * len(mb):
            members[x] = ma + mb
            # pragma below: a merged unit's list is never looked up again; this frees it
            members.pop(y, None)  # pragma: no mutate
            unit[mb] = x
    return np.unique(unit, return_inverse=True)[1].astype(np.int64)


def signatures_of(pixels: np.ndarray, scenes: np.ndarray) -> Signatures:
    """`Signatures` over arrays held in memory (N rows each)."""
    return lambda rows: (pixels[rows], scenes[rows])


class Groups:
    """Groups of unit vectors as sums: enough to judge any two by the criterion above, and to
    merge them. Each group knows its photos (no two faces of a photo in one person) and the
    people kept apart it holds (`apart`: pairs of group tags, a < b)."""

    def __init__(self, vectors: np.ndarray, noise: np.ndarray, photos: Sequence[set[int]],
                 tags: Sequence[set[int]] | None = None,
                 apart: frozenset[tuple[int, int]] = frozenset(),
                 counts: np.ndarray | None = None) -> None:
        """One group per unit vector; or, given `counts`, groups already summed: `vectors` are
        their sums and `noise` their summed expected noise."""
        self.sums = vectors.astype(np.float64).copy()
        self.counts = np.ones(len(vectors)) if counts is None else counts.astype(np.float64)
        self.noise = noise.astype(np.float64).copy()  # sum of the units' expected noise
        self.photos = [set(p) for p in photos]
        self.tags = [set(t) for t in tags] if tags is not None else None
        self.apart = apart

    def spread(self, g: np.ndarray) -> np.ndarray:
        """v(X): the spread of each group's units around its centre, steadied by their
        expected noise (one unit's worth): a group of one is its unit's expected noise."""
        n, s = self.counts[g], self.sums[g]
        scatter = n - np.einsum("ij,ij->i", s, s) / n
        return (scatter + self.noise[g] / n) / n

    def criterion(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """D²(A, B) − v(A) − v(B) for the pairs of groups (a[i], b[i])."""
        out = np.empty(len(a))
        for s in range(0, len(a), PAIR_CHUNK):  # bounded memory: a chunk's sums at a time
            x, y = a[s:s + PAIR_CHUNK], b[s:s + PAIR_CHUNK]
            d2 = 2.0 - 2.0 * np.einsum("ij,ij->i", self.sums[x], self.sums[y]) / (
                self.counts[x] * self.counts[y])
            out[s:s + PAIR_CHUNK] = d2 - self.spread(x) - self.spread(y)
        return out

    def criterion_to(self, vectors: np.ndarray, noise: np.ndarray,
                     g: np.ndarray) -> np.ndarray:
        """The criterion between single units (vectors, noise) and groups g, row by row."""
        d2 = 2.0 - 2.0 * np.einsum("ij,ij->i", vectors.astype(np.float64), self.sums[g]) / (
            self.counts[g])
        return d2 - noise - self.spread(g)

    def conflict(self, a: int, b: int) -> bool:
        if self.photos[a] & self.photos[b]:
            return True
        if self.tags is None or not self.apart:
            return False
        return any((min(x, y), max(x, y)) in self.apart
                   for x in self.tags[a] for y in self.tags[b])

    def merge(self, dst: int, src: int) -> None:
        self.sums[dst] += self.sums[src]
        self.counts[dst] += self.counts[src]
        self.noise[dst] += self.noise[src]
        self.photos[dst] |= self.photos[src]
        if self.tags is not None:
            self.tags[dst] |= self.tags[src]


def _dedupe(ga: np.ndarray, gb: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray,
                                                            np.ndarray]:
    """The distinct pairs (a < b, no self-pairs) among (ga, gb), and for each given pair the
    index of its distinct pair (-1: a self-pair)."""
    lo, hi = np.minimum(ga, gb), np.maximum(ga, gb)
    key = lo.astype(np.int64) * n + hi
    key[lo == hi] = -1
    uniq, inv = np.unique(key, return_inverse=True)
    skip = int(len(uniq) > 0 and uniq[0] < 0)
    return uniq[skip:] // n, uniq[skip:] % n, inv.ravel() - skip


def agglomerate(groups: Groups, labels: np.ndarray, a: np.ndarray, b: np.ndarray,
                limit: float) -> np.ndarray:
    """Merge groups along the pairs (a, b) of units, in rounds: pairs that are each other's
    best partner by the criterion merge, while the criterion is under `limit` and they do not
    conflict (a conflict only grows as groups merge, so a refused pair stays refused). Only
    the pairs a round changed are judged again. Then more rounds with candidates from a k-NN
    over the groups' centres (parts of a person that no unit-level neighbour links). Return
    the unit labels: each unit's group, a group named by one of its units."""
    labels = labels.copy()
    n = len(labels)
    ga, gb, _ = _dedupe(labels[a], labels[b], n)
    m = groups.criterion(ga, gb)
    blocked = np.zeros(len(ga), bool)
    for round_ in range(CENTRE_ROUNDS + 1):
        if round_:
            alive = np.unique(labels)
            if len(alive) < 2:
                break
            centres = groups.sums[alive] / np.linalg.norm(groups.sums[alive], axis=1,
                                                          keepdims=True)
            ca, cb = graph_pairs(knn(centres)[0])
            na, nb, inv = _dedupe(np.concatenate([ga, alive[ca]]),
                                  np.concatenate([gb, alive[cb]]), n)
            old = inv[: len(ga)]  # every old pair is distinct, and kept
            fresh = np.ones(len(na), bool)
            fresh[old] = False
            m_new, b_new = np.empty(len(na)), np.zeros(len(na), bool)
            m_new[old], b_new[old] = m, blocked
            m_new[fresh] = groups.criterion(na[fresh], nb[fresh])
            ga, gb, m, blocked = na, nb, m_new, b_new
            before = len(alive)
        while True:
            e = np.flatnonzero((m < limit) & ~blocked)
            if not len(e):
                break
            best = np.full(n, np.inf)
            np.minimum.at(best, ga[e], m[e])
            np.minimum.at(best, gb[e], m[e])
            mutual = e[(m[e] == best[ga[e]]) & (m[e] == best[gb[e]])]
            remap = np.arange(n)
            changed = np.zeros(n, bool)
            used: set[int] = set()
            for k in mutual[np.argsort(m[mutual], kind="stable")].tolist():
                x, y = int(ga[k]), int(gb[k])
                if x in used or y in used:  # a tie: one pair per group a round
                    continue
                used |= {x, y}
                if groups.conflict(x, y):
                    blocked[k] = True
                    continue
                groups.merge(x, y)
                remap[y], changed[x] = x, True
            if not changed.any():
                continue  # every best pair was refused: the next best come up
            labels = remap[labels]
            ga, gb = remap[ga], remap[gb]
            touched = np.flatnonzero(changed[ga] | changed[gb])
            ta, tb, inv = _dedupe(ga[touched], gb[touched], n)
            tblock = np.zeros(len(ta), bool)
            real = inv >= 0
            np.logical_or.at(tblock, inv[real], blocked[touched[real]])
            keep = np.ones(len(ga), bool)
            keep[touched] = False
            ga = np.concatenate([ga[keep], ta])
            gb = np.concatenate([gb[keep], tb])
            m = np.concatenate([m[keep], groups.criterion(ta, tb)])
            blocked = np.concatenate([blocked[keep], tblock])
        if round_ and len(np.unique(labels)) == before:
            break
    return labels


def _persons_of(labels: np.ndarray, quality: np.ndarray, params: ClusterParams,
                seeded: np.ndarray) -> np.ndarray:
    """The unit labels with groups that are no person (fewer than two units, or no face of
    `min_quality`; a group the user named or hid always is) set to NOISE."""
    out = labels.copy()
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    best = np.zeros(len(ids))
    np.maximum.at(best, np.searchsorted(ids, labels), quality)
    held = np.zeros(len(ids), bool)
    np.logical_or.at(held, np.searchsorted(ids, labels), seeded)
    gone = ids[((counts < 2) | (best < params.min_quality)) & ~held]
    out[np.isin(labels, gone)] = NOISE
    return out


def _candidates(idx: np.ndarray, labels: np.ndarray, loose: np.ndarray) -> list[np.ndarray]:
    """For each loose unit, the persons of its nearest units (nearest first, each once)."""
    out = []
    for u in loose.tolist():
        seen = labels[idx[u][idx[u] >= 0]]
        seen = seen[seen != NOISE]
        out.append(seen[np.sort(np.unique(seen, return_index=True)[1])])
    return out


def attach(groups: Groups, labels: np.ndarray, vectors: np.ndarray, noise: np.ndarray,
           quality: np.ndarray, idx: np.ndarray, params: ClusterParams) -> np.ndarray:
    """Give each unit in no person the person among its neighbours' that it would merge with
    (criterion under merge_distance², the smallest first); a weak unit that fits nobody, its
    nearest person (RMS distance under `weak_distance` and under `weak_margin` times the
    runner-up's). Never a person that holds one of its photos or someone kept apart from it.
    Persons are judged as they were before anything joined them: the order does not matter."""
    labels = labels.copy()
    loose = np.flatnonzero(labels == NOISE)
    cands = _candidates(idx, labels, loose)
    limit = params.merge_distance ** 2
    offers: list[tuple[float, int, int]] = []
    weak: list[tuple[float, int, int]] = []
    for u, people in zip(loose.tolist(), cands, strict=True):
        if not len(people):
            continue
        m = groups.criterion_to(np.repeat(vectors[u:u + 1], len(people), axis=0),
                                np.full(len(people), noise[u]), people)
        for k in np.argsort(m).tolist():  # NEIGHBOURS at most: numpy sorts so few stably
            if m[k] < limit:
                offers.append((float(m[k]), u, int(people[k])))
        if quality[u] < params.min_quality:
            rms = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (groups.sums[people] @ vectors[u])
                                     / groups.counts[people]))
            order = np.argsort(rms)
            runner_up = rms[order[1]] if len(order) > 1 else np.inf
            if rms[order[0]] < params.weak_distance and \
                    rms[order[0]] < params.weak_margin * runner_up:
                weak.append((float(rms[order[0]]), u, int(people[order[0]])))
    photos_now = {int(p): set(groups.photos[int(p)]) for p in np.unique(labels[labels != NOISE])}
    tags: Sequence[set[int]] = groups.tags if groups.tags is not None else [set()] * len(labels)
    tags_now = {p: set(tags[p]) for p in photos_now}
    for _m, u, p in sorted(offers) + sorted(weak):
        if labels[u] != NOISE or groups.photos[u] & photos_now[p]:
            continue
        if any((min(x, y), max(x, y)) in groups.apart for x in tags[u] for y in tags_now[p]):
            continue
        labels[u] = p
        photos_now[p] |= groups.photos[u]
        tags_now[p] |= tags[u]
    return labels


def hdbscan_units(groups: Groups, labels: np.ndarray, uv: np.ndarray, quality: np.ndarray,
                  params: ClusterParams, seeded: np.ndarray) -> np.ndarray:
    """The other method (`clustering.method: hdbscan`): HDBSCAN over the units' vectors, then
    each cluster's units join its most central one, nearest first, unless that would put two
    faces of one photo, or two people kept apart, in one person; then step 3. Exact HDBSCAN:
    fine for a family library, slow past some 100,000 faces."""
    import hdbscan

    labels = labels.copy()
    if len(uv) <= params.hdbscan_min_cluster_size:
        return _persons_of(labels, quality, params, seeded)
    found = hdbscan.HDBSCAN(min_cluster_size=params.hdbscan_min_cluster_size,
                            min_samples=1).fit_predict(uv.astype(np.float64))
    for lab in np.unique(found[found >= 0]).tolist():
        rows = np.flatnonzero(found == lab)
        order = rows[np.argsort(np.linalg.norm(uv[rows] - uv[rows].mean(axis=0), axis=1))]
        root = int(labels[order[0]])
        for r in order[1:].tolist():
            other = int(labels[r])
            if other != root and not groups.conflict(root, other):
                groups.merge(root, other)
                labels[labels == other] = root
    return _persons_of(labels, quality, params, seeded)


def relabel(labels: np.ndarray) -> np.ndarray:
    """Return labels renumbered 0..k-1 in order of first appearance, noise kept as -1."""
    out = np.full(len(labels), NOISE)
    mapping: dict[int, int] = {}
    for i, lab in enumerate(labels.tolist()):
        if lab != NOISE:
            out[i] = mapping.setdefault(int(lab), len(mapping))
    return out


def cluster_faces(vectors: np.ndarray, photos: np.ndarray, params: ClusterParams,
                  quality: np.ndarray | None = None, groups: np.ndarray | None = None,
                  apart: set[tuple[int, int]] | None = None,
                  signatures: Signatures | None = None,
                  fixed: set[int] | None = None) -> np.ndarray:
    """Given (N, D) unit vectors, each face's photo id and quality (0..1; None: all good),
    return N labels (-1: nobody yet). With `signatures` (vision.pixels signatures of the faces
    asked for), copies of one photo count once. With `groups` (each face's current person, -1 for none):
    faces of persons in `fixed` (named or hidden by the user) start as one group, and no person
    holds faces of both groups of a pair in `apart`."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    # pragma below: float32 only halves the memory; the sums are float64 either way
    vectors = np.asarray(vectors, np.float32)  # pragma: no mutate
    quality = np.ones(n) if quality is None else np.asarray(quality, np.float64)
    idx_faces, _ = knn(vectors)
    units = copy_units(vectors, photos, params, signatures, quality, idx_faces)
    u = int(units.max()) + 1
    if u == n:  # no copies: each face its own unit
        uv = vectors
    else:
        sums = np.zeros((u, vectors.shape[1]))
        np.add.at(sums, units, vectors.astype(np.float64))
        uv = (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(
            np.float32)  # pragma: no mutate (float32 only halves the memory)
        del sums
    uq = np.zeros(u)
    np.maximum.at(uq, units, quality)
    unit_photos: list[set[int]] = [set() for _ in range(u)]
    for k, ph in zip(units.tolist(), np.asarray(photos).tolist(), strict=True):
        unit_photos[k].add(int(ph))
    tags: list[set[int]] | None = None
    start = np.arange(u)
    seeded = np.zeros(u, bool)  # pragma: no mutate (as floats, 0 and 1 read the same)
    if groups is not None:
        tags = [set() for _ in range(u)]
        for k, g in zip(units.tolist(), np.asarray(groups).tolist(), strict=True):
            if g >= 0:
                tags[k].add(int(g))
        first: dict[int, int] = {}
        for k, t in enumerate(tags):  # a named or hidden person's units start together
            mine = [g for g in t if fixed and g in fixed]
            if len(mine) == 1:
                start[k] = first.setdefault(mine[0], k)
                seeded[k] = True
    noise = face_noise(uq, params)
    g = Groups(uv, noise, unit_photos, tags,
               frozenset((min(x, y), max(x, y)) for x, y in (apart or ())))
    for k in np.flatnonzero(start != np.arange(u)).tolist():
        root = int(start[k])
        if not g.conflict(root, k):
            g.merge(root, k)
        else:
            start[k] = k
    if params.method == "hdbscan":
        return relabel(hdbscan_units(g, start, uv, uq, params, seeded)[units])
    idx = idx_faces if u == n else knn(uv)[0]  # no copies: the units are the faces
    a, b = graph_pairs(idx)
    labels = agglomerate(g, start, a, b, params.merge_distance ** 2)
    labels = _persons_of(labels, uq, params, seeded)
    labels = attach(g, labels, uv, noise, uq, idx, params)
    return relabel(labels[units])
