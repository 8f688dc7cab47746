"""MTCNN's pipeline maths in NumPy, without the networks (the real-model comparison with the
`mtcnn` package is in test_models.py)."""

from pathlib import Path

import numpy as np
import pytest

from facefold.vision.mtcnn_lite import (
    area_downscale,
    as_json,
    crop_and_resize,
    proposals,
    pyramid_scales,
    suppress,
    to_square,
)


def test_pyramid_starts_at_the_smallest_face_and_stops_near_12_px() -> None:
    s = pyramid_scales(236, 300, 20)
    assert s[0] == 0.6 and np.allclose(s[1:] / s[:-1], 0.709)
    assert 236 * s[-1] >= 12 * 0.709 and 236 * s[-1] < 12 / 0.709


def test_area_downscale_truncates_the_size_and_averages() -> None:
    img = np.arange(10 * 10 * 3, dtype=np.float32).reshape(10, 10, 3)
    small = area_downscale(img, 0.55)  # 5.5 → 5
    assert small.shape == (5, 5, 3)
    half = area_downscale(img, 0.5)
    np.testing.assert_allclose(half[0, 0], img[:2, :2].mean(axis=(0, 1)))


def _reference_crop(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """tf.image.crop_and_resize's documented formula, pixel by pixel."""
    h, w, c = image.shape
    y1, x1, y2, x2 = box
    out = np.zeros((size, size, c), np.float32)
    for i in range(size):
        y = y1 * (h - 1) + i * (y2 - y1) * (h - 1) / (size - 1)
        if y < 0 or y > h - 1:
            continue
        t, b = int(np.floor(y)), int(np.ceil(y))
        for j in range(size):
            x = x1 * (w - 1) + j * (x2 - x1) * (w - 1) / (size - 1)
            if x < 0 or x > w - 1:
                continue
            left, r = int(np.floor(x)), int(np.ceil(x))
            top = image[t, left] + (image[t, r] - image[t, left]) * (x - left)
            bottom = image[b, left] + (image[b, r] - image[b, left]) * (x - left)
            out[i, j] = top + (bottom - top) * (y - t)
    return out


def test_crop_and_resize_follows_tensorflows_formula_inside_and_outside_the_image() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(-1, 1, (37, 51, 3)).astype(np.float32)
    boxes = np.array([[0.1, 0.2, 0.5, 0.7], [-0.2, -0.1, 0.4, 0.3], [0.6, 0.5, 1.3, 1.1]])
    got = crop_and_resize(image, boxes, 12)
    assert got.shape == (3, 12, 12, 3) and got.dtype == np.float32
    for k, box in enumerate(boxes):
        np.testing.assert_allclose(got[k], _reference_crop(image, box, 12), atol=1e-5)
    assert (got[1, 0] == 0).all() and (got[2, -1] == 0).all()  # rows outside: zeros


def _package_nms(rows: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """mtcnn 1.0.0's rule with its full matrix: drop a row when any earlier row overlaps it."""
    b = rows[:, 1:5]
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iw = np.maximum(0, np.minimum(b[None, :, 2], b[:, None, 2]) - np.maximum(b[None, :, 0], b[:, None, 0]))
    ih = np.maximum(0, np.minimum(b[None, :, 3], b[:, None, 3]) - np.maximum(b[None, :, 1], b[:, None, 1]))
    inter = iw * ih
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = (area[:, None] + area[None] - inter) if method == "union" \
            else np.minimum(area[:, None], area[None])
        overlap = inter / denom
    drop = (np.triu(overlap > threshold, k=1)).any(axis=0)
    return rows[~drop]


def test_suppression_keeps_the_packages_rule_in_blocks() -> None:
    rng = np.random.default_rng(1)
    n = 1300  # more than two blocks
    xy = rng.uniform(0, 200, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    rows = np.column_stack([np.zeros(n), xy, xy + wh, rng.uniform(0, 1, n)])
    rows[7, 1:5] = rows[3, 1:5]  # a zero-area pair and exact duplicates must not break it
    rows[9, 3:5] = rows[9, 1:3]
    ordered = rows[np.argsort(rows[:, 5])[::-1]]
    for method in ("union", "min"):
        np.testing.assert_array_equal(suppress(rows, 0.5, method), _package_nms(ordered, 0.5, method))
    np.testing.assert_array_equal(suppress(ordered, 0.7, sort=False), _package_nms(ordered, 0.7, "union"))
    assert len(suppress(np.empty((0, 6)), 0.5)) == 0


def test_proposals_map_pnet_cells_to_photo_pixels_best_first() -> None:
    score = np.zeros((1, 4, 5, 2), np.float32)
    score[0, 1, 2, 1] = 0.9
    score[0, 3, 0, 1] = 0.7
    reg = np.zeros((1, 4, 5, 4), np.float32)
    reg[0, 1, 2] = [0.1, 0, 0, -0.1]
    rows = proposals(reg, score, 0.6, 0.5)
    assert rows[:, 5].tolist() == [np.float32(0.9), np.float32(0.7)]
    # cell (y 1, x 2): x 5..16, y 3..14 at this scale, moved by the offsets times 11, then / 0.5
    np.testing.assert_allclose(rows[0, 1:5], np.array([5 + 1.1, 3, 16, 14 - 1.1]) / 0.5)


def test_square_boxes_and_json_rows_as_the_package_returns_them() -> None:
    rows = np.array([[0, 10, 20, 30, 60, 0.95] + [12.4, 25.6, 18, 14, 22,
                                                   30, 31, 40, 50, 49.5]])
    sq = to_square(rows)
    assert sq[0, 3] - sq[0, 1] == sq[0, 4] - sq[0, 2] == 40
    (face,) = as_json(np.array([[0, -3.2, 5, 30.6, 200, 0.95, *rows[0, 6:]]]), 100, 80)
    assert face["box"] == [0, 5, 31, 94]  # clipped to the image, then x, y, w, h rounded
    assert face["confidence"] == 0.95
    assert face["keypoints"]["left_eye"] == [12, 30] and face["keypoints"]["mouth_right"] == [22, 50]


def test_an_interpreter_sized_for_a_far_larger_input_is_let_go(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to `keep` interpreters stay planned; the oldest is re-planned for a new shape unless
    its arena was sized for an input more than REPLAN_MAX_SHRINK times larger."""
    from facefold.vision.mtcnn_lite import LiteNet

    class Interp:
        def resize_tensor_input(self, index: int, shape: tuple[int, ...]) -> None:
            self.shape = shape

        def allocate_tensors(self) -> None:
            pass

    made: list[Interp] = []

    def fresh(self: LiteNet) -> tuple[Interp, int, list[int]]:
        made.append(Interp())
        return made[-1], 0, []

    (tmp_path / "net.tflite").write_bytes(b"model")
    monkeypatch.setattr(LiteNet, "_interpreter", fresh)
    net = LiteNet(tmp_path / "net.tflite", "pnet", keep=2)
    for shape in [(1, 1000, 1000, 3), (1, 10, 10, 3), (1, 12, 12, 3), (1, 14, 14, 3)]:
        net._plan(shape)
    # the 1000 px one was let go for 12 px; the 10 px one was re-planned for 14 px
    assert len(made) == 3 and made[1].shape == (1, 14, 14, 3)
    assert net._plan((1, 12, 12, 3))[0] is made[2]  # still planned: nothing made or re-planned
    assert len(made) == 3
