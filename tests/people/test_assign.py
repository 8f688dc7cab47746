import numpy as np

from facefold.people.assign import match_clusters


def test_clusters_keep_the_person_they_overlap_most() -> None:
    clusters = {0: {1, 2, 3}, 1: {4, 5}, 2: {6}}
    persons = {10: {1, 2}, 11: {3, 4, 5}, 12: {9}}
    assert match_clusters(clusters, persons) == {0: 10, 1: 11, 2: None}


def test_a_person_goes_to_one_cluster_only() -> None:
    clusters = {0: {1, 2}, 1: {3}}
    persons = {7: {1, 2, 3}}
    assert match_clusters(clusters, persons) == {0: 7, 1: None}


def test_no_persons_yet() -> None:
    assert match_clusters({0: {1}, 1: {2}}, {}) == {0: None, 1: None}


def _u(rows: list[list[float]]) -> np.ndarray:
    import numpy as np

    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_assignment_votes_with_support_and_cannot_link() -> None:
    import numpy as np

    from facefold.people.assign import AssignParams, assign_to_persons

    vecs = _u([[1, 0], [1, 0.05], [1, 0.1], [0, 1], [0.05, 1]])
    persons = np.array([1, 1, 1, 2, -1])
    photos = np.array([10, 11, 12, 13, 14])
    q = _u([[1, 0.02], [0, 1], [1, 0.03], [-1, 0]])
    qp = np.array([20, 21, 20, 22])
    got = assign_to_persons(q, qp, vecs, persons, photos, AssignParams(0.5, 8, 2))
    # person 2 has one face: support capped at its size; the second face of photo 20 cannot join 1
    assert got == [1, 2, None, None]
    capped = assign_to_persons(q[:1], qp[:1], vecs, persons, photos, AssignParams(0.5, 8, 4))
    assert capped == [1]  # person 1 has only 3 faces: support capped at 3, all three vote
    few = assign_to_persons(q[:1], qp[:1], vecs, persons, photos, AssignParams(0.5, 2, 3))
    assert few == [None]  # only 2 neighbours look, 3 votes needed
    strict = assign_to_persons(q[:1], qp[:1], vecs, persons, photos, AssignParams(0.01, 8, 2))
    assert strict == [None]  # nothing close enough


def test_fits_person_by_mean_distance_without_shared_photos() -> None:
    import numpy as np

    from facefold.people.assign import fits_person

    cluster = _u([[1, 0.1], [1, 0.0]])
    sums = {1: _u([[1, 0.05]]).sum(0).astype(np.float64), 2: _u([[0, 1]]).sum(0).astype(np.float64)}
    counts = {1: 1, 2: 1}
    assert fits_person(cluster, {5, 6}, sums, counts, {1: {7}, 2: {8}}, 0.5) == 1
    assert fits_person(cluster, {5, 6}, sums, counts, {1: {6}, 2: {8}}, 0.5) is None
