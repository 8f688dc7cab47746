"""The clustering rule on synthetic 128-d unit vectors shaped like FaceNet's on real photos, with
the three failures measured on real libraries (issue "The right people") rebuilt exactly:
look-alikes merged, one person split into satellites, bursts over-split."""

from __future__ import annotations

import numpy as np
import pytest

from facefold.people.cluster import (
    NOISE,
    Apart,
    ClusterParams,
    attach_units,
    burst_units,
    cluster_faces,
    dissolve_weak_pairs,
    enforce_cannot_link,
    found_cores,
    merge_clusters,
    relabel,
)
from facefold.vision.shapes import EMBEDDING_DIM as DIM
from tests.helpers.vectors import apart_by, around, blobs, size_shares, unit


def rms_between(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (a @ b.T)).mean()))


def people_found(labels: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """(clusters, clusters that mix two people)."""
    found = [set(truth[labels == lab].tolist()) for lab in np.unique(labels[labels != NOISE])]
    return len(found), sum(len(f) > 1 for f in found)


def test_separated_people_are_found(rng: np.random.Generator) -> None:
    v, truth = blobs(rng, 6, 8)
    labels = cluster_faces(v, np.arange(len(v)), ClusterParams())
    assert people_found(labels, truth) == (6, 0)
    assert (labels != NOISE).all()


def test_a_two_photo_person_is_kept(rng: np.random.Generator) -> None:
    v, truth = blobs(rng, 3, 6)
    pair = around(rng, unit(rng.normal(size=DIM)), 2, 0.5)
    labels = cluster_faces(np.vstack([v, pair]), np.arange(20), ClusterParams())
    assert labels[-1] == labels[-2] != NOISE and people_found(labels[:-2], truth) == (3, 0)


def test_look_alikes_stay_apart(rng: np.random.Generator) -> None:
    """Two men 0.99 apart (RMS) who each vary 0.40-0.48 across 15 photos: `merge_distance` 1.0
    merged them; they are many standard errors apart."""
    a = unit(rng.normal(size=DIM))
    b = apart_by(rng, a, 0.92)
    va, vb = around(rng, a, 15, 0.44), around(rng, b, 15, 0.44)
    assert 0.96 < rms_between(va, vb) < 1.0
    labels = cluster_faces(np.vstack([va, vb]), np.arange(30), ClusterParams())
    assert people_found(labels, np.repeat([0, 1], 15)) == (2, 0)


def test_one_person_with_small_face_satellites_stays_one(rng: np.random.Generator) -> None:
    """An actor across years: a main cluster, and pairs of small, noisy faces 0.95-1.18 (RMS) from
    it, while the nearest other person is 1.24 away: the satellites join him."""
    actor = unit(rng.normal(size=DIM))
    main = around(rng, actor, 20, 0.7)
    satellites = [around(rng, apart_by(rng, actor, 0.8), 2, 0.75) for _ in range(3)]
    other = around(rng, apart_by(rng, actor, 1.2), 12, 0.7)
    for sat in satellites:
        assert 0.95 < rms_between(sat, main) < 1.18
    assert rms_between(other, main) > 1.24
    v = np.vstack([main, *satellites, other])
    truth = np.repeat([0, 1], [26, 12])
    labels = cluster_faces(v, np.arange(len(v)), ClusterParams())
    assert people_found(labels, truth) == (2, 0)
    assert (labels[:26] == labels[0]).all()


def test_bursts_count_once(rng: np.random.Generator) -> None:
    """Five people, five photos each, each photo a burst of four near-identical frames: five
    people, not one per burst."""
    v, truth = blobs(rng, 5, 5)
    frames = np.vstack([around(rng, x, 4, 0.1) for x in v])
    labels = cluster_faces(frames, np.arange(len(frames)), ClusterParams())
    assert people_found(labels, np.repeat(truth, 4)) == (5, 0)
    # a lone burst is one piece of evidence: it founds nobody
    lone = around(rng, unit(rng.normal(size=DIM)), 4, 0.1)
    labels = cluster_faces(np.vstack([frames, lone]), np.arange(len(frames) + 4), ClusterParams())
    assert (labels[-4:] == NOISE).all()


def test_low_quality_faces_join_but_never_found(rng: np.random.Generator) -> None:
    v, _ = blobs(rng, 1, 6)
    weak_pair = around(rng, unit(rng.normal(size=DIM)), 2, 0.4)
    all_v = np.vstack([v, weak_pair])
    q = np.array([1.0] * 6 + [0.05, 0.05])
    labels = cluster_faces(all_v, np.arange(8), ClusterParams(), q)
    assert (labels[-2:] == NOISE).all() and (labels[:6] == labels[0]).all()
    assert (cluster_faces(all_v, np.arange(8), ClusterParams())[-2:] != NOISE).all()


def test_no_cluster_holds_two_faces_of_one_photo(rng: np.random.Generator) -> None:
    v, _ = blobs(rng, 1, 6, rms=0.5)
    photos = np.array([0, 0, 1, 2, 3, 3])
    labels = cluster_faces(v, photos, ClusterParams())
    for lab in np.unique(labels[labels != NOISE]):
        assert len(set(photos[labels == lab].tolist())) == int((labels == lab).sum())


def test_faces_of_persons_kept_apart_never_share_a_cluster(rng: np.random.Generator) -> None:
    v, _ = blobs(rng, 1, 10, rms=0.5)  # one tight group the user says is two people
    groups = np.array([7] * 5 + [9] * 5)
    labels = cluster_faces(v, np.arange(10), ClusterParams(), groups=groups, apart={(9, 7)})
    assert set(labels[:5].tolist()).isdisjoint(labels[5:].tolist())
    assert NOISE not in labels.tolist()


def test_bursts_group_near_identical_faces_only() -> None:
    a = unit(np.eye(DIM)[0] + 0.05 * np.eye(DIM)[1])
    v = np.vstack([np.eye(DIM)[0], a, np.eye(DIM)[1], np.eye(DIM)[0]]).astype(np.float32)
    units = burst_units(v, np.array([0, 1, 2, 0]), 0.3)
    assert units[0] == units[1] != units[2]
    assert units[3] != units[0]  # the same photo is never its own burst


def test_copies_by_pixels_are_a_burst_within_their_distance(rng: np.random.Generator) -> None:
    """Faces 0.4 apart (a photo and its mirrored copy, to FaceNet) whose pixels match, one
    mirrored, are one burst; with other pixels, without signatures or beyond the pixel distance
    they stay apart."""
    from facefold.vision.pixels import PIXEL_BYTES, PIXEL_SIDE

    x = unit(np.eye(DIM)[0] + 0.42 * np.eye(DIM)[1])
    v = np.vstack([np.eye(DIM)[0], x, np.eye(DIM)[2]]).astype(np.float32)
    assert 0.38 < np.linalg.norm(v[0] - v[1]) < 0.45
    face = rng.integers(0, 256, (PIXEL_SIDE, PIXEL_SIDE), dtype=np.uint8)
    pixels = np.stack([face.ravel(), face[:, ::-1].ravel(), face.ravel()])
    photos = np.array([0, 1, 2])
    units = burst_units(v, photos, 0.3, pixels, 0.9, 0.5)
    assert units[0] == units[1] != units[2]  # the third matches in pixels, but is far in FaceNet
    assert len(set(burst_units(v, photos, 0.3).tolist())) == 3  # no signatures: FaceNet alone
    assert len(set(burst_units(v, photos, 0.3, pixels, 0.9, 0.35).tolist())) == 3
    other = rng.integers(0, 256, PIXEL_BYTES, dtype=np.uint8)
    assert len(set(burst_units(v, photos, 0.3, np.stack([face.ravel(), other, other]), 0.9,
                               0.5).tolist())) == 3
    empty = np.zeros((3, PIXEL_BYTES), np.uint8)  # faces stored before signatures were
    assert len(set(burst_units(v, photos, 0.3, empty, 0.9, 0.5).tolist())) == 3


def _scenes(rng: np.random.Generator, photos: int, copies: int,
            box: tuple[float, float, float, float] = (200.0, 100.0, 25.0, 25.0)) -> np.ndarray:
    """Scene rows of one face at `box` in `copies` copies each of `photos` different photos."""
    from facefold.vision.pixels import PHOTO_BYTES, scene

    rows = []
    for _ in range(photos):
        sig = rng.integers(0, 256, PHOTO_BYTES, dtype=np.uint8)
        for _ in range(copies):
            noisy = np.clip(sig.astype(int) + rng.integers(-3, 4, PHOTO_BYTES), 0, 255)
            rows.append(scene(noisy.astype(np.uint8).tobytes(), box, (480, 360)))
    return np.stack(rows)


def test_a_small_face_in_copies_of_a_photo_is_one_burst(rng: np.random.Generator) -> None:
    """A 25 px face in 4 copies of one photo drifts 0.5-0.7 apart in FaceNet, and its pixels no
    longer match: by FaceNet and pixels alone the copies are 4 pieces of evidence, enough to
    found a person. In copies of one photo (the scenes: the whole photos alike, the face at one
    place), they are one burst; as 4 different photos, or beyond burst_max_distance, they are
    not."""
    v = _arc([0.0, 0.36, 0.52, 0.72])
    d = np.linalg.norm(v[:, None] - v[None], axis=-1)
    assert d[1, 2] < 0.3 and d[0, 1] > 0.35 and d.max() < 0.8
    photos = np.arange(4)
    one_photo = _scenes(rng, 1, 4)
    assert len(set(burst_units(v, photos, 0.3, scenes=one_photo).tolist())) == 1
    assert len(set(burst_units(v, photos, 0.3).tolist())) > 1  # no scenes: FaceNet alone
    assert len(set(burst_units(v, photos, 0.3, scenes=_scenes(rng, 4, 1)).tolist())) > 1
    assert len(set(burst_units(v, photos, 0.3, scenes=one_photo,
                               copy_similarity=1.01).tolist())) > 1  # the rule off
    far = _arc([0.0, 0.9])  # 0.87 apart: beyond burst_max_distance, copies or not
    assert len(set(burst_units(far, np.arange(2), 0.3, scenes=one_photo[:2]).tolist())) == 2
    labels = cluster_faces(v, photos, ClusterParams(), scenes=one_photo)
    assert (labels == NOISE).all()  # one piece of evidence founds nobody
    assert len(set(cluster_faces(v, photos, ClusterParams()).tolist()) - {NOISE}) == 1


def _arc(angles: list[float]) -> np.ndarray:
    """Unit vectors at these angles (radians) in one plane: chord distance 2 sin(Δ/2)."""
    return np.stack([np.cos(a) * np.eye(DIM)[0] + np.sin(a) * np.eye(DIM)[1]
                     for a in angles]).astype(np.float32)


def test_copies_stay_one_burst_when_one_drifts() -> None:
    """Two copies 0.1 apart and a third 0.25 from one, 0.35 from the other (its JPEG drifted):
    half their pairs are alike, so one burst; asking every pair (the old rule) splits them."""
    v = _arc([0.0, 0.1, -0.2507])
    photos = np.arange(3)
    assert len(set(burst_units(v, photos, 0.3).tolist())) == 1
    assert len(set(burst_units(v, photos, 0.3, share=1.0).tolist())) == 2
    assert len(set(burst_units(v, photos, 0.3, max_distance=0.3).tolist())) == 2  # the cap


def test_a_chain_of_alike_steps_is_not_one_burst() -> None:
    """Six faces 0.25 apart in a row (a person turning): each step alike, the ends 1.2 apart. No
    burst holds a pair that is not mostly alike, so the row stays several bursts."""
    v = _arc([k * 0.2507 for k in range(6)])
    units = burst_units(v, np.arange(6), 0.3)
    assert len(set(units.tolist())) >= 2
    for u in set(units.tolist()):
        members = v[units == u]
        d = np.linalg.norm(members[:, None] - members[None], axis=-1)
        assert d.max() < 0.8 and (d[np.triu_indices(len(members), 1)] < 0.3).mean() >= 0.5


def test_cores_need_close_links_and_two_units() -> None:
    v = unit(np.array([[1.0, 0.0], [1.0, 0.3], [0.0, 1.0], [-1.0, 0.0]]))
    labels = found_cores(v, np.zeros(4, np.int64), 0.5)
    assert labels[0] == labels[1] != NOISE and labels[2] == labels[3] == NOISE


def test_merge_and_attach_by_standard_errors(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=DIM))
    halves = around(rng, centre, 12, 0.7)
    labels = np.array([0] * 6 + [1] * 6)
    photos = [{i} for i in range(12)]
    merged = merge_clusters(halves, photos, labels, ClusterParams())
    assert len(set(merged.tolist())) == 1
    shared = [{0}] * 12  # every unit in one photo: never merged
    assert len(set(merge_clusters(halves, shared, labels, ClusterParams()).tolist())) == 2
    refused = merge_clusters(halves, photos, labels, ClusterParams(), lambda a, b: False)
    assert len(set(refused.tolist())) == 2
    loose = np.vstack([halves, around(rng, centre, 1, 0.7), unit(rng.normal(size=(1, DIM)))])
    out = attach_units(loose, [{i} for i in range(14)], np.array([0] * 12 + [NOISE] * 2),
                       ClusterParams())
    assert out[12] == 0 and out[13] == NOISE  # the far one stays alone


