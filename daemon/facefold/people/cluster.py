"""Pure clustering maths: unit face vectors → person labels. Knows nothing of facefold's storage.

What makes a group of faces one person is judged against the evidence, not one absolute
distance (measured in the README, "The right people"):

1. Bursts. Near-identical faces (closer than `burst_distance`, or close with matching pixels; no
   two of one photo) are one piece of evidence, a *unit*. Groups of them join while at least
   half their pairs are alike, so a photo's copies stay one unit when one or two drift. A burst
   neither founds a person by itself nor splits one.
2. Cores. HDBSCAN over the units; inside each of its clusters (and among what it left out), only
   units linked by a chain of steps of at most `found_distance` stay together, and a core needs
   two units. A step is the RMS distance between two units' faces, not between their means (the
   mean of a photo's copies is closer to everyone than any face is). Units of faces
   below the quality bar never found a core. So strangers seen once, which sit ~0.8-1.1 from
   everyone, never chain into a person. A person of two units needs them closer than
   `pair_distance`, and not one sighting (one of them a single face near-identical to a face of
   the other: a copy that drifted out of its burst).
3. Merges. Two clusters become one while the distance between their centres is small compared
   with how precisely those centres are known: z = centre distance / its standard error, with
   each cluster's spread shrunk towards the library's typical spread (few faces say little).
   Look-alikes with many photos are many standard errors apart and stay apart; a few noisy
   faces of someone (small, old photos) are close in standard errors and join. A cap on the
   RMS distance stops anything far from merging.
4. Attachment. Every unit left over joins the cluster it is closest to in standard errors, when
   close enough and under a cap, and when the cluster has no face of its photo; a cluster of
   fewer than `attach_min_units` units (an uncertain centre) takes only full-quality faces, and
   a cluster spread wider than people usually are is judged as if it were not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from facefold.vision.pixels import (
    pixel_similarity,
    pixel_similarity_matrix,
    same_scene,
    same_scene_matrix,
)

NOISE = -1
EXACT_MAX_FACES = 8000  # above this, HDBSCAN runs on a k-nearest-neighbour graph (exact is O(n²) in 128-d)
KNN_NEIGHBOURS = 16  # neighbours per face in that graph; the single-linkage tree is exact where it matters
BURST_NEIGHBOURS = 8  # near-identical candidates looked at per face
DEFAULT_PRIOR_S2 = 0.25  # a person's mean squared distance to their centre when no cluster shows it
ATTACH_CHOICES = 3  # a unit whose nearest cluster cannot take it (a shared photo) tries this many
ATTACH_ROUNDS = 10  # rounds of attachment at most (the measured sets settle within 5)
SPLIT_MAX_UNITS = 3000  # cores checked for two people in one (average linkage is O(m²))


@dataclass(frozen=True)
class ClusterParams:
    """Each explained in config.yaml, `clustering:`; defaults measured in the README."""

    min_cluster_size: int = 2  # HDBSCAN: smallest group (of units) that makes a person
    min_samples: int = 1  # HDBSCAN: neighbours for a core unit
    burst_distance: float = 0.3  # faces closer than this are one piece of evidence
    found_distance: float = 0.85  # a person is founded only by units chained this close
    merge_z: float = 3.0  # clusters merge while their centres are fewer standard errors apart
    merge_distance: float = 1.15  # ... and their RMS face distance is below this cap
    attach_z: float = 2.0  # a leftover unit joins a cluster fewer standard errors away
    max_distance: float = 1.2  # ... with an RMS distance to its faces below this cap
    attach_min_units: int = 3  # faces below small_min_quality join only clusters this big
    small_min_quality: float = 1.0  # (a small cluster's centre is uncertain: full quality only)
    attach_max_spread: float = 1.2  # who may join a cluster is judged as if it spread at most
    # this many times the library's typical spread (strangers merged by chance spread wide)
    prior_weight: float = 2.0  # units' worth of the library's typical spread in each estimate
    min_quality: float = 0.4  # units whose best face is below this never found a person
    pair_distance: float = 0.8  # a person of two units only needs them closer than this
    found_min_share: float = 0.75  # nor units whose faces are all smaller than this share of
    # the largest face of their photos (passers-by behind the people photographed)
    burst_pixel_similarity: float = 0.9  # faces whose pixels correlate this much (or with the
    # mirror image) are one piece of evidence too ...
    burst_pixel_distance: float = 0.7  # ... when they are closer than this in FaceNet space
    burst_share: float = 0.5  # two groups of faces are one burst when this share of their
    # pairs are alike (above) ...
    burst_max_distance: float = 0.8  # ... and no pair is this far apart
    copy_similarity: float = 0.97  # faces at one place of photos whose signatures correlate
    # this much are one face in copies of one photo: one piece of evidence ...
    copy_place: float = 0.25  # ... their centres and sizes differing by less than this share
    # of the face's size (and closer than burst_max_distance)


def enforce_cannot_link(vectors: np.ndarray, photos: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return labels where no cluster holds two faces of one photo: the face nearest the cluster's
    mean keeps its place, the others become noise."""
    labels = labels.copy()
    for lab in np.unique(labels[labels != NOISE]):
        idx = np.flatnonzero(labels == lab)
        _, counts = np.unique(photos[idx], return_counts=True)
        if counts.max() < 2:
            continue
        centre = vectors[idx].mean(axis=0)
        dist = np.linalg.norm(vectors[idx] - centre, axis=1)
        seen: set[int] = set()
        for j in idx[np.argsort(dist, kind="stable")]:
            if int(photos[j]) in seen:
                labels[j] = NOISE
            else:
                seen.add(int(photos[j]))
    return labels


