import numpy as np
import pytest

from facefold.people.assign import attach_to_persons, match_clusters, twins
from facefold.people.cluster import ClusterParams
from facefold.vision.shapes import EMBEDDING_DIM as DIM
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


def test_new_faces_join_by_the_clustering_rule_never_twice_in_a_photo() -> None:
    from facefold.people.assign import attach_to_persons
    from facefold.people.cluster import ClusterParams

    rng = np.random.default_rng(0)
    vectors, persons, photos, centres = _people(rng)
    twin = vectors[0] + 0.01  # near-identical to a face of person 3
    close = unit(centres[1] + rng.normal(size=128) * 0.05)
    stranger = unit(rng.normal(size=128))
    queries = unit(np.vstack([twin, close, stranger, close]))
    got = attach_to_persons(queries, np.array([100, 101, 102, 101]), vectors, persons, photos,
                            ClusterParams())
    assert got == [3, 5, None, None]  # the second face of photo 101 cannot join person 5 too
    assert attach_to_persons(queries, np.arange(4), vectors, np.full(16, -1), photos,
                             ClusterParams()) == [None] * 4


def test_a_new_cluster_joins_the_person_it_would_merge_with() -> None:
    from facefold.people.assign import joining_person
    from facefold.people.cluster import ClusterParams

    rng = np.random.default_rng(1)
    vectors, persons, photos, centres = _people(rng)
    same = unit(centres[0] + rng.normal(size=(3, 128)) * 0.05)
    other = unit(rng.normal(size=(3, 128)))
    p = ClusterParams()
    assert joining_person(same, {50, 51, 52}, vectors, persons, photos, p) == 3
    assert joining_person(same, {0, 51}, vectors, persons, photos, p) is None  # photo 0 is 3's
    assert joining_person(other, {60}, vectors, persons, photos, p) is None


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


def test_a_copy_by_pixels_is_its_twins_person() -> None:
    """A new face 0.5 from a stored one (a mirrored copy, to FaceNet) whose pixels match the
    stored face's mirror image is that face's twin; without signatures, or with other pixels,
    it has none (0.5 is beyond burst_distance)."""
    from facefold.vision.pixels import PIXEL_SIDE

    rng = np.random.default_rng(3)
    stored = np.eye(DIM, dtype=np.float32)[:2]
    query = (np.eye(DIM)[0] * np.cos(0.5054) + np.eye(DIM)[2] * np.sin(0.5054))[None]
    query = query.astype(np.float32)
    assert abs(np.linalg.norm(query[0] - stored[0]) - 0.5) < 1e-3
    face = rng.integers(0, 256, (PIXEL_SIDE, PIXEL_SIDE), dtype=np.uint8)
    pixels = np.stack([face.ravel(), rng.integers(0, 256, PIXEL_SIDE ** 2, dtype=np.uint8)])
    mirrored = face[:, ::-1].ravel()[None]
    mask = np.ones(2, bool)
    assert twins(query, stored, mask, ClusterParams(), mirrored, pixels).tolist() == [0]
    assert twins(query, stored, mask, ClusterParams()).tolist() == [-1]
    assert twins(query, stored, mask, ClusterParams(), pixels[1:], pixels).tolist() == [-1]
    assert twins(query, stored, ~mask, ClusterParams(), mirrored, pixels).tolist() == [-1]


def test_a_small_face_in_a_copy_of_a_stored_photo_is_its_twins_person() -> None:
    """A new face 0.6 from a stored one, at the same place of a copy of the stored face's photo
    (a 25 px face drifts that far), is that face's twin; in another photo, or without scenes,
    it has none."""
    from facefold.vision.pixels import PHOTO_BYTES, scene

    rng = np.random.default_rng(4)
    stored = np.eye(DIM, dtype=np.float32)[:2]
    query = (np.eye(DIM)[0] * np.cos(0.6094) + np.eye(DIM)[2] * np.sin(0.6094))[None]
    query = query.astype(np.float32)
    assert abs(np.linalg.norm(query[0] - stored[0]) - 0.6) < 1e-3
    photo, other = (rng.integers(0, 256, PHOTO_BYTES, dtype=np.uint8) for _ in range(2))
    box, size = (200.0, 100.0, 25.0, 25.0), (480, 360)
    scenes = np.stack([scene(photo.tobytes(), box, size), scene(other.tobytes(), box, size)])
    copy = scene(np.clip(photo.astype(int) + 2, 0, 255).astype(np.uint8).tobytes(),
                 (201.0, 100.0, 25.0, 26.0), size)[None]
    mask = np.ones(2, bool)
    params = ClusterParams()
    assert twins(query, stored, mask, params, query_scenes=copy, scenes=scenes).tolist() == [0]
    assert twins(query, stored, mask, params).tolist() == [-1]
    assert twins(query, stored, mask, params, query_scenes=scenes[1:],
                 scenes=scenes[:1].repeat(2, axis=0)).tolist() == [-1]
    got = attach_to_persons(query, np.array([9]), stored, np.array([5, 6]), np.array([1, 2]),
                            params, query_scenes=copy, scenes=scenes)
    assert got == [5]


def test_a_wide_person_of_strangers_takes_in_no_more_new_faces() -> None:
    """As in a full clustering (test_cluster): a person of four strangers, twice as spread as
    the library's people, would take a new face 0.75 from its centre; judged as spread like a
    typical person, it does not."""
    rng = np.random.default_rng(3)
    people, truth = blobs(rng, 6, 6, rms=0.6)
    centre = unit(rng.normal(size=DIM))
    vectors = np.vstack([people, around(rng, centre, 4, 1.1)])
    persons = np.concatenate([truth, [6] * 4])
    photos = np.arange(len(vectors))
    query = apart_by(rng, centre, 0.75)[None]
    wide = attach_to_persons(query, np.array([999]), vectors, persons, photos,
                             ClusterParams(attach_max_spread=100.0))
    assert wide == [6]
    assert attach_to_persons(query, np.array([999]), vectors, persons, photos,
                             ClusterParams()) == [None]
