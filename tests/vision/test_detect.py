import numpy as np

from facefold.vision.detect import confirm_boxes, confirmed, downscale, overlap, parse_detections


def test_downscale_keeps_small_images_and_reports_factor() -> None:
    img = np.zeros((300, 200, 3), np.uint8)
    same, f = downscale(img, 1024)
    assert same is img and f == 1.0
    small, f = downscale(np.zeros((3000, 4000, 3), np.uint8), 1000)
    assert small.shape == (750, 1000, 3) and f == 4.0


def _raw(conf: float, box: list[float]) -> dict[str, object]:
    kp = {"left_eye": (10, 10), "right_eye": (20, 10), "nose": (15, 15),
          "mouth_left": (11, 20), "mouth_right": (19, 20)}
    return {"confidence": conf, "box": box, "keypoints": kp}


def test_parse_maps_back_and_filters() -> None:
    raw = [_raw(0.99, [5, 5, 20, 25]), _raw(0.5, [40, 5, 20, 25]), _raw(0.99, [60, 5, 4, 5])]
    out = parse_detections(raw, factor=2.0, min_confidence=0.9, min_face_size=20)
    assert len(out) == 1
    d = out[0]
    assert d.box == (10.0, 10.0, 40.0, 50.0)
    np.testing.assert_allclose(d.landmarks[0], [20, 20])
    assert d.landmarks.shape == (5, 2)


def test_a_second_look_maps_back_from_the_border() -> None:
    raw = [_raw(0.99, [40, 40, 30, 30])]
    (d,) = parse_detections(raw, factor=2.0, min_confidence=0.9, min_face_size=20, offset=50.0)
    assert d.box == (30.0, 30.0, 60.0, 60.0)
    np.testing.assert_allclose(d.landmarks[0], [-30, -30])


def test_confirm_boxes_shift_and_scale_the_square_box() -> None:
    boxes = confirm_boxes((100.0, 50.0, 40.0, 50.0), height=201, width=401)
    assert boxes.shape == (27, 4)
    # as shares of (height - 1, width - 1): back to pixels, y1 x1 y2 x2
    px = boxes * np.array([200, 400, 200, 400])
    sides = px[:, 2] - px[:, 0]
    np.testing.assert_allclose(sides, px[:, 3] - px[:, 1], atol=1e-3)  # square
    np.testing.assert_allclose(sorted(set(np.round(sides, 3))), [45.0, 50.0, 55.0])
    centres = np.stack([(px[:, 1] + px[:, 3]) / 2, (px[:, 0] + px[:, 2]) / 2], axis=1)
    np.testing.assert_allclose(centres.mean(axis=0), [120.0, 75.0], atol=1e-3)  # the box's own centre
    assert set(np.round(centres[:, 0] - 120.0, 3)) == {-5.0, 0.0, 5.0}  # 10% of the 50 px side
    # the unshifted, unscaled box is the face's square box
    assert any(np.allclose(r, [50.0, 95.0, 100.0, 145.0], atol=1e-3) for r in px)


def test_overlap_is_the_shared_area_over_the_smaller_box() -> None:
    assert overlap((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    assert overlap((0, 0, 10, 10), (5, 0, 10, 10)) == 0.5
    assert overlap((0, 0, 40, 40), (10, 10, 10, 10)) == 1.0  # a small box inside a large one


def test_doubtful_faces_are_kept_only_on_a_second_opinion() -> None:
    """Scored from `floor` up to `cut`: kept when their second opinion reaches `min_score`;
    one overlapping a sure face is that face seen askew and gets no second opinion."""
    sure = {"confidence": 0.99, "box": [0, 0, 30, 40]}
    askew = {"confidence": 0.88, "box": [14, 0, 30, 40]}  # half over the sure face
    other = {"confidence": 0.85, "box": [100, 0, 30, 40]}
    weak = {"confidence": 0.82, "box": [200, 0, 30, 40]}
    low = {"confidence": 0.7, "box": [300, 0, 30, 40]}
    asked: list[list[int]] = []

    def second(boxes: list[list[int]]) -> np.ndarray:
        asked.extend(boxes)
        return np.array([0.9 if b[0] == 100 else 0.5 for b in boxes])

    kept = confirmed([sure, askew, other, weak, low], cut=0.9, floor=0.8, min_score=0.8,
                     scores=second)
    assert kept == [sure, other]
    assert asked == [other["box"], weak["box"]]
    # no doubtful face: no second opinion asked
    assert confirmed([sure, low], 0.9, 0.8, 0.8, second) == [sure] and len(asked) == 2
    # floor at the cut: never
    assert confirmed([sure, other], 0.9, 0.9, 0.8, second) == [sure]


class _SeenShapes:
    """A stand-in for MTCNN that finds a face only in a bordered copy and records what it saw."""

    def __init__(self, face_in_pass: int) -> None:
        self.shapes: list[tuple[int, ...]] = []
        self.face_in_pass = face_in_pass

    def detect_faces(self, img: np.ndarray, **_kw: object) -> list[dict[str, object]]:
        self.shapes.append(img.shape)
        if len(self.shapes) != self.face_in_pass:
            return []
        return [_raw(0.99, [100, 100, 40, 40])]


def _detector(fake: _SeenShapes, max_side: int = 1024) -> object:
    from facefold.vision.detect import DetectParams, FaceDetector

    det = FaceDetector(DetectParams(max_side=max_side, confirm_min_confidence=1.0))
    det._mtcnn = fake  # the real MTCNN has its own tests: here only what it is shown matters
    return det


def test_the_second_look_borders_the_small_copy_however_odd_the_photo() -> None:
    fake = _SeenShapes(face_in_pass=0)
    det = _detector(fake)
    det.detect(np.zeros((40_000, 30, 3), np.uint8))  # 1 x 40,000 px once asked for 3.6 GB
    assert fake.shapes  # the photo was looked at, and no copy was larger than 1.5 x max_side
    assert all(max(s[:2]) <= 1024 * 1.5 + 2 for s in fake.shapes)


def test_the_second_look_maps_faces_back_to_the_full_photo() -> None:
    fake = _SeenShapes(face_in_pass=2)  # nothing in the photo, a face with the border
    det = _detector(fake, max_side=500)
    (found,) = det.detect(np.zeros((2000, 1000, 3), np.uint8))
    # the copy was 500 x 250 with a 125 px border: the face at 100 in the copy is at -25 in
    # the photo's copy, times 4 in the full photo
    assert found.box == (-100.0, -100.0, 160.0, 160.0)
