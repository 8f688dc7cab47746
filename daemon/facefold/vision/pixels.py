"""A face's pixels in small: the aligned crop as a 32 x 32 grayscale signature, stored with the
face, so that near-identical faces (a burst, a re-encoded or mirrored copy of a photo) are known
by their pixels and not only by FaceNet, which puts a face 0.16-0.5 from its own mirror image."""

from __future__ import annotations

import cv2
import numpy as np

PIXEL_SIDE = 32  # signature side in pixels: 1 KB a face
PIXEL_BYTES = PIXEL_SIDE * PIXEL_SIDE


PIXEL_CENTRE = 0.5  # share of the crop's side kept, about its centre: eyes, nose, mouth; not the room


def pixel_signature(crop: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB aligned crop → PIXEL_BYTES bytes of grayscale, area-averaged, of its
    central part (a shared background makes different people's crops alike)."""
    h, w = crop.shape[:2]
    dy, dx = round(h * (1 - PIXEL_CENTRE) / 2), round(w * (1 - PIXEL_CENTRE) / 2)
    gray = cv2.cvtColor(np.ascontiguousarray(crop[dy:h - dy, dx:w - dx]), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (PIXEL_SIDE, PIXEL_SIDE), interpolation=cv2.INTER_AREA)
    return small.astype(np.uint8).tobytes()


def signatures(rows: list[bytes | None]) -> np.ndarray:
    """Stored signatures → (N, PIXEL_BYTES) uint8; zeros where a face has none (stored before
    signatures were): a zero signature is like no other."""
    out = np.zeros((len(rows), PIXEL_BYTES), np.uint8)
    for i, r in enumerate(rows):
        if r is not None and len(r) == PIXEL_BYTES:
            out[i] = np.frombuffer(r, np.uint8)
    return out


def _unit(sig: np.ndarray) -> np.ndarray:
    x = sig.astype(np.float32)
    x -= x.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norm > 1e-6, x / np.maximum(norm, 1e-6), 0.0)


def _mirrored(sig: np.ndarray) -> np.ndarray:
    return sig.reshape(-1, PIXEL_SIDE, PIXEL_SIDE)[:, :, ::-1].reshape(len(sig), -1)


def pixel_similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`pixel_similarity` of every row of `a` with every row of `b`: (len(a), len(b))."""
    ua = _unit(a)
    return np.maximum(ua @ _unit(b).T, ua @ _unit(_mirrored(b)).T)


def pixel_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise similarity of two (N, PIXEL_BYTES) uint8 arrays: the correlation of their
    brightness patterns, or of one with the other's mirror image if higher; -1..1, 0 where
    either has no signature (or a flat one)."""
    ua, ub = _unit(a), _unit(b)
    mirror = _unit(_mirrored(b))
    return np.maximum((ua * ub).sum(axis=1), (ua * mirror).sum(axis=1))


# A face's scene: its whole photo in small, and where in the photo the face is. Copies of one
# photo (resized, re-encoded, a little shifted or brighter) have the same scene, even where the
# face is too small for its own pixels or FaceNet to match (a 25 px face in a large photo).
PHOTO_SIDE = 16  # the photo's signature side in pixels: 256 bytes a photo
PHOTO_BYTES = PHOTO_SIDE * PHOTO_SIDE
PLACE_SCALE = 60000  # a place's shares of the photo (0..1) stored as uint16 steps
SCENE_BYTES = PHOTO_BYTES + 3 * 2  # photo signature, then the face's centre x, y and size


def photo_signature(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 RGB photo → PHOTO_BYTES bytes of grayscale, area-averaged."""
    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (PHOTO_SIDE, PHOTO_SIDE), interpolation=cv2.INTER_AREA)
    return small.astype(np.uint8).tobytes()


def scene(photo: bytes | None, box: tuple[float, float, float, float],
          size: tuple[int | None, int | None]) -> np.ndarray:
    """A face's scene row (SCENE_BYTES uint8) from its photo's signature, its box (x, y, w, h
    in photo pixels) and the photo's (width, height); zeros (like no other) when either is
    unknown (photos stored before signatures were)."""
    out = np.zeros(SCENE_BYTES, np.uint8)
    w, h = size
    if photo is None or len(photo) != PHOTO_BYTES or not w or not h:
        return out
    out[:PHOTO_BYTES] = np.frombuffer(photo, np.uint8)
    place = ((box[0] + box[2] / 2) / w, (box[1] + box[3] / 2) / h,
             np.sqrt(max(box[2] * box[3], 0.0) / (w * h)))
    steps = np.clip(np.round(np.array(place) * PLACE_SCALE), 0, 65535).astype("<u2")
    out[PHOTO_BYTES:] = np.frombuffer(steps.tobytes(), np.uint8)
    return out


def places(scenes: np.ndarray) -> np.ndarray:
    """(N, 3) centre x, y and size, as shares of the photo, of scene rows."""
    raw = np.ascontiguousarray(scenes[:, PHOTO_BYTES:SCENE_BYTES])
    return raw.view("<u2").astype(np.float32) / PLACE_SCALE


def same_scene(a: np.ndarray, b: np.ndarray, min_similarity: float,
               place: float) -> np.ndarray:
    """Row-wise: are faces `a[i]` and `b[i]` (scene rows) one face in copies of one photo, or
    in one and its mirror image? Their centres and sizes differ by less than `place` times the
    smaller face's size, and their photos' signatures correlate at least `min_similarity` once
    `b`'s is moved so that the faces coincide (a copy shifted by a few pixels matches again;
    photos of one session, where the person moved against the room, do not). False where
    either has no scene."""
    return _same_scene(a, b, min_similarity, place) | _same_scene(a, _mirror_scene(b),
                                                                   min_similarity, place)


def _mirror_scene(rows: np.ndarray) -> np.ndarray:
    """Scene rows of the photos mirrored left to right: the signature flipped, x = 1 - x."""
    out = rows.copy()
    out[:, :PHOTO_BYTES] = rows[:, :PHOTO_BYTES].reshape(-1, PHOTO_SIDE, PHOTO_SIDE)[
        :, :, ::-1].reshape(len(rows), -1)
    raw = np.ascontiguousarray(rows[:, PHOTO_BYTES:SCENE_BYTES]).view("<u2").copy()
    known = raw[:, 2] > 0
    raw[known, 0] = PLACE_SCALE - raw[known, 0]
    out[:, PHOTO_BYTES:SCENE_BYTES] = raw.view(np.uint8)
    return out


def _same_scene(a: np.ndarray, b: np.ndarray, min_similarity: float,
                place: float) -> np.ndarray:
    pa, pb = places(a), places(b)
    tol = place * np.minimum(pa[:, 2], pb[:, 2])
    out = ((tol > 0) & (np.hypot(pa[:, 0] - pb[:, 0], pa[:, 1] - pb[:, 1]) < tol)
           & (np.abs(pa[:, 2] - pb[:, 2]) < tol))
    k = np.flatnonzero(out)
    if len(k):
        moved = _moved(b[k, :PHOTO_BYTES], (pb[k, 0] - pa[k, 0]) * PHOTO_SIDE,
                       (pb[k, 1] - pa[k, 1]) * PHOTO_SIDE)
        out[k] = (_unit(a[k, :PHOTO_BYTES]) * _unit(moved)).sum(axis=1) >= min_similarity
    return out


def same_scene_matrix(a: np.ndarray, b: np.ndarray, min_similarity: float,
                      place: float) -> np.ndarray:
    """`same_scene` of every row of `a` with every row of `b`: (len(a), len(b)) bool."""
    rows, cols = np.divmod(np.arange(len(a) * len(b)), max(len(b), 1))
    return same_scene(a[rows], b[cols], min_similarity, place).reshape(len(a), len(b))


def _moved(photos: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """(K, PHOTO_BYTES) photo signatures, each read at (x + dx, y + dy) cells (bilinear, edges
    repeated): moved by (-dx, -dy)."""
    from scipy.ndimage import map_coordinates

    side = PHOTO_SIDE
    img = photos.reshape(-1, side, side).astype(np.float32)
    k, y, x = np.meshgrid(np.arange(len(img)), np.arange(side), np.arange(side), indexing="ij")
    return map_coordinates(img, [k, y + dy[:, None, None], x + dx[:, None, None]], order=1,
                           mode="nearest").reshape(len(img), -1)
