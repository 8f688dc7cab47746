"""Pixel signatures of aligned crops: copies and mirror images alike, other faces not; and of
whole photos: a face in copies of one photo is one scene."""

import cv2
import numpy as np

from facefold.vision.pixels import (
    PHOTO_BYTES,
    PIXEL_BYTES,
    SCENE_BYTES,
    photo_signature,
    pixel_signature,
    pixel_similarity,
    same_scene,
    same_scene_matrix,
    scene,
    signatures,
)


def _crop(rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    return np.kron(base, np.ones((10, 10, 1), np.uint8))  # 160 x 160, blotchy like a face


def test_copies_and_mirror_images_match_other_crops_do_not() -> None:
    rng = np.random.default_rng(0)
    crop, other = _crop(rng), _crop(rng)
    sig = signatures([pixel_signature(crop), pixel_signature(crop[:, ::-1]),
                      pixel_signature(np.clip(crop.astype(int) * 1.05 + 3, 0, 255).astype(np.uint8)),
                      pixel_signature(other), None, b"short"])
    assert sig.shape == (6, PIXEL_BYTES) and sig.dtype == np.uint8
    first = np.repeat(sig[:1], 6, axis=0)
    sim = pixel_similarity(first, sig)
    assert sim[0] > 0.999 and sim[1] > 0.999  # itself, and its mirror image
    assert sim[2] > 0.99  # brighter, re-encoded: the same pattern
    assert sim[3] < 0.5  # someone else
    assert sim[4] == sim[5] == 0.0  # no signature (or a broken one): like nothing


def _photo(rng: np.random.Generator, w: int = 480, h: int = 360) -> np.ndarray:
    base = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)  # a photo's broad shapes


def _copy(photo: np.ndarray) -> np.ndarray:
    """Shifted 4 px, scaled by 3%, brighter, re-encoded: a near-duplicate."""
    h, w = photo.shape[:2]
    m = np.float32([[1.03, 0, 4 - 0.015 * w], [0, 1.03, -3 - 0.015 * h]])
    moved = cv2.warpAffine(photo, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    ok, jpeg = cv2.imencode(".jpg", cv2.convertScaleAbs(moved, alpha=1.07, beta=4),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)


def test_a_face_in_copies_of_a_photo_has_one_scene_elsewhere_or_in_another_photo_not() -> None:
    """Copies of a photo (shifted, scaled, brighter, re-encoded) correlate above 0.97 as 16 x 16
    grayscale; a face at one place in them is one scene. The same place in another photo, or
    another place (or size) in the same photo, is not; a photo without a signature (stored
    before they were) or of unknown size matches nothing."""
    rng = np.random.default_rng(1)
    photo, other = _photo(rng), _photo(rng)
    sig, copy_sig, other_sig = (photo_signature(p) for p in (photo, _copy(photo), other))
    assert len(sig) == PHOTO_BYTES
    box = (200.0, 100.0, 24.0, 26.0)  # a 25 px face
    size = (480, 360)
    rows = np.stack([scene(sig, box, size), scene(copy_sig, (202.0, 101.0, 25.0, 26.0), size),
                     scene(other_sig, box, size), scene(sig, (260.0, 100.0, 24.0, 26.0), size),
                     scene(sig, (200.0, 100.0, 40.0, 40.0), size), scene(None, box, size),
                     scene(sig, box, (None, None))])
    assert rows.shape == (7, SCENE_BYTES)
    same = same_scene(np.repeat(rows[:1], 7, axis=0), rows, 0.97, 0.25)
    assert same.tolist() == [True, True, False, False, False, False, False]
    assert (same_scene_matrix(rows[:1], rows, 0.97, 0.25)[0] == same).all()
    assert not same_scene(rows[:1], rows[1:2], 1.01, 0.25)[0]  # 1.01: the rule is off


def test_a_mirrored_copy_is_one_scene_the_face_mirrored_too() -> None:
    """A photo mirrored left to right shows the face at 1 - x: one scene with the photo. The
    face at its old place in the mirrored photo, or a face in the mirror image of another
    photo, is not."""
    rng = np.random.default_rng(3)
    photo, other = _photo(rng), _photo(rng)
    size = (480, 360)
    box = (100.0, 100.0, 40.0, 40.0)  # centre x 120 of 480
    mirrored_box = (480.0 - 140.0, 100.0, 40.0, 40.0)  # centre x 360
    original = scene(photo_signature(photo), box, size)
    rows = np.stack([scene(photo_signature(photo[:, ::-1]), mirrored_box, size),
                     scene(photo_signature(photo[:, ::-1]), box, size),
                     scene(photo_signature(other[:, ::-1]), mirrored_box, size)])
    assert same_scene(np.repeat(original[None], 3, axis=0), rows, 0.97, 0.25).tolist() == [
        True, False, False]


def test_a_shifted_copy_lines_up_by_its_face_a_person_who_moved_does_not() -> None:
    """A 150 px photo shifted by 6 px correlates under 0.97 as it is; moved so that the faces
    coincide it is the same photo. A person who moved 6 px against the same room correlates
    above 0.97 as it is, but not once moved by the face: the room is then out of line."""
    rng = np.random.default_rng(5)
    room = _photo(rng, 150, 150)
    face = np.full((30, 30, 3), 230, np.uint8)

    def shot(room: np.ndarray, x: int) -> np.ndarray:
        out = room.copy()
        out[40:70, x:x + 30] = face
        return out

    def shifted(img: np.ndarray, dx: int) -> np.ndarray:
        return cv2.warpAffine(img, np.float32([[1, 0, dx], [0, 1, 0]]), (150, 150),
                              borderMode=cv2.BORDER_REFLECT_101)

    size = (150, 150)
    photo = scene(photo_signature(shot(room, 60)), (60.0, 40.0, 30.0, 30.0), size)
    copy = scene(photo_signature(shifted(shot(room, 60), 6)), (66.0, 40.0, 30.0, 30.0), size)
    moved = scene(photo_signature(shot(room, 66)), (66.0, 40.0, 30.0, 30.0), size)

    def raw(a: np.ndarray, b: np.ndarray) -> float:  # as they are, not moved
        return float(np.corrcoef(a[:PHOTO_BYTES], b[:PHOTO_BYTES])[0, 1])

    assert raw(photo, copy) < 0.97 < raw(photo, moved)
    assert same_scene(photo[None], copy[None], 0.97, 0.25).tolist() == [True]
    assert same_scene(photo[None], moved[None], 0.97, 0.25).tolist() == [False]