def test_apart_splits_a_mixed_cluster() -> None:
    v = unit(np.array([[1.0, 0.0], [1.0, 0.1], [1.0, 0.9], [1.0, 1.0]]))
    cannot = Apart([{1}, set(), set(), {2}], frozenset({(1, 2)}))
    labels = cannot.split(v, np.zeros(4, np.int64))
    assert labels[0] == labels[1] != labels[2] == labels[3]


def test_cannot_link_keeps_the_nearest_face_of_a_photo() -> None:
    v = unit(np.array([[1.0, 0.0], [1.0, 0.05], [1.0, 0.6]]))
    labels = enforce_cannot_link(v, np.array([0, 1, 1]), np.zeros(3, np.int64))
    assert labels.tolist() == [0, 0, NOISE]


def test_relabel() -> None:
    assert relabel(np.array([5, NOISE, 5, 2])).tolist() == [0, NOISE, 0, 1]


def test_knn_graph_hdbscan_matches_exact_hdbscan(rng: np.random.Generator) -> None:
    import hdbscan

    from facefold.people.cluster import hdbscan_knn, knn

    v, _ = blobs(rng, 40, 6, rms=0.5)
    exact = hdbscan.HDBSCAN(min_cluster_size=2, min_samples=1).fit_predict(v.astype(np.float64))
    approx = hdbscan_knn(v, 2, 1)
    # same partition, whatever the label numbers
    pairs = {(int(a), int(b)) for a, b in zip(exact, approx, strict=True)}
    assert len(pairs) == len(set(exact.tolist())) == len(set(approx.tolist()))
    idx, dist = knn(v, 5)
    assert (idx[:, 0] == np.arange(len(v))).all() and np.allclose(dist[:, 0], 0, atol=2e-3)
    assert (np.diff(dist, axis=1) >= -1e-6).all()


