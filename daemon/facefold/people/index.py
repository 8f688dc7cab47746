"""The faces the assigner compares against, as one in-memory matrix kept in step with the store.

Pure numpy, no database: the service loads it once, then adds and removes rows as batches are
stored, so assigning a new face costs one matrix product, never a query per face. It holds what
the rule needs of every face (its vector, person, photo, quality, pin), not its signatures: those
are read from the store for the few faces that may be copies.
"""

from __future__ import annotations

import numpy as np

from facefold.vision.shapes import EMBEDDING_DIM

UNASSIGNED = -1
COLUMNS = ("vectors", "face_ids", "persons", "photos", "pinned", "quality")


class FaceIndex:
    def __init__(self, dim: int = EMBEDDING_DIM, capacity: int = 1024) -> None:
        self.dim = dim
        self.n = 0
        self.vectors = np.zeros((capacity, dim), np.float32)
        self.face_ids = np.zeros(capacity, np.int64)
        self.persons = np.zeros(capacity, np.int64)
        self.photos = np.zeros(capacity, np.int64)
        self.pinned = np.zeros(capacity, bool)
        self.quality = np.ones(capacity, np.float32)
        self._row: dict[int, int] = {}

    def __len__(self) -> int:
        return self.n

    def _grow(self, need: int) -> None:
        cap = len(self.face_ids)
        if need <= cap:
            return
        new = max(need, cap * 2)
        for name in COLUMNS:
            old = getattr(self, name)
            arr = np.zeros((new, *old.shape[1:]), old.dtype)
            arr[: self.n] = old[: self.n]
            setattr(self, name, arr)

    def add(self, face_ids: np.ndarray, vectors: np.ndarray, persons: np.ndarray,
            photos: np.ndarray, pinned: np.ndarray | None = None,
            quality: np.ndarray | None = None) -> None:
        """Add rows (a face already present is replaced); no `quality`: all good."""
        self.remove([int(f) for f in face_ids if int(f) in self._row])
        m = len(face_ids)
        self._grow(self.n + m)
        sl = slice(self.n, self.n + m)
        self.vectors[sl] = vectors
        self.face_ids[sl] = face_ids
        self.persons[sl] = persons
        self.photos[sl] = photos
        self.pinned[sl] = False if pinned is None else pinned
        self.quality[sl] = 1.0 if quality is None else quality
        for i, f in enumerate(face_ids):
            self._row[int(f)] = self.n + i
        self.n += m

    def rows(self, face_ids: list[int]) -> np.ndarray:
        """The rows of the faces given that the index holds."""
        return np.array([self._row[int(f)] for f in face_ids if int(f) in self._row], np.int64)

    def remove(self, face_ids: list[int]) -> None:
        """Drop rows by face id (unknown ids are ignored); the last row fills each hole."""
        for f in face_ids:
            r = self._row.pop(int(f), None)
            if r is None:
                continue
            last = self.n - 1
            if r != last:
                for name in COLUMNS:
                    arr = getattr(self, name)
                    arr[r] = arr[last]
                self._row[int(self.face_ids[r])] = r
            self.n -= 1

    def set_persons(self, mapping: dict[int, int | None]) -> None:
        for f, p in mapping.items():
            r = self._row.get(int(f))
            if r is not None:
                self.persons[r] = UNASSIGNED if p is None else p

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(face ids, vectors, persons, photos) of all rows, without copying."""
        n = self.n
        return self.face_ids[:n], self.vectors[:n], self.persons[:n], self.photos[:n]
