import numpy as np
import pytest

from facefold.people.assign import (
    Persons,
    attach_to_persons,
    doubtful_pairs,
    joining_person,
    match_clusters,
)
from facefold.people.cluster import ClusterParams, cluster_faces, face_noise
from tests.helpers.vectors import apart_by, around, blobs, unit


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


def _people(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two stored persons of 8 faces (ids 3 and 5, photos 0..15) and their centres."""
    centres = unit(rng.normal(size=(2, 128)))
    noise = rng.normal(size=(16, 128)) * 0.05
    vectors = unit(np.repeat(centres, 8, axis=0) + noise)
    return vectors, np.repeat([3, 5], 8), np.arange(16), centres


def _persons(vectors: np.ndarray, persons: np.ndarray, photos: np.ndarray,
             quality: np.ndarray | None = None) -> Persons:
    q = np.ones(len(vectors)) if quality is None else quality
    return Persons.of(vectors, persons, photos, q, ClusterParams())


def test_new_faces_join_by_the_clustering_rule_never_twice_in_a_photo() -> None:
    rng = np.random.default_rng(0)
    vectors, persons, photos, centres = _people(rng)
    twin = vectors[0] + 0.01  # near-identical to a face of person 3
    close = unit(centres[1] + rng.normal(size=128) * 0.05)
    stranger = unit(rng.normal(size=128))
    queries = unit(np.vstack([twin, close, stranger, close]))
    got = attach_to_persons(queries, np.array([100, 101, 102, 101]), np.ones(4),
                            _persons(vectors, persons, photos), ClusterParams())
    assert got == [3, 5, None, None]  # the second face of photo 101 cannot join person 5 too
    none = _persons(vectors, np.full(16, -1), photos)
    assert attach_to_persons(queries, np.arange(4), np.ones(4), none, ClusterParams()) == [None] * 4


def test_placing_one_face_at_a_time_agrees_with_the_full_clustering(
        rng: np.random.Generator) -> None:
    v, truth = blobs(rng, people=6, per=10, rms=0.6)
    full = cluster_faces(v, np.arange(60), ClusterParams())
    base = np.flatnonzero(np.arange(60) % 10 < 8)  # 8 photos of each person clustered ...
    new = np.flatnonzero(np.arange(60) % 10 >= 8)  # ... then 2 more each, one at a time
    labels = cluster_faces(v[base], base, ClusterParams())
    persons = _persons(v[base], labels, base)
    got = [attach_to_persons(v[i:i + 1], np.array([i]), np.ones(1), persons,
                             ClusterParams())[0] for i in new]
    for i, pid in zip(new, got, strict=True):
        mates = base[truth[base] == truth[i]]
        assert pid == labels[np.searchsorted(base, mates[0])]  # its own person's id
    assert len(set(full.tolist())) == 6


def test_persons_count_faces_in_and_out() -> None:
    rng = np.random.default_rng(3)
    vectors, persons, photos, _c = _people(rng)
    p = _persons(vectors[:8], persons[:8], photos[:8])
    p.add(vectors[8:], persons[8:], photos[8:], np.ones(8), ClusterParams())
    whole = _persons(vectors, persons, photos)
    np.testing.assert_allclose(p.groups.sums, whole.groups.sums, atol=1e-6)
    assert p.ids.tolist() == [3, 5] and p.groups.counts.tolist() == [8.0, 8.0]
    p.add(vectors[8:], persons[8:], photos[8:], np.ones(8), ClusterParams(), sign=-1.0)
    assert p.groups.counts.tolist() == [8.0, 0.0]
    assert p.nearest(vectors[8:9]).tolist() == [[0]]  # an emptied person takes no faces


def test_a_new_cluster_joins_the_person_it_would_merge_with() -> None:
    rng = np.random.default_rng(1)
    vectors, persons, photos, centres = _people(rng)
    same = unit(centres[0] + rng.normal(size=(3, 128)) * 0.05)
    other = unit(rng.normal(size=(3, 128)))
    p, q = _persons(vectors, persons, photos), np.ones(3)
    assert joining_person(same, {50, 51, 52}, q, p, ClusterParams()) == 3
    assert joining_person(same, {0, 51}, q, p, ClusterParams()) is None  # photo 0 is 3's
    assert joining_person(other, {60}, q, p, ClusterParams()) is None


def test_doubtful_pairs_are_the_close_ones_not_merged_nor_apart() -> None:
    rng = np.random.default_rng(4)
    a = unit(rng.normal(size=128))
    vectors = np.vstack([around(rng, a, 6, 0.6), around(rng, apart_by(rng, a, 0.55), 6, 0.6),
                         around(rng, unit(rng.normal(size=128)), 6, 0.6)])
    persons = np.repeat([1, 2, 3], 6)
    p = _persons(vectors, persons, np.arange(18))
    pairs = doubtful_pairs(p, ClusterParams(), 0.95)
    assert [(x, y) for x, y, _d in pairs] == [(1, 2)]
    assert doubtful_pairs(p, ClusterParams(), 0.95, {(1, 2)}) == []


def test_identify_names_only_named_persons_once_per_photo() -> None:
    from facefold.people.assign import nearest_named

    rng = np.random.default_rng(2)
    vectors, persons, photos, centres = _people(rng)
    q = unit(np.vstack([centres[0], centres[0], centres[1]]))
    assert [p for p, _ in nearest_named(q, vectors, persons, {3}, 1.0)] == [3, 3, None]
    got = nearest_named(q, vectors, persons, {3, 5}, 1.0, np.array([20, 20, 21]), photos)
    assert [p for p, _ in got] == [3, None, 5]


def test_closest_persons_ranks_by_rms_distance_to_all_the_queries() -> None:
    from facefold.people.assign import closest_persons

    e = np.eye(4, dtype=np.float32)
    vectors = np.stack([e[0], e[0], e[1], e[2], e[2]])
    persons = np.array([7, 7, 8, 9, -1])
    out = closest_persons(np.stack([e[0]]), vectors, persons, 2)
    assert [p for p, _d in out] == [7, 8] and out[0][1] == pytest.approx(0.0, abs=1e-6)
    assert out[1][1] == pytest.approx(np.sqrt(2.0))
    # two queries, one like person 8 and one like 9: both are one unit-distance away on average
    both = closest_persons(np.stack([e[1], e[2]]), vectors, persons, 3)
    assert {p for p, _d in both[:2]} == {8, 9} and both[2][0] == 7
    assert closest_persons(np.zeros((0, 4), np.float32), vectors, persons, 3) == []


def _two(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> Persons:
    vectors = np.vstack([around(rng, a, 8, 0.3), around(rng, b, 8, 0.3)])
    return _persons(vectors, np.repeat([3, 5], 8), np.arange(16))


@pytest.mark.parametrize("quality, other_at, to_a, want", [
    (0.1, 1.8, 1.0, 3),      # a weak face near one person only: it joins them
    (0.1, 1.8, 1.4, None),   # too far even for a weak face (weak_distance)
    (0.1, 1.02, 1.0, None),  # about as near to another person: not clearly one (weak_margin)
    (0.1, 0.8, 1.0, 5),      # clearly nearer the other: that one
    (1.0, 1.8, 1.0, None),   # a good face that far is someone new
])
def test_a_weak_face_joins_its_nearest_person_only_when_near_and_clearly_nearest(
        quality: float, other_at: float, to_a: float, want: int | None) -> None:
    rng = np.random.default_rng(7)
    a = unit(rng.normal(size=128))
    query = apart_by(rng, a, to_a)
    b = apart_by(rng, query, other_at)  # the other person's centre, from the face
    got = attach_to_persons(query[None], np.array([100]), np.array([quality]),
                            _two(rng, a, b), ClusterParams())
    assert got == [want]


def test_faces_of_one_photo_go_to_their_next_choice_or_nobody() -> None:
    rng = np.random.default_rng(8)
    a = unit(rng.normal(size=128))
    b = apart_by(rng, a, 0.9)
    persons = _two(rng, a, b)
    near_a = around(rng, a, 3, 0.2)
    got = attach_to_persons(near_a, np.array([100, 100, 101]), np.ones(3), persons,
                            ClusterParams(merge_distance=1.2))
    assert got[0] == 3 and got[1] in (5, None) and got[2] == 3
    assert attach_to_persons(near_a[:0], np.array([], np.int64), np.ones(0), persons,
                             ClusterParams()) == []


def test_a_person_goes_to_the_cluster_holding_most_of_their_faces() -> None:
    assert match_clusters({0: {1}, 1: {2, 3}}, {7: {1, 2, 3}}) == {0: None, 1: 7}
    # a tie: the cluster first by label, in whatever order they come
    assert match_clusters({1: {2}, 0: {1}}, {7: {1, 2}}) == {1: None, 0: 7}


def test_any_person_id_from_zero_up_is_a_person_and_minus_one_is_nobody() -> None:
    from facefold.people.assign import closest_persons, nearest_person

    rng = np.random.default_rng(11)
    vectors, persons, photos, centres = _people(rng)
    persons = np.where(persons == 3, 0, persons)  # persons 0 and 5
    p = _persons(vectors, persons, photos)
    assert p.ids.tolist() == [0, 5] and p.groups.counts.tolist() == [8.0, 8.0]
    p.add(vectors[:1], np.array([1]), np.array([99]), np.ones(1), ClusterParams())
    assert p.ids.tolist() == [0, 1, 5]
    q = unit(centres[:1] + rng.normal(size=(1, 128)) * 0.02)
    assert nearest_person(q, vectors, persons, 1.0)[0][0] == 0
    assert closest_persons(q, vectors, persons, 1)[0][0] == 0
    assert nearest_person(q, vectors, np.full(16, -1), 1.0) == [(None, float("inf"))]


def test_counting_faces_in_and_out_keeps_sums_noise_and_photos() -> None:
    rng = np.random.default_rng(12)
    vectors, persons, photos, _c = _people(rng)
    quality = np.linspace(0.1, 1.0, 16)
    p = _persons(vectors[:8], persons[:8], photos[:8], quality[:8])
    p.add(vectors[8:], persons[8:], photos[8:], quality[8:], ClusterParams())
    whole = _persons(vectors, persons, photos, quality)
    np.testing.assert_allclose(p.groups.noise, whole.groups.noise)
    assert p.groups.photos == whole.groups.photos
    # person 5 loses all but one face: that one is still a person
    p.add(vectors[9:], persons[9:], photos[9:], quality[9:], ClusterParams(), sign=-1.0)
    assert p.groups.counts.tolist() == [8.0, 1.0]
    np.testing.assert_allclose(p.groups.sums[1], vectors[8], atol=1e-6)
    assert p.nearest(vectors[8:9], k=1).tolist() == [[1]]
    # then the last too, and a new face comes: the person is that face alone
    p.add(vectors[8:9], persons[8:9], photos[8:9], quality[8:9], ClusterParams(), sign=-1.0)
    p.add(vectors[0:1], np.array([5]), np.array([50]), np.ones(1), ClusterParams())
    np.testing.assert_allclose(p.groups.sums[1], vectors[0], atol=1e-6)
    np.testing.assert_allclose(p.groups.noise[1], ClusterParams().face_noise)


def test_nearest_persons_come_nearest_first_by_their_mean_face() -> None:
    rng = np.random.default_rng(13)
    a = unit(rng.normal(size=128))
    # person 0 is one face right on the query; person 1 eight faces 0.5 away: more faces, but
    # farther on average
    vectors = np.vstack([a[None], around(rng, apart_by(rng, a, 0.5), 8, 0.05),
                         unit(rng.normal(size=(12, 128)))])
    persons = np.concatenate([[0], np.ones(8, int), np.arange(2, 14)])
    p = _persons(vectors, persons, np.arange(len(vectors)))
    got = p.nearest(a[None])[0]
    assert got[:2].tolist() == [0, 1]
    assert len(got) == 10  # NEIGHBOURS of the 14
    queries = unit(rng.normal(size=(6, 128)))
    sims = queries @ (p.groups.sums / p.groups.counts[:, None]).T
    assert p.nearest(queries, k=1)[:, 0].tolist() == sims.argmax(axis=1).tolist()
    assert p.nearest(queries, k=3).tolist() == np.argsort(-sims, axis=1)[:, :3].tolist()
    gone = _persons(vectors[:1], np.array([0]), np.array([0]))
    gone.add(vectors[:1], np.array([0]), np.array([0]), np.ones(1), ClusterParams(), sign=-1.0)
    assert gone.nearest(queries).shape == (6, 0)
    assert attach_to_persons(queries[:2], np.arange(2), np.array([1.0, 0.1]), gone,
                             ClusterParams()) == [None, None]


def test_a_face_joins_only_under_merge_distance_whatever_it_is_set_to() -> None:
    rng = np.random.default_rng(14)
    a = unit(rng.normal(size=128))
    persons = _persons(around(rng, a, 8, 0.3), np.full(8, 3), np.arange(8))
    faces = np.stack([apart_by(rng, a, d) for d in np.linspace(0.6, 1.6, 21)])
    for md in (0.8, 1.2):
        params = ClusterParams(merge_distance=md)
        m = persons.groups.criterion_to(faces, face_noise(np.ones(21), params),
                                        np.zeros(21, int))
        got = [attach_to_persons(f[None], np.array([100]), np.ones(1), persons, params)[0]
               for f in faces]
        assert got == [3 if v < md ** 2 else None for v in m]
        assert None in got and 3 in got


@pytest.mark.parametrize("quality, to_a, to_b, want", [
    (0.4, 1.2, 1.8, None),   # min_quality itself is not weak: a good face that far is new
    (0.1, 0.8, 1.0, 3),      # under a low merge_distance: near one, clearly nearer than the other
    (0.1, 0.8, 0.82, None),  # about as near both
])
def test_a_weak_face_is_judged_by_its_own_distances(quality: float, to_a: float, to_b: float,
                                                     want: int | None) -> None:
    rng = np.random.default_rng(15)
    a = unit(rng.normal(size=128))
    query = apart_by(rng, a, to_a)
    b = apart_by(rng, query, to_b)
    params = ClusterParams(merge_distance=0.3 if to_a < 1 else 1.0)
    got = attach_to_persons(query[None], np.array([100]), np.array([quality]),
                            _two(rng, a, b), params)
    assert got == [want]


def test_a_weak_face_with_one_person_around_joins_them_when_near() -> None:
    rng = np.random.default_rng(16)
    a = unit(rng.normal(size=128))
    one = _persons(around(rng, a, 8, 0.3), np.full(8, 3), np.arange(8))
    near, far = apart_by(rng, a, 1.0), apart_by(rng, a, 1.5)
    got = attach_to_persons(np.stack([near, far]), np.array([100, 101]), np.full(2, 0.1), one,
                            ClusterParams())
    assert got == [3, None]


def test_a_new_cluster_sharing_a_photo_with_the_nearest_joins_the_next() -> None:
    rng = np.random.default_rng(17)
    a = unit(rng.normal(size=128))
    b = apart_by(rng, a, 0.3)
    vectors = np.vstack([around(rng, a, 8, 0.3), around(rng, b, 8, 0.3)])
    p = _persons(vectors, np.repeat([3, 5], 8), np.arange(16))
    cluster = around(rng, a, 3, 0.3)
    params = ClusterParams(merge_distance=1.2)
    assert joining_person(cluster, {50, 51, 52}, np.ones(3), p, params) == 3
    assert joining_person(cluster, {0, 51, 52}, np.ones(3), p, params) == 5  # photo 0 is 3's
    empty = _persons(vectors, np.full(16, -1), np.arange(16))
    assert joining_person(cluster, {50}, np.ones(3), empty, params) is None


def test_a_new_cluster_joins_only_under_merge_distance_whatever_it_is_set_to() -> None:
    rng = np.random.default_rng(18)
    a = unit(rng.normal(size=128))
    p = _persons(around(rng, a, 8, 0.3), np.full(8, 3), np.arange(8))
    for md in (0.8, 1.2):
        joined = [joining_person(around(rng, apart_by(rng, a, d), 3, 0.3), {50}, np.ones(3), p,
                                 ClusterParams(merge_distance=md))
                  for d in np.linspace(0.6, 1.6, 11)]
        k = joined.index(None)
        assert joined == [3] * k + [None] * (11 - k) and k > 0
        if md == 0.8:
            nearest_left = k
    assert k > nearest_left  # a wider merge_distance takes clusters from farther


def test_doubtful_pairs_are_every_pair_under_the_distance_closest_first() -> None:
    rng = np.random.default_rng(19)
    a = unit(rng.normal(size=128))
    centres = [a, apart_by(rng, a, 0.5), apart_by(rng, a, 0.8), apart_by(rng, a, 1.0)]
    vectors = np.vstack([around(rng, c, n, 0.4) for c, n in zip(centres, (9, 3, 6, 1),
                                                                   strict=True)])
    p = _persons(vectors, np.repeat([1, 2, 3, 4], [9, 3, 6, 1]), np.arange(19))
    every = doubtful_pairs(p, ClusterParams(), 10.0)
    assert len(every) == 6
    assert [d for *_p, d in every] == sorted(d for *_p, d in every)
    for cut in (0.3, 0.6, 0.9, 1.2):
        assert doubtful_pairs(p, ClusterParams(), cut) == [t for t in every if t[2] < cut]