def test_knn_of_face_means_keeps_self_first_and_the_nearest() -> None:
    """The mean of a unit's spread faces (length 0.9) is nearer, by inner product, a tight unit
    in its direction than itself: self still comes first, and that neighbour stays, at the
    RMS distance between the two units' faces."""
    from facefold.people.cluster import knn

    v = np.stack([0.9 * np.eye(DIM)[0], np.eye(DIM)[0], np.eye(DIM)[1]]).astype(np.float32)
    idx, dist = knn(v, 2)
    assert idx[0].tolist() == [0, 1] and idx[1].tolist() == [1, 0] and idx[2, 0] == 2
    assert dist[0, 0] == 0 and abs(dist[0, 1] - np.sqrt(2 - 1.8)) < 1e-6


def test_two_people_chained_into_one_cluster_are_split(rng: np.random.Generator) -> None:
    """A chain of in-between faces can link two people into one HDBSCAN cluster; halves the
    merge rule would never join are split apart again."""
    from facefold.people.cluster import split_apart

    a = unit(rng.normal(size=DIM))
    b = apart_by(rng, a, 1.2)
    va, vb = around(rng, a, 12, 0.6), around(rng, b, 12, 0.6)
    bridge = unit(np.linspace(0.3, 0.7, 3)[:, None] * b + (1 - np.linspace(0.3, 0.7, 3))[:, None] * a)
    v = np.vstack([va, vb, bridge])
    labels = split_apart(v, np.zeros(len(v), np.int64), ClusterParams())
    assert set(labels[:12].tolist()).isdisjoint(labels[12:24].tolist())
    assert len(set(labels[:12].tolist())) == len(set(labels[12:24].tolist())) == 1
    one = split_apart(va, np.zeros(12, np.int64), ClusterParams())  # one person stays whole
    assert len(set(one.tolist())) == 1


