import numpy as np
import pytest

from facefold.evaluate import bcubed_scores, best_threshold, pairwise_scores, verification
from facefold.people.cluster import NOISE


def test_best_threshold_separates_when_it_can() -> None:
    dist = np.array([0.2, 0.5, 0.9, 1.3, 1.4])
    same = np.array([True, True, True, False, False])
    cut, acc = best_threshold(dist, same)
    assert acc == 1.0 and 0.9 < cut < 1.3
    cut, acc = best_threshold(np.array([1.0, 0.5]), np.array([True, False]))
    assert acc == 0.5


def test_verification_on_separable_vectors() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16))
    labels = np.repeat(np.arange(4), 6)
    v = centres[labels] + rng.normal(size=(24, 16)) * 0.05
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    acc, std, cut = verification(v.astype(np.float32), labels)
    assert acc == 1.0 and std == 0.0 and 0 < cut < 2


def test_cluster_scores() -> None:
    truth = np.array([0, 0, 0, 1, 1])
    assert pairwise_scores(truth.copy(), truth) == (1.0, 1.0, 1.0)
    assert bcubed_scores(truth.copy(), truth) == (1.0, 1.0, 1.0)
    split = np.array([0, 0, 1, 2, 2])
    p, r, f = pairwise_scores(split, truth)
    assert p == 1.0 and r == pytest.approx(2 / 4)
    bp, br, _ = bcubed_scores(split, truth)
    assert bp == 1.0 and br == pytest.approx((2 / 3 * 2 + 1 / 3 + 1 + 1) / 5)
    noise = np.array([0, 0, NOISE, 1, 1])
    assert pairwise_scores(noise, truth)[0] == 1.0
    assert bcubed_scores(noise, truth)[0] == 1.0  # a noise face is alone, so it is pure


def test_membership_matches_folders_to_people_one_to_one() -> None:
    from facefold.evaluate import membership_scores

    truth = {"ana": {"a1", "a2", "a3", "g"}, "ben": {"b1", "b2", "g"}}
    perfect = membership_scores({"p1": {"a1", "a2", "a3", "g"}, "p2": {"b1", "b2", "g"}}, truth)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    assert perfect.matched == {"p1": "ana", "p2": "ben"} and not perfect.splits
    merged = membership_scores({"p1": {"a1", "a2", "a3", "b1", "b2", "g"}}, truth)
    assert merged.precision == 4 / 6 and merged.recall == 4 / 7
    assert merged.merges == {"p1": ["ana", "ben"]}
    split = membership_scores({"p1": {"a1", "a2"}, "p2": {"a3", "g"}, "p3": {"b1", "b2"}}, truth)
    assert split.matched["p1"] == "ana" and split.splits == {"ana": ["p1", "p2"]}
    assert split.precision == 4 / 6 and split.recall == 4 / 7  # p2 matched to nobody: all wrong
    empty = membership_scores({}, truth)
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_photo_membership_counts_the_subject_and_everyone_in_group_photos() -> None:
    from facefold.evaluate import photo_membership

    truth = {"ana/1.jpg": {"ana"}, "ana/2.jpg": {"ana"}, "ben/1.jpg": {"ben"},
             "ben/2.jpg": {"ben"}, "g.jpg": {"ana", "ben"}, "cid/1.jpg": {"cid"}}
    faces = [("ana/1.jpg", "p1", 900.0), ("ana/1.jpg", "p9", 100.0),  # a passer-by: not counted
             ("ana/2.jpg", "p1", 800.0), ("ben/1.jpg", "p2", 700.0), ("ben/2.jpg", "p2", 600.0),
             ("g.jpg", "p1", 500.0), ("g.jpg", "p2", 400.0), ("cid/1.jpg", None, 900.0)]
    m, pairwise = photo_membership(faces, truth)
    assert (m.precision, m.recall, m.f1, pairwise) == (1.0, 1.0, 1.0, 1.0)
    assert m.identities == 2  # cid, in one photo, is a stranger
    assert (m.strays, m.passer_folders) == (0, 1)  # p9 holds the passer-by alone
    astray = [("ana/1.jpg", "p2", 100.0) if f == "p9" else (p, f, a) for p, f, a in faces]
    m, _ = photo_membership(astray, truth)  # the passer-by in ben's folder: not scored, counted
    assert (m.f1, m.strays, m.passer_folders) == (1.0, 1, 0)
    stranger_in = faces[:-1] + [("cid/1.jpg", "p1", 900.0)]
    m, _ = photo_membership(stranger_in, truth)
    assert m.precision == 6 / 7 and m.recall == 1.0


def test_evaluate_counts_copies_once_by_their_pixels() -> None:
    """As the library does: two photos of B that are copies (FaceNet 0.25 apart, one mirrored, the
    same photo and place) are one piece of evidence and found no person; without signatures they
    do."""
    from facefold.evaluate import evaluate
    from facefold.people.cluster import ClusterParams
    from facefold.vision.pixels import PHOTO_BYTES, PIXEL_BYTES, PIXEL_SIDE, scene

    rng = np.random.default_rng(0)
    e = np.eye(128, dtype=np.float32)

    def at(base: int, other: int, d: float) -> np.ndarray:  # unit vector d from e[base]
        a = 2 * np.arcsin(d / 2)
        return np.cos(a) * e[base] + np.sin(a) * e[other]

    vectors = np.stack([e[0], at(0, 1, 0.5), at(0, 2, 0.5), e[10], at(10, 11, 0.25)])
    labels = np.array([0, 0, 0, 1, 1])
    pixels = rng.integers(0, 256, (5, PIXEL_BYTES), dtype=np.uint8)
    pixels[4] = pixels[3].reshape(PIXEL_SIDE, PIXEL_SIDE)[:, ::-1].ravel()
    photos = rng.integers(0, 256, (5, PHOTO_BYTES), dtype=np.uint8)
    photos[4] = photos[3]
    scenes = np.stack([scene(p.tobytes(), (40.0, 30.0, 50.0, 60.0), (200, 150)) for p in photos])
    plain = evaluate(vectors, labels, ClusterParams(), "w")
    counted = evaluate(vectors, labels, ClusterParams(), "w", pixels=pixels, scenes=scenes)
    assert plain.clusters == 2 and counted.clusters == 1
