"""Column types that differ by backend, behind one Python value."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import LargeBinary
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