def relabel(labels: np.ndarray) -> np.ndarray:
    """Return labels renumbered 0..k-1 in order of first appearance, noise kept as -1."""
    out = np.full(len(labels), NOISE, dtype=np.int64)
    mapping: dict[int, int] = {}
    for i, lab in enumerate(labels):
        if lab != NOISE:
            out[i] = mapping.setdefault(int(lab), len(mapping))
    return out


def knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (self included, first, at distance 0): (indices, distances
    sqrt(2 - 2 a·b), nearest first). For unit vectors, the Euclidean ones; for `face_means`,
    RMS distances between units' faces. FAISS's exact inner-product search: the same
    neighbours as a plain matrix product, ~7x faster at 50,000 faces (bench/cluster.py)."""
    import faiss

    n = len(vectors)
    k = min(k, n)
    if n == 0:
        return np.zeros((0, 0), np.int64), np.zeros((0, 0), np.float32)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    sims, idx = index.search(x, k)
    # ties (near-identical faces) may put another face before a face itself, and a mean of
    # spread faces is nearer a tight one than itself: self goes first, the rest keep their order
    # (the farthest drops when self was not among them)
    own = idx == np.arange(n)[:, None]
    first = np.where(own.any(axis=1), own.argmax(axis=1), k - 1)
    for r in np.flatnonzero(first > 0).tolist():
        f = int(first[r])
        idx[r, 1:f + 1], sims[r, 1:f + 1] = idx[r, :f].copy(), sims[r, :f].copy()
        idx[r, 0] = r
    sims[:, 0] = 1.0
    return idx.astype(np.int64), np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims)).astype(np.float32)


def hdbscan_knn(vectors: np.ndarray, min_cluster_size: int, min_samples: int,
                neighbours: int = KNN_NEIGHBOURS) -> np.ndarray:
    """HDBSCAN labels from the minimum spanning tree of the mutual-reachability k-NN graph.

    Same condensed-tree selection as the hdbscan package (its own tree functions), but the
    spanning tree comes from a sparse graph, so time and memory grow with n·k instead of n².
    Components the graph leaves apart are joined above every real edge, as they would be far apart.
    """
    from hdbscan._hdbscan_linkage import label
    from hdbscan.hdbscan_ import _tree_to_labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    n = len(vectors)
    idx, dist = knn(vectors, max(neighbours, min_samples) + 1)
    core = dist[:, min(min_samples, idx.shape[1]) - 1].astype(np.float64)
    rows = np.repeat(np.arange(n), idx.shape[1])
    cols = idx.ravel()
    w = np.maximum(dist.ravel().astype(np.float64), np.maximum(core[rows], core[cols]))
    keep = rows != cols
    w = np.maximum(w[keep], 1e-12)  # zero weights would vanish from a sparse matrix
    graph = coo_matrix((w, (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    mst = minimum_spanning_tree(graph).tocoo()
    edges = np.column_stack([mst.row, mst.col, mst.data]).astype(np.float64)
    n_comp, comp = connected_components(mst, directed=False)
    if n_comp > 1:
        top = (edges[:, 2].max() if len(edges) else 1.0) * 2 + 1
        reps = np.array([np.flatnonzero(comp == c)[0] for c in range(n_comp)])
        links = np.column_stack([reps[:-1], reps[1:], np.full(n_comp - 1, top)])
        edges = np.vstack([edges, links])
    edges = edges[np.argsort(edges[:, 2], kind="stable")]
    labels, *_ = _tree_to_labels(None, label(edges), min_cluster_size)
    return np.asarray(labels, dtype=np.int64)


def hdbscan_labels(vectors: np.ndarray, min_cluster_size: int, min_samples: int) -> np.ndarray:
    """HDBSCAN on Euclidean distance: exact up to EXACT_MAX_FACES points, on a k-NN graph above."""
    if len(vectors) > EXACT_MAX_FACES:
        return hdbscan_knn(vectors, min_cluster_size, min_samples)
    import hdbscan

    return np.asarray(hdbscan.HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples, metric="euclidean",
        core_dist_n_jobs=1).fit_predict(np.asarray(vectors, dtype=np.float64)), dtype=np.int64)


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = int(parent[i])
    return i


def alike(d: np.ndarray, distance: float, pixel_distance: float, min_similarity: float,
          similarity: Callable[[np.ndarray], np.ndarray] | None = None,
          copy_distance: float = 0.0,
          copies: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Which pairs of faces `d` apart (FaceNet) are near-identical: closer than `distance`, or
    closer than `pixel_distance` with pixel signatures that correlate at least `min_similarity`,
    or closer than `copy_distance` and one face in copies of one photo. `similarity(mask)` gives
    the pairs' pixel similarity where `mask` holds (None: no pixels); `copies(mask)` whether
    they are one face in copies of a photo (None: no scenes)."""
    out = d < distance
    if similarity is not None and pixel_distance > distance:
        near = ~out & (d < pixel_distance)
        if near.any():
            out[near] = similarity(near) >= min_similarity
    if copies is not None:
        near = ~out & (d < copy_distance)
        if near.any():
            out[near] = copies(near)
    return out


