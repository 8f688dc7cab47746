"""Pure clustering maths: unit face vectors → person labels. Knows nothing of facefold's storage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NOISE = -1
EXACT_MAX_FACES = 8000  # above this, HDBSCAN runs on a k-nearest-neighbour graph (exact is O(n²) in 128-d)
KNN_NEIGHBOURS = 16  # neighbours per face in that graph; the single-linkage tree is exact where it matters
KNN_BLOCK = 512  # rows per matrix product when finding neighbours (memory: block × n × 12 bytes)


@dataclass(frozen=True)
class ClusterParams:
    min_cluster_size: int = 2  # HDBSCAN: smallest group that makes a person
    min_samples: int = 1  # HDBSCAN: neighbours for a core face
    merge_distance: float = 1.0  # merge clusters closer than this (RMS face distance), no shared photo
    max_distance: float = 1.0  # a face joins a person only within this distance of one of its faces


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


def merge_close_clusters(vectors: np.ndarray, photos: np.ndarray, labels: np.ndarray,
                         merge_distance: float,
                         allowed: Callable[[set[int]], bool] | None = None) -> np.ndarray:
    """Greedily merge the two closest clusters while their root-mean-square face distance is below
    `merge_distance`, they share no photo and `allowed` (given the original labels a merged
    cluster would hold) agrees; return 0-based labels (each new label's members in order).

    For unit vectors the mean squared distance between clusters A and B is 2 - 2·(ΣA·ΣB)/(|A||B|):
    one k×k product up front, then one row per merge.
    """
    ids = np.unique(labels[labels != NOISE])
    k = len(ids)
    if k < 2:
        return relabel(labels)
    pos = np.searchsorted(ids, labels[labels != NOISE])
    sums = np.zeros((k, vectors.shape[1]), np.float64)
    np.add.at(sums, pos, vectors[labels != NOISE])
    counts = np.bincount(pos, minlength=k).astype(np.float64)
    photo_sets: list[set[int]] = [set() for _ in range(k)]
    for i, ph in zip(pos.tolist(), photos[labels != NOISE].tolist(), strict=True):
        photo_sets[i].add(int(ph))
    origin: list[set[int]] = [{int(x)} for x in ids]
    ms = 2.0 - 2.0 * (sums @ sums.T) / np.outer(counts, counts)
    np.fill_diagonal(ms, np.inf)
    alive = np.ones(k, bool)
    parent = np.arange(k)
    limit = merge_distance**2
    while True:
        flat = int(np.argmin(ms))
        a, b = divmod(flat, k)
        if ms[a, b] >= limit:
            break
        if photo_sets[a] & photo_sets[b] or (allowed and not allowed(origin[a] | origin[b])):
            ms[a, b] = ms[b, a] = np.inf
            continue
        sums[a] += sums[b]
        counts[a] += counts[b]
        photo_sets[a] |= photo_sets[b]
        origin[a] |= origin[b]
        alive[b] = False
        parent[parent == b] = a
        ms[b, :] = np.inf
        ms[:, b] = np.inf
        row = 2.0 - 2.0 * (sums @ sums[a]) / (counts * counts[a])
        row[~alive] = np.inf
        row[a] = np.inf
        blocked = np.isinf(ms[a]) & alive  # pairs refused before stay refused
        blocked[a] = False
        row[blocked] = np.inf
        ms[a, :] = row
        ms[:, a] = row
    out = np.full(len(labels), NOISE, dtype=np.int64)
    mask = labels != NOISE
    out[mask] = parent[pos]
    return relabel(out)


def relabel(labels: np.ndarray) -> np.ndarray:
    """Return labels renumbered 0..k-1 in order of first appearance, noise kept as -1."""
    out = np.full(len(labels), NOISE, dtype=np.int64)
    mapping: dict[int, int] = {}
    for i, lab in enumerate(labels):
        if lab != NOISE:
            out[i] = mapping.setdefault(int(lab), len(mapping))
    return out


def prune_loose_faces(vectors: np.ndarray, labels: np.ndarray, max_distance: float,
                      min_size: int) -> np.ndarray:
    """Return labels where every clustered face has a face of its own cluster within
    `max_distance`; faces without one become noise, and clusters left smaller than `min_size`
    dissolve."""
    labels = labels.copy()
    changed = True
    while changed:
        changed = False
        for lab in np.unique(labels[labels != NOISE]):
            idx = np.flatnonzero(labels == lab)
            if len(idx) < min_size:
                labels[idx] = NOISE
                changed = True
                continue
            d = np.linalg.norm(vectors[idx, None, :] - vectors[None, idx, :], axis=-1)
            np.fill_diagonal(d, np.inf)
            loose = idx[d.min(axis=1) > max_distance]
            if len(loose):
                labels[loose] = NOISE
                changed = True
    return labels


def attach_noise(vectors: np.ndarray, photos: np.ndarray, labels: np.ndarray,
                 max_distance: float) -> np.ndarray:
    """Give each noise face the cluster of its nearest clustered face when that face is within
    `max_distance` and the cluster holds no other face of its photo; closest pairs go first."""
    labels = labels.copy()
    noise = np.flatnonzero(labels == NOISE)
    member = np.flatnonzero(labels != NOISE)
    if len(noise) == 0 or len(member) == 0:
        return labels
    nearest = np.empty(len(noise), np.int64)
    near_d = np.empty(len(noise), np.float64)
    mv = vectors[member].astype(np.float32)
    for start in range(0, len(noise), KNN_BLOCK):  # blocks: noise × members can be large
        sims = vectors[noise[start:start + KNN_BLOCK]].astype(np.float32) @ mv.T
        j = sims.argmax(axis=1)
        nearest[start:start + KNN_BLOCK] = j
        near_d[start:start + KNN_BLOCK] = np.sqrt(np.maximum(
            0.0, 2.0 - 2.0 * sims[np.arange(len(j)), j]))
    order = np.argsort(near_d, kind="stable")
    photos_of: dict[int, set[int]] = {}
    for j in member:
        photos_of.setdefault(int(labels[j]), set()).add(int(photos[j]))
    for k in order:
        i, j = noise[k], member[nearest[k]]
        if near_d[k] > max_distance:
            break
        lab = int(labels[j])
        if int(photos[i]) in photos_of[lab]:
            continue
        labels[i] = lab
        photos_of[lab].add(int(photos[i]))
    return labels


def group_leftovers(vectors: np.ndarray, photos: np.ndarray, labels: np.ndarray,
                    max_distance: float, min_size: int) -> np.ndarray:
    """Give new clusters to noise faces that are all within `max_distance` of one another
    (complete linkage), at least `min_size` of them, one face per photo.

    HDBSCAN never returns a single cluster holding every face, so a library of one person (or the
    last few faces of someone) would otherwise stay unassigned.
    """
    labels = labels.copy()
    noise = np.flatnonzero(labels == NOISE)
    if len(noise) < min_size:
        return labels
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    groups = fcluster(linkage(pdist(vectors[noise]), method="complete"), t=max_distance,
                      criterion="distance")
    groups = enforce_cannot_link(vectors[noise], photos[noise], groups.astype(np.int64))
    next_label = int(labels.max()) + 1
    for g in np.unique(groups[groups != NOISE]):
        idx = noise[groups == g]
        if len(idx) >= min_size:
            labels[idx] = next_label
            next_label += 1
    return labels


def knn(vectors: np.ndarray, k: int, block: int = KNN_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of unit vectors (self included, first): (indices, distances)."""
    n = len(vectors)
    k = min(k, n)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    idx = np.empty((n, k), np.int64)
    dist = np.empty((n, k), np.float32)
    for start in range(0, n, block):
        sims = x[start:start + block] @ x.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-ps, axis=1)
        idx[start:start + block] = np.take_along_axis(part, order, axis=1)
        dist[start:start + block] = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * np.take_along_axis(ps, order, axis=1)))
    return idx, dist


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