def test_a_small_person_takes_only_full_quality_faces(rng: np.random.Generator) -> None:
    """A person of 2 units has an uncertain centre: a face near it joins only at full quality;
    a person of 3 units (attach_min_units) takes a weaker face too."""
    centre = unit(rng.normal(size=DIM))
    small = around(rng, centre, 2, 0.6)
    face = apart_by(rng, centre, 0.6)[None]
    for members, q, joins in ((small, 1.0, True), (small, 0.9, False),
                              (around(rng, centre, 3, 0.6), 0.9, True)):
        v = np.vstack([members, face])
        labels = np.array([0] * len(members) + [NOISE])
        quality = np.array([1.0] * len(members) + [q])
        out = attach_units(v, [{i} for i in range(len(v))], labels, ClusterParams(),
                           unit_quality=quality)
        assert (out[-1] == 0) == joins, (len(members), q)


def test_a_wide_cluster_of_strangers_takes_in_no_more(rng: np.random.Generator) -> None:
    """Four strangers that merged by chance (1.1 apart, twice as spread as the library's people)
    would take in a fifth 0.75 from their centre (about 1.0 from each of them), because their own
    spread makes far look near; judged as spread like a typical person, they do not. A face of a
    typical person still joins that person."""
    people, truth = blobs(rng, 6, 6, rms=0.6)
    centre = unit(rng.normal(size=DIM))
    strangers = np.vstack([around(rng, centre, 4, 1.1), apart_by(rng, centre, 0.75)])
    own = around(rng, people[truth == 0].mean(axis=0), 1, 0.6)
    v = np.vstack([people, strangers, own])
    labels = np.concatenate([truth, [6] * 4, [NOISE, NOISE]])
    photos = [{i} for i in range(len(v))]
    wide = attach_units(v, photos, labels, ClusterParams(attach_max_spread=100.0))
    capped = attach_units(v, photos, labels, ClusterParams())
    assert wide[-2] == 6 and capped[-2] == NOISE
    assert wide[-1] == capped[-1] == 0


