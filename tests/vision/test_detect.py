import numpy as np

from facefold.vision.detect import downscale, parse_detections


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