def cluster_faces(vectors: np.ndarray, photos: np.ndarray, params: ClusterParams) -> np.ndarray:
    """Given (N, D) unit vectors and each face's photo id, return N labels (-1: nobody yet).

    HDBSCAN on Euclidean distance; then no two faces of one photo in a cluster, no face farther
    than `max_distance` from all others of its cluster, close clusters merged, noise faces near a
    cluster attached to it, and tight groups of the remaining noise made clusters.
    """
    n = len(vectors)
    if n < params.min_cluster_size:
        return np.full(n, NOISE, dtype=np.int64)
    if n > EXACT_MAX_FACES:
        labels = hdbscan_knn(vectors, params.min_cluster_size, params.min_samples)
    else:
        import hdbscan

        labels = hdbscan.HDBSCAN(
            min_cluster_size=params.min_cluster_size,
            min_samples=params.min_samples,
            metric="euclidean",
            core_dist_n_jobs=1,
        ).fit_predict(np.asarray(vectors, dtype=np.float64))
    labels = enforce_cannot_link(vectors, photos, labels)
    labels = prune_loose_faces(vectors, labels, params.max_distance, params.min_cluster_size)
    labels = merge_close_clusters(vectors, photos, labels, params.merge_distance)
    labels = attach_noise(vectors, photos, labels, params.max_distance)
    return relabel(group_leftovers(vectors, photos, labels, params.max_distance,
                                   params.min_cluster_size))