def test_two_faces_of_one_photo_found_nobody(rng: np.random.Generator) -> None:
    """Two faces of one photo 0.5 apart (a face and its reflection, say) are linked closely
    enough to found a person, but no person holds two faces of a photo: the one face left is
    no person either."""
    v, truth = blobs(rng, 3, 5, rms=0.6)
    pair = around(rng, unit(rng.normal(size=DIM)), 2, 0.5)
    photos = np.concatenate([np.arange(15), [99, 99]])
    labels = cluster_faces(np.vstack([v, pair]), photos, ClusterParams())
    assert people_found(labels[:15], truth) == (3, 0)
    assert (labels[15:] == NOISE).all()


def test_faces_below_min_quality_found_nobody(rng: np.random.Generator) -> None:
    """Two close faces of quality 0.3 (small, blurred) make no person; at 0.5 they do."""
    v = around(rng, unit(rng.normal(size=DIM)), 2, 0.5)
    assert (cluster_faces(v, np.arange(2), ClusterParams(), np.full(2, 0.3)) == NOISE).all()
    labels = cluster_faces(v, np.arange(2), ClusterParams(), np.full(2, 0.5))
    assert labels[0] == labels[1] != NOISE


def test_passers_by_found_nobody_but_join_a_person(rng: np.random.Generator) -> None:
    """Three strangers' faces behind the people photographed, close enough to chain into a
    person (as three faces cut off at LFW photos' top edge did, and then took in 25 more
    passers-by): smaller than `found_min_share` of their photo's largest face, they found
    nobody. A passer-by near a person still joins that person."""
    v, truth = blobs(rng, 2, 5, rms=0.6)
    passers = around(rng, unit(rng.normal(size=DIM)), 3, 0.5)
    known = around(rng, v[:5].mean(axis=0), 1, 0.6)  # person 0, small behind someone
    vectors = np.vstack([v, passers, known])
    photos = np.concatenate([np.arange(10), [0, 1, 2, 5]])  # each beside a large face
    areas = np.array([80.0 ** 2] * 10 + [40.0 ** 2] * 4)
    shares = size_shares(photos, areas)
    assert np.allclose(shares, [1.0] * 10 + [0.5] * 4)
    labels = cluster_faces(vectors, photos, ClusterParams(), shares=shares)
    assert people_found(labels[:10], truth) == (2, 0)
    assert (labels[10:13] == NOISE).all()
    assert labels[13] == labels[0]
    without = cluster_faces(vectors, photos, ClusterParams())
    assert without[10] != NOISE and (without[10:13] == without[10]).all()


