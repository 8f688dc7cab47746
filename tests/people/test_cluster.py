"""The clustering rule on synthetic face vectors shaped like FaceNet's: what a user relies on.
Copies are given matching signatures (as copies of one photo have), distinct photos distinct
ones."""

from __future__ import annotations

import numpy as np
import pytest

from facefold.people.cluster import (
    NOISE,
    ClusterParams,
    Groups,
    cluster_faces,
    copy_units,
    face_noise,
    graph_pairs,
    knn,
    relabel,
    signatures_of,
)
from facefold.vision.pixels import PHOTO_BYTES, PIXEL_BYTES, PIXEL_SIDE, scene
from tests.helpers.vectors import apart_by, around, blobs, unit

P = ClusterParams()


def signatures(sources: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Signatures for faces of the given source photos: faces of one source (copies of one
    photo) get the same pixels and scene, different sources different ones."""
    rng = np.random.default_rng(seed)
    ids, inv = np.unique(sources, return_inverse=True)
    pixels = rng.integers(0, 256, (len(ids), PIXEL_BYTES), dtype=np.uint8)[inv]
    scenes = np.stack([scene(rng.integers(0, 256, PHOTO_BYTES, dtype=np.uint8).tobytes(),
                             (100.0, 80.0, 60.0, 60.0), (320, 240)) for _ in ids])[inv]
    return pixels, scenes


def run(v: np.ndarray, photos: np.ndarray | None = None, sources: np.ndarray | None = None,
        quality: np.ndarray | None = None, params: ClusterParams = P, **kw: object) -> np.ndarray:
    photos = np.arange(len(v)) if photos is None else photos
    sig = signatures_of(*signatures(photos if sources is None else sources))
    return cluster_faces(v, photos, params, quality, signatures=sig, **kw)  # type: ignore[arg-type]


def people_of(labels: np.ndarray, truth: np.ndarray) -> list[set[int]]:
    """Which true people each found person holds (noise left out)."""
    return [set(truth[labels == c].tolist()) for c in np.unique(labels[labels != NOISE])]


def test_separated_people_are_found(rng: np.random.Generator) -> None:
    v, truth = blobs(rng, people=5, per=8)
    labels = run(v)
    assert sorted(map(sorted, people_of(labels, truth))) == [[k] for k in range(5)]
    assert (labels != NOISE).all()


def test_a_person_photographed_in_one_session_founds_a_folder(
        rng: np.random.Generator) -> None:
    # 14 distinct photos taken minutes apart: all within ~0.25 of each other in FaceNet, as
    # alike as copies are, yet each its own photo (its own pixels): 14 pieces of evidence
    v = around(rng, unit(rng.normal(size=128)), 14, rms=0.22)
    labels = run(v)
    assert len(set(labels.tolist())) == 1 and labels[0] != NOISE


def test_a_two_photo_person_stays_apart_from_a_neighbour_a_metre_away(
        rng: np.random.Generator) -> None:
    # a well-known person with 15 photos, and someone seen in 2 photos (0.55 apart) whose faces
    # sit 1.0-1.1 (RMS) from the well-known person's: two people, not one
    centre = unit(rng.normal(size=128))
    big = around(rng, centre, 15, rms=0.7)
    other = apart_by(rng, centre, 0.9)
    pair = around(rng, other, 2, rms=0.55)
    rms = np.sqrt(np.mean(2 - 2 * big @ pair.T))
    assert 1.0 < rms < 1.1
    labels = run(np.vstack([big, pair]))
    assert labels[15] == labels[16] != NOISE
    assert labels[15] != labels[0]


def test_copies_of_one_photo_count_once_and_distinct_photos_twice(
        rng: np.random.Generator) -> None:
    # a stranger: one photo and 4 near-identical copies of it (a burst, a re-save): nobody
    centre = unit(rng.normal(size=128))
    stranger = around(rng, centre, 5, rms=0.12)
    assert (run(stranger, sources=np.zeros(5, int)) == NOISE).all()
    # a person: two distinct photos, each with 4 copies, the two as alike as copies (0.25
    # apart): two pieces of evidence, one person
    a = apart_by(rng, centre, 0.25)
    both = np.vstack([around(rng, centre, 5, rms=0.12), around(rng, a, 5, rms=0.12)])
    labels = run(both, sources=np.repeat([0, 1], 5))
    assert len(set(labels.tolist())) == 1 and labels[0] != NOISE


def test_a_cropped_or_mirrored_copy_is_known_by_its_crop(rng: np.random.Generator) -> None:
    # a stranger's photo and a cropped, mirrored copy of it: the photos in small no longer
    # match, the face's own crop (mirrored back) does: one piece of evidence, nobody
    centre = unit(rng.normal(size=128))
    v = np.vstack([centre, apart_by(rng, centre, 0.2)])
    pixels, scenes = signatures(np.arange(2))
    pixels[1] = pixels[0].reshape(PIXEL_SIDE, PIXEL_SIDE)[:, ::-1].ravel()
    assert len(set(copy_units(v, np.arange(2), P, signatures_of(pixels, scenes), np.ones(2)))) == 1
    assert (cluster_faces(v, np.arange(2), P, signatures=signatures_of(pixels, scenes))
            == NOISE).all()


def test_photos_of_one_session_do_not_chain_into_one_copy(rng: np.random.Generator) -> None:
    # 10 photos against one plain wall, each a little turned from the last: each is as alike
    # to the next as a copy (0.2 apart, crops correlating > 0.9), the first and the last are
    # not. They stay many pieces of evidence, and found a person.
    v = [unit(rng.normal(size=128))]
    for _ in range(9):
        v.append(apart_by(rng, v[-1], 0.2))
    wall = rng.normal(128, 40, PIXEL_BYTES)
    drift = rng.normal(0, 40, (10, PIXEL_BYTES)).cumsum(axis=0) / 3
    pixels = np.clip(wall + drift, 0, 255).astype(np.uint8)
    _, scenes = signatures(np.arange(10))
    units = copy_units(np.vstack(v), np.arange(10), P, signatures_of(pixels, scenes), np.ones(10))
    assert len(set(units.tolist())) >= 3
    labels = cluster_faces(np.vstack(v), np.arange(10), P,
                           signatures=signatures_of(pixels, scenes))
    assert len(set(labels.tolist())) == 1 and labels[0] != NOISE


def test_a_person_who_looks_different_photo_to_photo_stays_one(
        rng: np.random.Generator) -> None:
    # two looks of one person (with and without a beard), each spread wide: the looks' faces
    # are ~1.05 apart, but so is everything in each look: one person. A look-alike with as
    # many photos, as far, but tight, stays apart.
    centre = unit(rng.normal(size=128))
    looks = np.vstack([around(rng, apart_by(rng, centre, 0.45), 10, rms=0.9),
                       around(rng, apart_by(rng, centre, 0.45), 10, rms=0.9)])
    assert (run(looks)[:, None] == run(looks)[None, :]).all()
    twin = around(rng, apart_by(rng, centre, 0.9), 10, rms=0.5)
    tight = around(rng, centre, 10, rms=0.5)
    labels = run(np.vstack([tight, twin]))
    assert len(set(labels[:10].tolist())) == 1 and len(set(labels[10:].tolist())) == 1
    assert labels[0] != labels[10]


def test_strangers_seen_once_found_nobody(rng: np.random.Generator) -> None:
    v = unit(rng.normal(size=(60, 128)))  # 60 different people, one photo each
    assert (run(v) == NOISE).all()


def test_weak_faces_join_a_person_but_never_make_one(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=128))
    good = around(rng, centre, 6, rms=0.6)
    weak = around(rng, centre, 4, rms=1.05)  # small faces: far from everyone, their own too
    q = np.r_[np.ones(6), np.full(4, 0.1)]
    labels = run(np.vstack([good, weak]), quality=q)
    assert (labels == labels[0]).all() and labels[0] != NOISE
    alone = run(weak, quality=np.full(4, 0.1))
    assert (alone == NOISE).all()  # four small faces together are nobody yet


def test_a_weak_face_that_fits_nobody_joins_only_a_clear_winner(
        rng: np.random.Generator) -> None:
    a, b = unit(rng.normal(size=128)), unit(rng.normal(size=128))
    v = np.vstack([around(rng, a, 6, 0.5), around(rng, b, 6, 0.5)])
    q = np.r_[np.ones(12), 0.1]
    mid = unit(a + b)
    o = rng.normal(size=128)
    o -= (o @ a) * a + ((o - (o @ a) * a) @ unit(b - (b @ a) * a)) * unit(b - (b @ a) * a)
    cos = (1 - 1.15 ** 2 / 2) / float(mid @ a)
    lost = unit(cos * mid + np.sqrt(1 - cos ** 2) * unit(o))  # 1.15 from both: no winner
    near_a = apart_by(rng, a, 1.15)  # as far from a, but clearly nearest a
    for weak, want in ((lost, NOISE), (near_a, 0)):
        labels = run(np.vstack([v, weak[None, :]]), quality=q)
        assert labels[12] == (NOISE if want == NOISE else labels[0])


def test_no_person_holds_two_faces_of_one_photo(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=128))
    v = around(rng, centre, 8, rms=0.4)
    photos = np.array([0, 0, 1, 2, 3, 4, 5, 5])
    labels = run(v, photos=photos)
    for c in np.unique(labels[labels != NOISE]):
        assert len(set(photos[labels == c].tolist())) == (labels == c).sum()


def test_people_kept_apart_never_share_a_person(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=128))
    v = around(rng, centre, 10, rms=0.5)  # one person by the looks of it
    groups = np.array([7] * 5 + [8] * 5)
    labels = run(v, groups=groups, apart={(7, 8)})
    assert not set(labels[:5].tolist()) & set(labels[5:].tolist()) - {NOISE}


def test_a_named_persons_faces_stay_together(rng: np.random.Generator) -> None:
    # the user named a person of two faces further apart than any rule would pair
    a = unit(rng.normal(size=128))
    pair = np.stack([a, apart_by(rng, a, 1.1)])
    assert (run(pair) == NOISE).all()
    labels = run(pair, groups=np.array([3, 3]), fixed={3})
    assert labels[0] == labels[1] != NOISE


def test_face_noise_rises_as_quality_falls() -> None:
    q = np.array([1.0, 0.4, 0.2, 0.0])
    got = face_noise(q, ClusterParams(face_noise=0.2, small_face_noise=1.0, min_quality=0.4))
    np.testing.assert_allclose(got, [0.2, 0.2, 0.3, 0.4])


def test_the_criterion_takes_each_groups_noise_away(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=128))
    a, b = around(rng, centre, 20, rms=0.8), around(rng, centre, 20, rms=0.8)
    g = Groups(np.vstack([a, b]), np.full(40, 0.2), [{i} for i in range(40)])
    for k in range(1, 20):
        g.merge(0, k)
        g.merge(20, 20 + k)
    d2 = np.mean(2 - 2 * a @ b.T)  # two halves of one person: far apart face to face ...
    m = float(g.criterion(np.array([0]), np.array([20]))[0])
    assert d2 > 0.55 and m < 0.1  # ... but their centres are close once the spread is away


def test_knn_leaves_each_point_out_and_ivf_agrees(rng: np.random.Generator,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from facefold.people import cluster

    v, _ = blobs(rng, people=20, per=30)
    idx, dist = knn(v, 5)
    assert idx.shape == (600, 5) and not (idx == np.arange(600)[:, None]).any()
    assert (np.diff(dist, axis=1) >= -1e-6).all()
    monkeypatch.setattr(cluster, "EXACT_MAX_POINTS", 100)
    approx, _ = knn(v, 5)
    same = np.mean([len(set(x) & set(y)) / 5 for x, y in zip(idx, approx, strict=True)])
    assert same > 0.9
    a, b = graph_pairs(idx)
    assert (a < b).all() and len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(a)


def test_relabel() -> None:
    assert relabel(np.array([5, -1, 5, 2])).tolist() == [0, -1, 0, 1]


HDBSCAN = ClusterParams(method="hdbscan")


def test_the_hdbscan_setting_finds_separated_people_and_copies_count_once(
        rng: np.random.Generator) -> None:
    v, truth = blobs(rng, people=4, per=6)
    labels = run(v, params=HDBSCAN)
    assert sorted(map(sorted, people_of(labels, truth))) == [[k] for k in range(4)]
    # one photo in five copies is one sighting: a stranger still, with this method too
    far = unit(rng.normal(size=128))
    alone = np.stack([unit(far + rng.normal(size=128) * 0.005) for _ in range(5)])
    labels = run(np.concatenate([v, alone]).astype(np.float32), params=HDBSCAN,
                 sources=np.concatenate([np.arange(len(v)), np.full(5, 999)]))
    assert (labels[len(v):] == NOISE).all()


def test_the_hdbscan_setting_keeps_cannot_links_and_names(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=128))
    v = around(rng, centre, 10, rms=0.5)
    groups = np.array([7] * 5 + [8] * 5)
    labels = run(v, groups=groups, apart={(7, 8)}, params=HDBSCAN)
    assert not set(labels[:5].tolist()) & set(labels[5:].tolist()) - {NOISE}
    photos = np.array([0, 0, 1, 2, 3, 4, 5, 5, 6, 7])
    labels = run(v, photos=photos, params=HDBSCAN)
    for c in np.unique(labels[labels != NOISE]):
        assert len(set(photos[labels == c].tolist())) == (labels == c).sum()
    a = unit(rng.normal(size=128))
    pair = np.stack([a, apart_by(rng, a, 1.1)])
    labels = run(pair, groups=np.array([3, 3]), fixed={3}, params=HDBSCAN)
    assert labels[0] == labels[1] != NOISE


def _attach(vectors: np.ndarray, in_person: int, quality: np.ndarray | None = None,
            photos: list[set[int]] | None = None, tags: list[set[int]] | None = None,
            apart: frozenset[tuple[int, int]] = frozenset(),
            params: ClusterParams = P) -> np.ndarray:
    """`attach` with units 0..in_person-1 one person (label 0), the rest loose."""
    from facefold.people.cluster import attach

    n = len(vectors)
    q = np.ones(n) if quality is None else quality
    noise = face_noise(q, params)
    g = Groups(vectors, noise, photos or [{i} for i in range(n)], tags=tags, apart=apart)
    for k in range(1, in_person):
        g.merge(0, k)
    labels = np.array([0] * in_person + [NOISE] * (n - in_person))
    return attach(g, labels, vectors, noise, q, knn(vectors)[0], params)


def test_loose_faces_join_in_order_of_fit_never_against_a_photo_or_a_pair_kept_apart(
        rng: np.random.Generator) -> None:
    a = unit(rng.normal(size=128))
    far = unit(rng.normal(size=128))
    person = around(rng, a, 8, 0.3)  # tags: the person holds user person 7
    strangers = around(rng, far, 12, 0.3)  # loose, with only each other for neighbours
    x, y, w, z, t = (apart_by(rng, a, d) for d in (0.5, 0.6, 0.7, 0.8, 0.85))
    v = np.vstack([person, strangers, x, y, w, z, t])
    photos = [{i} for i in range(len(v))]
    photos[22] = {0}  # w: a second face of a photo the person has a face in
    tags = [{7}] + [set() for _ in range(len(v) - 1)]
    tags[20], tags[21], tags[23], tags[24] = {8}, {9}, {10}, {8}
    # x's and t's person is kept apart from the person; z's from y's, who joins first
    apart = frozenset({(7, 8), (9, 10)})
    labels = _attach(v, 8, photos=photos, tags=tags, apart=apart)
    assert (labels[8:20] == NOISE).all()  # strangers: nobody to join
    assert labels[20:].tolist() == [NOISE, 0, NOISE, NOISE, NOISE]
    # without the pairs kept apart, x, y, z and t join; w never does
    free = _attach(v, 8, photos=photos, tags=tags)
    assert free[20:].tolist() == [0, 0, NOISE, 0, 0]
    # nor after a face of its photo has joined: x shares y's photo, x joins first
    photos[21] = {20}
    assert _attach(v, 8, photos=photos)[20:].tolist() == [0, NOISE, NOISE, 0, 0]


def test_a_loose_face_that_cannot_join_its_best_fit_joins_the_next(
        rng: np.random.Generator) -> None:
    from facefold.people.cluster import attach

    a = unit(rng.normal(size=128))
    b = apart_by(rng, a, 0.5)
    face = apart_by(rng, a, 0.35)
    v = np.vstack([around(rng, a, 6, 0.3), around(rng, b, 6, 0.3), face[None]])
    photos = [{i} for i in range(13)]
    photos[12] = {0}  # a face of a photo a's person holds
    noise = face_noise(np.ones(13), P)
    g = Groups(v, noise, photos)
    for k in range(1, 6):
        g.merge(0, k)
        g.merge(6, 6 + k)
    labels = np.array([0] * 6 + [6] * 6 + [NOISE])
    params = ClusterParams(merge_distance=1.0)
    assert attach(g, labels, v, noise, np.ones(13), knn(v)[0], params)[12] == 6


def test_a_loose_face_joins_only_under_merge_distance_whatever_it_is_set_to(
        rng: np.random.Generator) -> None:
    a = unit(rng.normal(size=128))
    person = around(rng, a, 8, 0.3)
    faces = [apart_by(rng, a, d) for d in np.linspace(0.4, 1.6, 25)]
    g = Groups(person, face_noise(np.ones(8), P), [{i} for i in range(8)])
    for k in range(1, 8):
        g.merge(0, k)
    m = g.criterion_to(np.stack(faces), face_noise(np.ones(25), P), np.zeros(25, int))
    for md in (0.6, 1.2):
        params = ClusterParams(merge_distance=md)
        got = [int(_attach(np.vstack([person, f[None]]), 8, params=params)[8]) for f in faces]
        assert got == [0 if x < md ** 2 else NOISE for x in m]
        assert 0 in got and NOISE in got


@pytest.mark.parametrize("to_a, to_b, want", [
    (0.8, 1.0, 0),        # near a, clearly nearer a than b: a's
    (0.8, 0.82, NOISE),   # about as near both: nobody's
    (1.3, 1.8, NOISE),    # too far even for a weak face
])
def test_a_weak_loose_face_joins_its_clearly_nearest_person(
        rng: np.random.Generator, to_a: float, to_b: float, want: int) -> None:
    a = unit(rng.normal(size=128))
    face = apart_by(rng, a, to_a)
    b = apart_by(rng, face, to_b)
    v = np.vstack([around(rng, a, 6, 0.3), around(rng, b, 6, 0.3), face[None]])
    q = np.array([1.0] * 12 + [0.1])
    from facefold.people.cluster import attach

    noise = face_noise(q, P)
    g = Groups(v, noise, [{i} for i in range(13)])
    for k in range(1, 6):
        g.merge(0, k)
        g.merge(6, 6 + k)
    labels = np.array([0] * 6 + [6] * 6 + [NOISE])
    params = ClusterParams(merge_distance=0.3)  # the face fits nobody as a good face would
    got = attach(g, labels, v, noise, q, knn(v)[0], params)
    assert got[12] == want
    # with only one person around, near is enough
    alone = _attach(np.vstack([v[:6], face[None]]), 6, quality=np.array([1.0] * 6 + [0.1]),
                    params=params)
    assert alone[6] == (0 if to_a < 1.25 else NOISE)


def test_no_faces_or_one_face_is_nobody() -> None:
    assert cluster_faces(np.zeros((0, 128), np.float32), np.zeros(0, int), P).tolist() == []
    one = unit(np.random.default_rng(0).normal(size=(1, 128)))
    assert cluster_faces(one, np.array([5]), P).tolist() == [NOISE]


def test_named_persons_start_whole_and_stay_apart_whatever_their_ids(
        rng: np.random.Generator) -> None:
    a = unit(rng.normal(size=128))
    b = unit(rng.normal(size=128))
    # two named persons (ids 0 and 4) of two faces each, further apart than any rule would
    # pair; a third named person of one face; nobody else
    v = np.stack([a, apart_by(rng, a, 1.1), b, apart_by(rng, b, 1.1), unit(rng.normal(size=128))])
    labels = run(v, groups=np.array([0, 0, 4, 4, 9]), fixed={0, 4, 9})
    assert labels[0] == labels[1] != NOISE and labels[2] == labels[3] != NOISE
    assert labels[0] != labels[2] and labels[4] not in (NOISE, labels[0], labels[2])
    # a named person's two faces in one photo: they cannot both be that person
    both = run(v[:2], photos=np.array([3, 3]), groups=np.array([0, 0]), fixed={0})
    assert both[0] != both[1]


def test_copies_of_a_small_face_drift_apart_yet_count_once(rng: np.random.Generator) -> None:
    a = unit(rng.normal(size=128))
    v = np.stack([a, apart_by(rng, a, 1.05)])  # a tiny face's two copies, FaceNet far apart
    pixels, scenes = signatures(np.array([0, 0]))  # the same pixels: copies
    sig = signatures_of(pixels, scenes)
    weak = copy_units(v, np.arange(2), P, sig, np.full(2, 0.1))
    assert weak[0] == weak[1]
    # as good faces that far apart, FaceNet says two people, whatever the pixels say
    good = copy_units(v, np.arange(2), P, sig, np.ones(2))
    assert good[0] != good[1]


def test_each_photo_copied_many_times_is_one_unit(rng: np.random.Generator) -> None:
    a = unit(rng.normal(size=128))
    b = apart_by(rng, a, 0.5)
    v = np.vstack([around(rng, a, 3, 0.05), around(rng, b, 3, 0.2)])
    pixels, scenes = signatures(np.array([0, 0, 0, 1, 1, 1]))
    units = copy_units(v, np.arange(6), P, signatures_of(pixels, scenes), np.ones(6))
    assert len(set(units[:3].tolist())) == 1 and len(set(units[3:].tolist())) == 1
    assert units[0] != units[3]
    assert copy_units(v[:1], np.arange(1), P, signatures_of(pixels, scenes), np.ones(1)) == [0]


def test_groups_merge_into_one_with_everything_each_held() -> None:
    v = np.eye(4, 8, dtype=np.float32)
    g = Groups(v, np.array([0.1, 0.2, 0.3, 0.4]), [{1}, {2}, {3}, {2}],
               tags=[{7}, {8}, set(), {9}], apart=frozenset({(8, 9)}))
    g.merge(0, 1)
    assert g.counts[0] == 2 and g.noise[0] == pytest.approx(0.3)
    np.testing.assert_allclose(g.sums[0], v[0] + v[1])
    assert g.photos[0] == {1, 2} and g.tags is not None and g.tags[0] == {7, 8}
    assert g.conflict(0, 3)  # photo 2, and 8 kept apart from 9
    g.photos[3] = {4}
    assert g.conflict(0, 3) and not g.conflict(0, 2)  # 8 and 9 still apart
    plain = Groups(v, np.zeros(4), [{1}, {2}, {3}, {4}], apart=frozenset({(8, 9)}))
    assert not plain.conflict(0, 1)  # no tags: nothing kept apart


def test_graph_pairs_are_each_neighbour_pair_once() -> None:
    idx = np.array([[-1, -1], [0, 2], [0, -1]])  # 0's own list is empty
    a, b = graph_pairs(idx)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]


def test_pair_distances_are_exact() -> None:
    from facefold.people.cluster import pair_d2

    v = np.eye(3, dtype=np.float32)
    np.testing.assert_allclose(pair_d2(v, np.array([0, 1, 2]), np.array([1, 1, 0])),
                               [2.0, 0.0, 2.0])


def test_distinct_group_pairs_leave_self_pairs_out() -> None:
    from facefold.people.cluster import _dedupe

    a, b, inv = _dedupe(np.array([0, 2, 1, 3]), np.array([1, 2, 0, 3]), 4)
    assert (a.tolist(), b.tolist(), inv.tolist()) == ([0], [1], [0, -1, 0, -1])
    a, b, inv = _dedupe(np.array([2, 3]), np.array([2, 3]), 4)
    assert (a.tolist(), b.tolist(), inv.tolist()) == ([], [], [-1, -1])


def test_hdbscan_gathers_a_tight_cluster_round_its_most_central_face(
        rng: np.random.Generator) -> None:
    v, truth = blobs(rng, people=3, per=6, rms=0.4)
    hd = ClusterParams(method="hdbscan")
    labels = run(v, params=hd)
    assert sorted(map(sorted, people_of(labels, truth))) == [[0], [1], [2]]
    assert (labels != NOISE).all()
    # a second face of one photo in a cluster: the face nearer its centre stays
    photos = np.arange(18)
    centre = v[:6].mean(axis=0)
    near, far = np.argsort(np.linalg.norm(v[:6] - centre, axis=1))[[0, -1]]
    photos[far] = photos[near]
    labels = run(v, photos=photos, params=hd)
    assert labels[near] == labels[[k for k in range(6) if k not in (near, far)][0]]
    assert labels[far] != labels[near]
    # a named person of one face is kept
    assert run(v[:1], groups=np.array([5]), fixed={5}, params=hd).tolist() == [0]
    assert run(v, groups=np.array([5] + [-1] * 17), fixed={5}, params=hd)[0] != NOISE


def test_neighbours_are_every_other_face_nearest_first_and_never_itself() -> None:
    e = np.eye(4, 8, dtype=np.float32)
    v = unit(np.stack([e[0], e[0] + 0.5 * e[1], e[0] + 2 * e[1]]))
    idx, d = knn(v)
    assert idx.tolist() == [[1, 2], [0, 2], [1, 0]]
    np.testing.assert_allclose(d, np.sqrt(2 - 2 * np.take_along_axis(v @ v.T, idx, 1)),
                               atol=1e-6)
    one_idx, one_d = knn(v[:1])
    assert one_idx.shape == one_d.shape == (1, 0)


def test_twenty_copies_of_one_face_list_others_not_themselves() -> None:
    v = unit(np.vstack([np.ones((20, 8)), np.random.default_rng(1).normal(size=(3, 8))]))
    idx, _d = knn(v)
    assert idx.shape == (23, 10)
    assert not (idx == np.arange(23)[:, None]).any()


def test_the_approximate_search_above_the_exact_limit_finds_most_true_neighbours(
        rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    import facefold.people.cluster as cluster

    v, _truth = blobs(rng, people=300, per=10, rms=0.7)
    exact_idx, exact_d = knn(v)
    monkeypatch.setattr(cluster, "EXACT_MAX_POINTS", len(v))
    same_idx, _ = cluster.knn(v)  # at the limit itself: still exact
    assert (same_idx == exact_idx).all()
    monkeypatch.setattr(cluster, "EXACT_MAX_POINTS", len(v) - 1)
    idx, d = cluster.knn(v)
    found = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(idx.tolist(),
                                                                exact_idx.tolist(), strict=True)])
    assert found > 0.9
    true_d = np.linalg.norm(v[idx] - v[:, None, :], axis=2)  # distances as they are
    np.testing.assert_allclose(d, true_d, atol=1e-5)


def test_two_halves_of_a_person_no_face_links_are_joined_by_their_centres(
        rng: np.random.Generator) -> None:
    # two sittings of one person, 12 photos each: every face's nearest ten are of its own
    # sitting, yet the sittings' centres are as close as one person's faces are
    a = unit(rng.normal(size=128))
    v = np.vstack([around(rng, a, 12, 0.3), around(rng, apart_by(rng, a, 0.5), 12, 0.3)])
    idx, _d = knn(v)
    assert ((idx < 12) == (np.arange(24) < 12)[:, None]).all()  # no face links the halves
    labels = run(v)
    assert len(set(labels.tolist())) == 1 and labels[0] != NOISE


def test_a_single_face_is_judged_as_its_group_of_one_would_be(rng: np.random.Generator) -> None:
    centre = unit(rng.normal(size=128))
    person = around(rng, centre, 6, 0.6)
    faces = np.stack([apart_by(rng, centre, d) for d in (0.3, 0.8, 1.2)])
    noise = face_noise(np.array([1.0] * 6 + [1.0, 0.3, 0.0]), P)
    g = Groups(np.vstack([person, faces]), noise, [{i} for i in range(9)])
    for k in range(1, 6):
        g.merge(0, k)
    alone = g.criterion(np.array([6, 7, 8]), np.zeros(3, int))
    to = g.criterion_to(faces, noise[6:], np.zeros(3, int))
    np.testing.assert_allclose(to, alone, atol=1e-9)