def _pairwise(pixels: np.ndarray, rows: np.ndarray,
              cols: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """For `alike`: the pixel similarity of pairs (rows[k], cols[k]) where the mask holds."""
    return lambda m: pixel_similarity(pixels[rows[m]], pixels[cols[m]])


def _crosswise(a: np.ndarray, b: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """For `alike`: the pixel similarity of every face of `a` with every face of `b`, masked."""
    return lambda m: pixel_similarity_matrix(a, b)[m]


def _pairwise_copies(scenes: np.ndarray, rows: np.ndarray, cols: np.ndarray, similarity: float,
                     place: float) -> Callable[[np.ndarray], np.ndarray]:
    """For `alike`: whether pairs (rows[k], cols[k]) are one face in copies of a photo."""
    return lambda m: same_scene(scenes[rows[m]], scenes[cols[m]], similarity, place)


def _crosswise_copies(a: np.ndarray, b: np.ndarray, similarity: float,
                      place: float) -> Callable[[np.ndarray], np.ndarray]:
    """For `alike`: whether each face of `a` and each face of `b` are one face in copies of a
    photo, masked."""
    return lambda m: same_scene_matrix(a, b, similarity, place)[m]


def alike_across(sims: np.ndarray, ga: Sequence[int] | np.ndarray, gb: Sequence[int] | np.ndarray,
                 distance: float, pixels: np.ndarray | None, min_similarity: float,
                 pixel_distance: float, max_distance: float, scenes: np.ndarray | None,
                 copy_similarity: float, copy_place: float) -> np.ndarray:
    """`alike` for every face of group `ga` with every face of group `gb` (face indices), given
    their FaceNet similarities `sims` (len(ga), len(gb)) and, where known, their pixels and
    scenes: what `burst_units` asks of two groups, and a pair of one sighting of them."""
    return alike(np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sims)), distance, pixel_distance,
                 min_similarity, None if pixels is None else _crosswise(pixels[ga], pixels[gb]),
                 max_distance, None if scenes is None else _crosswise_copies(
                     scenes[ga], scenes[gb], copy_similarity, copy_place))


