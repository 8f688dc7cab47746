import numpy as np

from facefold.people.cluster import (
    NOISE,
    ClusterParams,
    attach_noise,
    cluster_faces,
    enforce_cannot_link,
    merge_close_clusters,
    prune_loose_faces,
    relabel,
)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def blobs(rng: np.random.Generator, people: int, per: int, spread: float = 0.25,
          dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around `people` random centres; same-person distances ~0.5, others ~1.4."""
    centres = _unit(rng.normal(size=(people, dim)))
    truth = np.repeat(np.arange(people), per)
    noise = rng.normal(size=(len(truth), dim)) * spread / np.sqrt(dim) * 2
    return _unit(centres[truth] + noise), truth


def test_separated_people_are_found(rng: np.random.Generator) -> None:
    v, truth = blobs(rng, 6, 8)
    labels = cluster_faces(v, np.arange(len(v)), ClusterParams())
    assert len(set(labels)) == 6 and NOISE not in labels
    for t in range(6):
        assert len(set(labels[truth == t])) == 1


def test_two_photo_person_is_kept(rng: np.random.Generator) -> None:
    v, truth = blobs(rng, 3, 2)
    labels = cluster_faces(v, np.arange(len(v)), ClusterParams(min_cluster_size=2, min_samples=1))
    assert len(set(labels)) == 3 and NOISE not in labels


def test_too_few_faces_are_noise() -> None:
    v = _unit(np.eye(4)[:1])
    assert list(cluster_faces(v, np.array([0]), ClusterParams())) == [NOISE]


def test_cannot_link_keeps_the_nearest_face_of_a_photo() -> None:
    v = _unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.6], [0.95, 0.05]]))
    photos = np.array([0, 1, 1, 2])
    labels = enforce_cannot_link(v, photos, np.array([0, 0, 0, 0]))
    assert list(labels) == [0, 0, NOISE, 0]


def test_merge_respects_distance_and_shared_photos() -> None:
    v = _unit(np.array([[1.0, 0.0], [1.0, 0.05], [1.0, 0.1], [1.0, 0.15], [0.0, 1.0], [0.0, 1.1]]))
    labels = np.array([0, 0, 1, 1, 2, 2])
    merged = merge_close_clusters(v, np.arange(6), labels, 0.5)
    assert merged[0] == merged[2] and merged[4] != merged[0]
    shared = merge_close_clusters(v, np.array([0, 1, 0, 3, 4, 5]), labels, 0.5)
    assert shared[0] != shared[2]  # photo 0 is in both: never merged


def test_prune_and_attach() -> None:
    v = _unit(np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [1.0, 0.2], [-1.0, 0.0]]))
    labels = prune_loose_faces(v, np.array([0, 0, 0, NOISE, NOISE]), 0.5, 2)
    assert list(labels) == [0, 0, NOISE, NOISE, NOISE]
    attached = attach_noise(v, np.arange(5), labels, 0.5)
    assert list(attached) == [0, 0, NOISE, 0, NOISE]
    # a face of a photo already in the cluster is not attached
    assert attach_noise(v, np.array([0, 1, 2, 1, 4]), labels, 0.5)[3] == NOISE


def test_relabel() -> None:
    assert list(relabel(np.array([5, NOISE, 5, 2]))) == [0, NOISE, 0, 1]


def test_a_library_of_one_person_is_one_person(rng: np.random.Generator) -> None:
    # HDBSCAN alone never returns a single cluster of everything
    v, _ = blobs(rng, 1, 4)
    labels = cluster_faces(v, np.arange(4), ClusterParams())
    assert list(labels) == [0, 0, 0, 0]


def test_leftover_grouping_is_complete_linkage() -> None:
    from facefold.people.cluster import group_leftovers

    # a chain a-b-c where a and c are too far apart: not one person
    v = _unit(np.array([[1.0, 0.0], [1.0, 0.45], [1.0, 1.0]]))
    labels = group_leftovers(v, np.arange(3), np.full(3, NOISE), 0.45, 2)
    assert labels[0] != labels[2] or labels[0] == NOISE


def test_knn_graph_hdbscan_matches_exact_hdbscan(rng: np.random.Generator) -> None:
    import hdbscan

    from facefold.people.cluster import hdbscan_knn, knn

    v, truth = blobs(rng, 40, 6, spread=0.35)
    exact = hdbscan.HDBSCAN(min_cluster_size=2, min_samples=1).fit_predict(v.astype(np.float64))
    approx = hdbscan_knn(v, 2, 1)
    # same partition, whatever the label numbers
    pairs = {(int(a), int(b)) for a, b in zip(exact, approx, strict=True)}
    assert len(pairs) == len(set(exact.tolist())) == len(set(approx.tolist()))
    idx, dist = knn(v, 5, block=7)  # odd block size: the blocks must stitch
    assert (idx[:, 0] == np.arange(len(v))).all() and np.allclose(dist[:, 0], 0, atol=1e-3)
    assert (np.diff(dist, axis=1) >= -1e-6).all()
