"""Column types that differ by backend, behind one Python value."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import LargeBinary, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from facefold.vision.shapes import EMBEDDING_DIM

EMBEDDING_DTYPE = np.dtype("<f4")  # little-endian float32, EMBEDDING_DIM of them: 512 bytes a face


class Embedding(TypeDecorator[bytes]):
    """A face vector, always `bytes` in Python (EMBEDDING_DIM little-endian float32). Stored as
    a BLOB of those bytes on SQLite, and as pgvector's `vector(EMBEDDING_DIM)` on PostgreSQL so
    that SQL can index it (HNSW) and order by distance (`<->`)."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from pgvector.sqlalchemy import VECTOR

            return dialect.type_descriptor(VECTOR(EMBEDDING_DIM))
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        return np.frombuffer(value, dtype=EMBEDDING_DTYPE)

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return np.asarray(value, dtype=EMBEDDING_DTYPE).tobytes()


# A file name on Linux is bytes; Python reads one that is not UTF-8 with each stray byte as a
# lone surrogate (U+DC80-U+DCFF, `surrogateescape`), which no database's text can hold. Stored,
# each such byte becomes a character of a private-use block instead (U+F780-U+F7FF), and the
# way back undoes it: any name round-trips, and names that are UTF-8 are stored as they are.
_SURROGATES = {c: c - 0xDC00 + 0xF700 for c in range(0xDC80, 0xDD00)}
_PRIVATE = {v: k for k, v in _SURROGATES.items()}


def path_to_text(path: str) -> str:
    """A path as Python reads it from the file system → text any database stores."""
    return path.translate(_SURROGATES) if not path.isascii() else path


def text_to_path(text: str) -> str:
    """Stored text → the path as the file system knows it (`path_to_text` undone)."""
    return text.translate(_PRIVATE) if not text.isascii() else text


class FsPath(TypeDecorator[str]):
    """A file system path: text in the database (`path_to_text`), the path itself in Python."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else path_to_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else text_to_path(value)