def burst_units(vectors: np.ndarray, photos: np.ndarray, distance: float,
                pixels: np.ndarray | None = None, min_similarity: float = 0.9,
                pixel_distance: float = 0.7, share: float = 0.5,
                max_distance: float = 0.8, scenes: np.ndarray | None = None,
                copy_similarity: float = 0.97, copy_place: float = 0.25) -> np.ndarray:
    """Group near-identical faces into bursts. Two faces are alike when closer than `distance`
    or, given their `pixels` signatures (vision.pixels), closer than `pixel_distance` with pixels
    (or mirror images) that correlate at least `min_similarity`, or, given their `scenes`,
    closer than `max_distance` and one face in copies of one photo (`same_scene` with
    `copy_similarity` and `copy_place`). Alike neighbours join closest
    first, and two groups join only when at least `share` of their pairs of faces are alike (so
    copies stay one burst where a copy or two drift, while a chain of alike steps through a
    person's different photos does not), every pair is closer than `max_distance`, and no two
    faces are of one photo. Return a unit id per face, 0..u-1; a face near nobody is
    a unit of its own."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.int64)
    idx, dist = knn(vectors, BURST_NEIGHBOURS + 1)
    rows = np.repeat(np.arange(n), idx.shape[1] - 1)
    cols, d = idx[:, 1:].ravel().astype(np.int64), dist[:, 1:].ravel()
    keep = rows < cols
    rows, cols, d = rows[keep], cols[keep], d[keep]
    edges = alike(d, distance, pixel_distance, min_similarity,
                  None if pixels is None else _pairwise(pixels, rows, cols), max_distance,
                  None if scenes is None else _pairwise_copies(scenes, rows, cols,
                                                               copy_similarity, copy_place))
    order = np.argsort(d[edges], kind="stable")
    parent = np.arange(n)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    for i, j in zip(rows[edges][order].tolist(), cols[edges][order].tolist(), strict=True):
        a, b = _find(parent, i), _find(parent, j)
        if a == b:
            continue
        ga, gb = members[a], members[b]
        if set(photos[ga].tolist()) & set(photos[gb].tolist()):
            continue
        sims = vectors[ga] @ vectors[gb].T
        if sims.min() <= 1.0 - max_distance ** 2 / 2:
            continue
        same = alike_across(sims, ga, gb, distance, pixels, min_similarity, pixel_distance,
                            max_distance, scenes, copy_similarity, copy_place)
        if same.mean() < share:
            continue
        parent[b] = a
        members[a] = ga + gb
        del members[b]
    return relabel(np.array([_find(parent, i) for i in range(n)], np.int64))


def group_sums(vectors: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """(k, d) float64 sums of the vectors of each group 0..k-1 (NOISE rows left out), as one
    sparse product: np.add.at is ~20x slower at 100,000 faces."""
    from scipy.sparse import csr_matrix

    mask = groups != NOISE
    rows = groups[mask]
    pick = csr_matrix((np.ones(len(rows)), (rows, np.flatnonzero(mask))),
                      shape=(k, len(groups)))
    return np.asarray(pick @ vectors.astype(np.float64))


def unit_means(vectors: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The unit-length mean vector of each unit."""
    sums = group_sums(vectors, units, int(units.max()) + 1 if len(units) else 0)
    return (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def face_means(vectors: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The mean vector of each unit's faces, not rescaled: for unit faces, 2 - 2 a·b of two of
    these is the mean squared distance between the two units' faces, so `knn` and
    `found_cores` measure RMS distances between faces. Founding chains are judged on those:
    the mean of five copies of a photo lies closer to everyone than any one face does (two
    strangers 0.86 apart face to face were 0.83 apart as means of copies, and chained)."""
    k = int(units.max()) + 1 if len(units) else 0
    sums = group_sums(vectors, units, k)
    return (sums / np.maximum(np.bincount(units, minlength=k), 1)[:, None]).astype(np.float32)


def split_apart(vectors: np.ndarray, labels: np.ndarray, params: ClusterParams,
                prior_s2: float | None = None) -> np.ndarray:
    """Split every cluster whose two halves (average linkage) the merge rule would not make one
    (as many standard errors apart as `merge_z`, or as far as the `merge_distance` cap), again
    inside each half: a chain of close faces can join two people HDBSCAN keeps together."""
    from scipy.cluster.hierarchy import fcluster, linkage

    out = labels.copy()
    nxt = int(labels.max()) + 1 if len(labels) else 0
    if prior_s2 is None:
        prior_s2 = Evidence.of(vectors, relabel(labels), len(np.unique(labels[labels != NOISE])) or 1).prior_s2
    todo = [np.flatnonzero(labels == lab) for lab in np.unique(labels[labels != NOISE])]
    while todo:
        idx = todo.pop()
        if len(idx) < 2 * params.min_cluster_size or len(idx) > SPLIT_MAX_UNITS:
            continue
        halves = fcluster(linkage(vectors[idx], "average"), 2, criterion="maxclust") - 1
        if len(np.unique(halves)) < 2 or np.bincount(halves).min() < params.min_cluster_size:
            continue
        ev = Evidence.of(vectors[idx], halves.astype(np.int64), 2)
        ev.prior_s2 = prior_s2
        n, s2 = ev.counts, ev.s2()
        se2 = ev.shrunk(params.prior_weight) / n
        ms = 2.0 - 2.0 * float(ev.sums[0] @ ev.sums[1]) / (n[0] * n[1])
        z = float(separation(np.array([ms]), s2[0], se2[0], s2[1], se2[1])[0])
        if z < params.merge_z and ms < params.merge_distance ** 2:
            continue
        out[idx[halves == 1]] = nxt
        nxt += 1
        todo += [idx[halves == 0], idx[halves == 1]]
    return out


def dissolve_weak_pairs(unit_vectors: np.ndarray, labels: np.ndarray, distance: float,
                        fixed: np.ndarray | None = None,
                        one_sighting: Callable[[int, int], bool] | None = None) -> np.ndarray:
    """Clusters of exactly two units become noise when the units are `distance` apart or more
    or `one_sighting(i, j)` says they are one sighting, unless both units are of one person the
    user named or hid (`fixed`: that person's id per unit, NOISE for none)."""
    out = labels.copy()
    ids, first, sizes = np.unique(labels, return_index=True, return_counts=True)
    for lab, i in zip(ids[(ids != NOISE) & (sizes == 2)].tolist(),
                      first[(ids != NOISE) & (sizes == 2)].tolist(), strict=True):
        j = i + 1 + int(np.flatnonzero(labels[i + 1:] == lab)[0])
        if fixed is not None and fixed[i] != NOISE and fixed[i] == fixed[j]:
            continue
        far = float(np.linalg.norm(unit_vectors[i] - unit_vectors[j])) >= distance
        if far or (one_sighting is not None and one_sighting(i, j)):
            out[[i, j]] = NOISE
    return out


def found_cores(vectors: np.ndarray, labels: np.ndarray, distance: float,
                min_size: int = 2) -> np.ndarray:
    """Split each cluster into the parts its members reach by steps of at most `distance`
    (single linkage on the cluster's k-NN graph; a step is sqrt(2 - 2 a·b): for `face_means`,
    the RMS distance between two units' faces); parts smaller than `min_size` become noise."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    out = np.full(len(labels), NOISE, np.int64)
    nxt = 0
    for lab in np.unique(labels[labels != NOISE]):
        idx = np.flatnonzero(labels == lab)
        nb, d = knn(vectors[idx], KNN_NEIGHBOURS + 1)
        rows = np.repeat(np.arange(len(idx)), nb.shape[1])
        keep = (d.ravel() <= distance) & (rows != nb.ravel())
        graph = coo_matrix((np.ones(keep.sum()), (rows[keep], nb.ravel()[keep])),
                           shape=(len(idx), len(idx)))
        _, comp = connected_components(graph, directed=False)
        for c in np.unique(comp):
            part = idx[comp == c]
            if len(part) >= min_size:
                out[part] = nxt
                nxt += 1
    return out


@dataclass
class Evidence:
    """Clusters as sums of unit vectors: enough to judge how far apart two are, in standard
    errors. `s2` is each cluster's mean squared distance of a unit to the cluster's centre."""

    sums: np.ndarray  # (k, d) sum of the cluster's unit vectors
    counts: np.ndarray  # (k,) units in the cluster
    prior_s2: float  # the library's typical s2: the median over clusters of 2 units or more

    @classmethod
    def of(cls, unit_vectors: np.ndarray, unit_labels: np.ndarray, k: int) -> Evidence:
        sums = group_sums(unit_vectors, unit_labels, k)
        mask = unit_labels != NOISE
        counts = np.bincount(unit_labels[mask], minlength=k).astype(np.float64)
        ev = cls(sums, counts, DEFAULT_PRIOR_S2)
        many = counts >= 2
        if many.any():  # each cluster's spread, unbiased for its size (a pair shows half of it)
            typical = ev.s2()[many] * counts[many] / (counts[many] - 1)
            ev.prior_s2 = float(np.median(typical))
        return ev

    def s2(self) -> np.ndarray:
        n = np.maximum(self.counts, 1e-12)
        mean = self.sums / n[:, None]
        return np.maximum(0.0, 1.0 - (mean * mean).sum(axis=1))

    def shrunk(self, weight: float) -> np.ndarray:
        """Each cluster's s2 shrunk towards the library's: `weight` units of prior."""
        return (self.counts * self.s2() + weight * self.prior_s2) / (self.counts + weight)


Arr = np.ndarray | float  # an array, or one value broadcast against it


def separation(ms: np.ndarray, s2_a: Arr, se2_a: Arr, s2_b: Arr, se2_b: Arr) -> np.ndarray:
    """Distance between two cluster centres in standard errors.

    For unit vectors the mean squared distance between members of A and B (`ms`) is the squared
    centre distance plus both spreads, so the centre distance is sqrt(ms - s2_a - s2_b); its
    standard error is sqrt(se2_a + se2_b), each the (shrunk) spread over the cluster's size."""
    centre = np.sqrt(np.maximum(ms - s2_a - s2_b, 1e-12))
    return centre / np.sqrt(se2_a + se2_b)


def joining_z(queries: np.ndarray, ev: Evidence, params: ClusterParams) -> np.ndarray:
    """(q, k): how many standard errors each query unit vector is from each cluster's centre,
    inf where its RMS distance to the cluster's units reaches `max_distance`. A cluster counts
    as spread at most `attach_max_spread` times the library's typical spread: a wide cluster
    (strangers that merged by chance) would otherwise take in every face under the cap, since
    its own spread makes far look near (measured: 4 strangers took in 18 more, 1.05-1.18 away)."""
    n = ev.counts
    cap = params.attach_max_spread * ev.prior_s2
    s2 = np.minimum(ev.s2(), cap)
    se2 = np.minimum(ev.shrunk(params.prior_weight), cap) / n
    alone = params.prior_weight * ev.prior_s2 / (1.0 + params.prior_weight)  # a unit's own spread
    ms = 2.0 - 2.0 * (queries.astype(np.float64) @ ev.sums.T) / n[None, :]
    z = separation(ms, s2[None, :], se2[None, :], 0.0, alone)
    z[ms >= params.max_distance ** 2] = np.inf
    return z


@dataclass(frozen=True)
class Apart:
    """Cannot-links between groups (persons a user kept apart): `groups[u]` holds the groups of
    unit u's faces that take part in some pair; no cluster may hold both sides of a pair."""

    groups: list[set[int]]
    pairs: frozenset[tuple[int, int]]  # (a, b) with a < b

    def conflict(self, a: set[int], b: set[int]) -> bool:
        return any((min(x, y), max(x, y)) in self.pairs for x in a for y in b)

    def split(self, vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Split every cluster that holds both sides of a pair: units of each kept-apart group
        form a side of their own; units of no such group go to the side nearest on average."""
        labels = labels.copy()
        nxt = int(labels.max()) + 1 if len(labels) else 0
        for lab in np.unique(labels[labels != NOISE]):
            idx = np.flatnonzero(labels == lab)
            held = set().union(*(self.groups[i] for i in idx))
            if not self.conflict(held, held):
                continue
            sides: dict[int, list[int]] = {}
            for i in idx.tolist():
                g = sorted(self.groups[i])
                if g:
                    sides.setdefault(g[0], []).append(i)
            free = [int(i) for i in idx if not self.groups[i]]
            centres = {g: vectors[m].mean(axis=0) for g, m in sides.items()}
            for i in free:
                sides[max(centres, key=lambda g: float(vectors[i] @ centres[g]))].append(i)
            for k, members in enumerate(sides.values()):
                labels[members] = lab if k == 0 else nxt
                nxt += k > 0
        return labels


def merge_clusters(unit_vectors: np.ndarray, unit_photos: list[set[int]], labels: np.ndarray,
                   params: ClusterParams,
                   allowed: Callable[[set[int], set[int]], bool] | None = None) -> np.ndarray:
    """Greedily merge the two clusters (of units) fewest standard errors apart while that is
    below `merge_z`, their RMS unit distance below `merge_distance`, they share no photo and
    `allowed` (given the original labels each side holds) agrees. Return 0-based labels."""
    ids = np.unique(labels[labels != NOISE])
    k = len(ids)
    if k < 2:
        return relabel(labels)
    pos = np.full(len(labels), NOISE, np.int64)
    pos[labels != NOISE] = np.searchsorted(ids, labels[labels != NOISE])
    ev = Evidence.of(unit_vectors, pos, k)
    photos: list[set[int]] = [set() for _ in range(k)]
    origin: list[set[int]] = [{int(x)} for x in ids]
    for i, p in enumerate(pos.tolist()):
        if p != NOISE:
            photos[p] |= unit_photos[i]
    alive = np.ones(k, bool)
    parent = np.arange(k)
    w = params.prior_weight

    def row(a: int) -> tuple[np.ndarray, np.ndarray]:
        n = ev.counts
        ms = 2.0 - 2.0 * (ev.sums @ ev.sums[a]) / (n * n[a])
        s2, sh = ev.s2(), ev.shrunk(w)
        z = separation(ms, s2, sh / n, s2[a], sh[a] / n[a])
        z[(ms >= params.merge_distance ** 2) | ~alive] = np.inf
        z[a] = np.inf
        return z, ms

    n0, s20, sh0 = ev.counts, ev.s2(), ev.shrunk(w)
    ms0 = 2.0 - 2.0 * (ev.sums @ ev.sums.T) / np.outer(n0, n0)
    z = separation(ms0, s20[:, None], (sh0 / n0)[:, None], s20[None, :], (sh0 / n0)[None, :])
    z[ms0 >= params.merge_distance ** 2] = np.inf
    np.fill_diagonal(z, np.inf)
    refused = np.zeros((k, k), bool)  # a shared photo or `allowed` said no: stays so after merges
    while True:
        flat = int(np.argmin(z))
        a, b = divmod(flat, k)
        if z[a, b] >= params.merge_z:
            break
        if photos[a] & photos[b] or (allowed and not allowed(origin[a], origin[b])):
            refused[a, b] = refused[b, a] = True
            z[a, b] = z[b, a] = np.inf
            continue
        ev.sums[a] += ev.sums[b]
        ev.counts[a] += ev.counts[b]
        photos[a] |= photos[b]
        origin[a] |= origin[b]
        refused[a] |= refused[b]
        refused[:, a] = refused[a]
        alive[b] = False
        parent[parent == b] = a
        z[b, :] = np.inf
        z[:, b] = np.inf
        new, _ = row(a)
        new[refused[a]] = np.inf
        z[a, :] = new
        z[:, a] = new
    out = np.full(len(labels), NOISE, np.int64)
    mask = labels != NOISE
    out[mask] = parent[pos[mask]]
    return relabel(out)


def attach_units(unit_vectors: np.ndarray, unit_photos: list[set[int]], labels: np.ndarray,
                 params: ClusterParams, candidates: np.ndarray | None = None,
                 apart: Apart | None = None, unit_quality: np.ndarray | None = None) -> np.ndarray:
    """Give each unit without a cluster (or each of `candidates`) the cluster it is fewest
    standard errors from, when that is below `attach_z`, the RMS distance below `max_distance`,
    the cluster has no face of its photos and holds nobody kept apart from the unit's people;
    the closest units go first. A unit below `small_min_quality` joins only clusters of
    `attach_min_units` units or more."""
    labels = labels.copy()
    ids = np.unique(labels[labels != NOISE])
    loose = np.flatnonzero(labels == NOISE) if candidates is None else candidates
    if len(ids) == 0 or len(loose) == 0:
        return labels
    pos = np.full(len(labels), NOISE, np.int64)
    pos[labels != NOISE] = np.searchsorted(ids, labels[labels != NOISE])
    ev = Evidence.of(unit_vectors, pos, len(ids))
    n = ev.counts
    z = joining_z(unit_vectors[loose], ev, params)
    if unit_quality is not None:
        weak = unit_quality[loose] < params.small_min_quality
        z[np.ix_(weak, n < params.attach_min_units)] = np.inf
    best_z = z.min(axis=1)
    photos: list[set[int]] = [set() for _ in ids]
    groups: list[set[int]] = [set() for _ in ids]
    for i, p in enumerate(pos.tolist()):
        if p != NOISE:
            photos[p] |= unit_photos[i]
            if apart:
                groups[p] |= apart.groups[i]
    for k in np.argsort(best_z, kind="stable"):
        if best_z[k] >= params.attach_z:
            break
        u = int(loose[k])
        for c in np.argsort(z[k], kind="stable")[:ATTACH_CHOICES].tolist():
            if z[k, c] >= params.attach_z:
                break
            if photos[c] & unit_photos[u] or (apart and apart.conflict(groups[c],
                                                                        apart.groups[u])):
                continue
            labels[u] = ids[c]
            photos[c] |= unit_photos[u]
            if apart:
                groups[c] |= apart.groups[u]
            break
    return labels


def cluster_faces(vectors: np.ndarray, photos: np.ndarray, params: ClusterParams,
                  quality: np.ndarray | None = None, groups: np.ndarray | None = None,
                  apart: set[tuple[int, int]] | None = None,
                  pixels: np.ndarray | None = None,
                  scenes: np.ndarray | None = None,
                  shares: np.ndarray | None = None,
                  fixed: set[int] | None = None) -> np.ndarray:
    """Given (N, D) unit vectors, each face's photo id and quality (0..1, None: all good), return
    N labels (-1: nobody yet): bursts → cores → merges → attachment, no cluster ever holding two
    faces of one photo. With `groups` (a group per face, -1 for none: the person it is now) and
    `apart` pairs of groups, no cluster holds faces of both groups of a pair. With `pixels`
    (each face's vision.pixels signature), near-identical pixels make bursts as well; with
    `scenes` (each face's vision.pixels scene), so do faces at one place of copies of a photo.
    With `shares` (each face's size over the largest face's in its photo, db FaceMatrix.shares),
    passers-by (below `found_min_share`) found nobody; they may still join someone. A pair of
    faces of one of the `fixed` groups (persons the user named or hid) stays one at any
    distance."""
    n = len(vectors)
    if n < 2:
        return np.full(n, NOISE, dtype=np.int64)
    units = burst_units(vectors, photos, params.burst_distance, pixels,
                        params.burst_pixel_similarity, params.burst_pixel_distance,
                        params.burst_share, params.burst_max_distance, scenes,
                        params.copy_similarity, params.copy_place)
    uv = unit_means(vectors, units)
    means = face_means(vectors, units)
    unit_photos: list[set[int]] = [set() for _ in range(len(uv))]
    for u, ph in zip(units.tolist(), photos.tolist(), strict=True):
        unit_photos[u].add(int(ph))
    cannot: Apart | None = None
    if groups is not None and apart:
        members = {g for pair in apart for g in pair}
        unit_groups: list[set[int]] = [set() for _ in range(len(uv))]
        for u, g in zip(units.tolist(), groups.tolist(), strict=True):
            if g in members:
                unit_groups[u].add(int(g))
        cannot = Apart(unit_groups, frozenset((min(a, b), max(a, b)) for a, b in apart))
    unit_quality = np.ones(len(uv))
    if quality is not None:
        unit_quality = np.zeros(len(uv))
        np.maximum.at(unit_quality, units, quality)
    leading = np.ones(len(uv), bool)  # units not only of passers-by
    if shares is not None:
        leading[:] = False
        np.logical_or.at(leading, units, shares >= params.found_min_share)
    strong = (unit_quality >= params.min_quality) & leading
    ul = np.full(len(uv), NOISE, np.int64)
    if strong.sum() >= params.min_cluster_size:
        sidx = np.flatnonzero(strong)
        found = hdbscan_labels(uv[sidx], params.min_cluster_size, params.min_samples)
        # HDBSCAN never makes one cluster of everything: what it leaves out may still hold
        # closely linked units (a library of one person, a person's last few faces)
        found[found == NOISE] = int(found.max()) + 1
        cores = found_cores(means[sidx], found, params.found_distance, params.min_cluster_size)
        ul[sidx] = split_apart(uv[sidx], cores, params)
    labels = np.where(ul[units] != NOISE, ul[units], NOISE)
    labels = enforce_cannot_link(vectors, photos, labels)
    # a unit whose faces the cannot-link split stays with the faces that kept their place
    ul = np.full(len(uv), NOISE, np.int64)
    for u, lab in zip(units.tolist(), labels.tolist(), strict=True):
        if lab != NOISE:
            ul[u] = lab
    # a core the cannot-link left with one unit (two faces of one photo had founded it) is no
    # person: it may still join one
    ids, sizes = np.unique(ul[ul != NOISE], return_counts=True)
    ul[np.isin(ul, ids[sizes < params.min_cluster_size])] = NOISE
    if cannot is not None:
        ul = cannot.split(uv, ul)

    def allowed(a: set[int], b: set[int]) -> bool:
        assert cannot is not None
        return not cannot.conflict(*(set().union(*(cannot.groups[u] for u in np.flatnonzero(
            np.isin(ul, list(side))))) for side in (a, b)))

    ul = merge_clusters(uv, unit_photos, ul, params, allowed if cannot is not None else None)
    # a person grown by the faces that joined it reaches farther: what is left gets more rounds
    # while anything joins (small faces with copies 0.959 -> 0.991). Passers-by only have the
    # first: on LFW with strangers, all 16 that later rounds placed joined someone not theirs
    left = None  # the first round: every unit left over
    for _ in range(ATTACH_ROUNDS):
        before = ul
        ul = attach_units(uv, unit_photos, ul, params, left, cannot, unit_quality)
        if np.array_equal(ul, before):
            break
        left = np.flatnonzero((ul == NOISE) & leading)
    unit_fixed = np.full(len(uv), NOISE, np.int64)  # the fixed person all a unit's faces are of
    if groups is not None and fixed:
        g = np.where(np.isin(groups, list(fixed)), groups, NOISE).astype(np.int64)
        lo = np.full(len(uv), np.iinfo(np.int64).max, np.int64)
        hi = np.full(len(uv), NOISE - 1, np.int64)
        np.minimum.at(lo, units, g)
        np.maximum.at(hi, units, g)
        unit_fixed = np.where(lo == hi, lo, NOISE)
    by_unit = np.argsort(units, kind="stable")
    starts = np.searchsorted(units[by_unit], np.arange(len(uv) + 1))

    def one_sighting(a: int, b: int) -> bool:
        """A unit of one face near-identical to a face of the other: a copy or frame that
        drifted out of its burst (a different crop, 0.24-0.43 from its copies), no second
        sighting. Units of several faces each, a session's photos, are two (ORL: 6 of 21 pairs
        alike)."""
        fa, fb = by_unit[starts[a]:starts[a + 1]], by_unit[starts[b]:starts[b + 1]]
        if min(len(fa), len(fb)) > 1:
            return False
        return bool(alike_across(vectors[fa] @ vectors[fb].T, fa, fb, params.burst_distance,
                                 pixels, params.burst_pixel_similarity,
                                 params.burst_pixel_distance, params.burst_max_distance, scenes,
                                 params.copy_similarity, params.copy_place).any())

    out = dissolve_weak_pairs(uv, ul, params.pair_distance, unit_fixed, one_sighting)[units]
    return relabel(enforce_cannot_link(vectors, photos, out))
