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