def test_size_shares_by_photo() -> None:
    """A face's size (the square root of its box's area) over its photo's largest face's."""
    shares = size_shares(np.array([3, 3, 7, 3]), np.array([100.0, 25.0, 9.0, 400.0]))
    assert np.allclose(shares, [0.5, 0.25, 1.0, 1.0])
    assert size_shares(np.zeros(0, np.int64), np.zeros(0)).shape == (0,)


def test_faces_join_in_rounds_as_their_person_grows(rng: np.random.Generator,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Six small faces of a person (quality 0.2: they join, never found) 0.6 from the centre of
    the person's good faces and spread 0.7: the nearest join first, and the person they grow
    reaches the rest in later rounds. Passers-by get only the first round."""
    import facefold.people.cluster as cluster

    v, truth = blobs(rng, 3, 5, rms=0.6)
    small = around(rng, apart_by(rng, unit(v[:5].mean(axis=0)), 0.6), 6, 0.7)
    vectors, photos = np.vstack([v, small]), np.arange(21)
    quality = np.array([1.0] * 15 + [0.2] * 6)
    labels = cluster_faces(vectors, photos, ClusterParams(), quality)
    assert people_found(labels[:15], truth) == (3, 0) and (labels[15:] == labels[0]).all()
    passers = cluster_faces(vectors, photos, ClusterParams(), quality,
                            shares=np.array([1.0] * 15 + [0.5] * 6))
    monkeypatch.setattr(cluster, "ATTACH_ROUNDS", 1)
    once = cluster_faces(vectors, photos, ClusterParams(), quality)
    assert 0 < (once[15:] == once[0]).sum() < 6
    assert (passers == once).all()


def test_a_far_pair_is_a_person_only_with_more_faces(rng: np.random.Generator) -> None:
    """Two strangers' faces 0.82 apart chain under `found_distance` (0.85) as a diverse
    person's photos do; a pair that nobody else joins is a person only under `pair_distance`
    (0.8). The same pair with a third photo of that person is kept."""
    v, truth = blobs(rng, 3, 6)
    a = unit(rng.normal(size=DIM))
    strangers = np.stack([a, apart_by(rng, a, 0.82)])
    b = unit(rng.normal(size=DIM))
    pair = np.stack([b, apart_by(rng, b, 0.82)])
    third = apart_by(rng, unit(pair.mean(axis=0)), 0.45)
    vectors = np.vstack([v, strangers, pair, third])
    labels = cluster_faces(vectors, np.arange(len(vectors)), ClusterParams())
    assert people_found(labels[:18], truth) == (3, 0)
    assert (labels[18:20] == NOISE).all()
    assert labels[20] == labels[21] == labels[22] != NOISE
    before = cluster_faces(vectors, np.arange(len(vectors)), ClusterParams(pair_distance=2.0))
    assert before[18] == before[19] != NOISE
    # the same pair, named by the user (person 7 now): it stays a person
    groups = np.full(len(vectors), -1)
    groups[18:20] = 7
    named = cluster_faces(vectors, np.arange(len(vectors)), ClusterParams(), groups=groups,
                          fixed={7})
    assert named[18] == named[19] != NOISE


def test_dissolve_weak_pairs_looks_at_two_unit_clusters_only() -> None:
    v = np.eye(4, DIM, dtype=np.float32)[[0, 0, 1, 2, 2, 3]]
    labels = np.array([0, 1, 0, NOISE, 1, 1])  # 0: units 0 and 2, 1.41 apart; 1: three units
    assert dissolve_weak_pairs(v, labels, 0.8).tolist() == [NOISE, 1, NOISE, NOISE, 1, 1]
    assert dissolve_weak_pairs(v, labels, 1.5).tolist() == labels.tolist()
    asked: list[tuple[int, int]] = []

    def one_sighting(a: int, b: int) -> bool:
        asked.append((a, b))
        return True

    assert dissolve_weak_pairs(v, labels, 1.5, one_sighting=one_sighting).tolist() == [
        NOISE, 1, NOISE, NOISE, 1, 1]
    assert asked == [(0, 2)]


def test_strangers_copies_chain_no_closer_than_their_faces() -> None:
    """Three strangers, each one photo in 5 copies (one unit each), in a row 0.86 apart face to
    face (above `found_distance`, 0.85): the means of their copies are 0.84 apart, and chained
    into a person of 3 units when founding measured between means (LFW with strangers and
    copies: 6 strangers' photos in one folder). Measured between faces, nobody is founded."""
    eps = 0.18  # each copy off its photo in a direction of its own: copies 0.25 apart, one unit
    theta = float(np.arccos(0.651))
    photos_at = _arc([0.0, theta, 2 * theta])
    copies = unit(np.stack([p + eps * np.eye(DIM)[10 + 5 * k + j]
                            for k, p in enumerate(photos_at) for j in range(5)]))
    rng = np.random.default_rng(3)
    people, truth = blobs(rng, 2, 6, rms=0.6)
    v = np.vstack([people, copies])
    photos = np.arange(27)  # a copy is a photo file of its own
    face_d = np.linalg.norm(copies[0] - copies[5])
    means = unit(copies.reshape(3, 5, DIM).mean(axis=1))
    assert 0.855 < face_d < 0.865 and 0.835 < np.linalg.norm(means[0] - means[1]) < 0.845
    assert len(set(burst_units(v, photos, 0.3)[12:].tolist())) == 3
    labels = cluster_faces(v, photos, ClusterParams())
    assert people_found(labels[:12], truth) == (2, 0)
    assert (labels[12:] == NOISE).all()
    # founded between means (the old rule), as found_cores gives it unit-length means
    assert len(set(found_cores(means, np.zeros(3, np.int64), 0.85).tolist())) == 1


def test_a_drifted_copy_is_no_second_sighting() -> None:
    """A stranger's photo in 5 copies, one of which MTCNN cropped differently: 0.29 from one
    copy and 0.31-0.35 from the others, so it is a unit of its own beside the other four (fewer
    than half its pairs alike). Two units 0.3 apart made a person of one photo (LFW with
    strangers and copies: 2 such folders). The drifted copy, alike to a face of the other unit,
    is no second sighting; a face alike to none (a second photo) is, and a person the user named
    stays."""
    copies = _arc([0.0, 0.02, 0.04, 0.06, 0.35])
    second = _arc([0.0, 0.02, 0.04, 0.06, 0.45])
    rng = np.random.default_rng(5)
    people, truth = blobs(rng, 2, 6, rms=0.6)
    photos = np.arange(17)
    units = burst_units(np.vstack([people, copies]), photos, 0.3)[12:]
    assert len(set(units[:4].tolist())) == 1 and units[4] != units[0]
    labels = cluster_faces(np.vstack([people, copies]), photos, ClusterParams())
    assert people_found(labels[:12], truth) == (2, 0)
    assert (labels[12:] == NOISE).all()
    labels = cluster_faces(np.vstack([people, second]), photos, ClusterParams())
    assert labels[12] != NOISE and (labels[12:] == labels[12]).all()
    groups = np.full(17, -1)
    groups[12:] = 4
    named = cluster_faces(np.vstack([people, copies]), photos, ClusterParams(), groups=groups,
                          fixed={4})
    assert named[12] != NOISE and (named[12:] == named[12]).all()
