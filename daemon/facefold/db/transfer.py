"""Copying a whole library from one database to another (SQLite → PostgreSQL, or any pair):
every table of the schema, ids kept, in chunks; then the counts and a checksum of the face
vectors, read back from each side, to prove the copy whole.

Functions take the caller's Connections; the caller owns the transactions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import Connection, Table, func, insert, inspect, select, text

from facefold.db.models import Base, Face

COPY_CHUNK_ROWS = 2000  # rows read and written per statement: bounded memory at any size


def tables() -> list[Table]:
    """facefold's tables, each after the tables it refers to."""
    return list(Base.metadata.sorted_tables)


def schema_tables(conn: Connection) -> set[str]:
    """The tables a database holds (facefold's or anyone's)."""
    return set(inspect(conn).get_table_names())


def copy_table(src: Connection, dst: Connection, table: Table,
               on_rows: Callable[[int], None] = lambda n: None) -> int:
    """Copy every row of `table` (ids kept), in primary-key order; return how many."""
    order = list(table.primary_key.columns)
    done = 0
    rows = src.execute(select(table).order_by(*order)).mappings()
    while chunk := rows.fetchmany(COPY_CHUNK_ROWS):
        dst.execute(insert(table), [dict(r) for r in chunk])
        done += len(chunk)
        on_rows(len(chunk))
    return done


def reset_sequences(dst: Connection) -> None:
    """PostgreSQL: each serial id continues after the highest copied one (rows were inserted
    with their ids, which does not move the sequences)."""
    if dst.dialect.name != "postgresql":
        return
    for table in tables():
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and pk[0].autoincrement is not False and pk[0].type.python_type is int:
            dst.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"))


def row_counts(conn: Connection) -> dict[str, int]:
    return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in tables()}


def embeddings_checksum(conn: Connection) -> str:
    """sha256 over every face's id and vector bytes, in id order."""
    h = hashlib.sha256()
    rows = conn.execute(select(Face.id, Face.embedding).order_by(Face.id))
    while chunk := rows.fetchmany(COPY_CHUNK_ROWS):
        for fid, vec in chunk:
            h.update(int(fid).to_bytes(8, "little"))
            h.update(vec)
    return h.hexdigest()
