"""Commands about the database itself: migrate-db (move the library to another database) and
similar (the faces nearest to one, in SQL where the database can)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from facefold.cli.common import (
    EXIT_FAILED,
    ConfigOpt,
    JsonOpt,
    command,
    err,
    open_library,
    print_json,
    print_table,
    say,
)

group = typer.Typer()


@command(group, "migrate-db")
def migrate_db(
    target: Annotated[str, typer.Argument(metavar="TARGET_URL", help="an empty database, e.g. "
                                          "postgresql+psycopg://user:pass@host/facefold")],
    config: ConfigOpt = None,
) -> None:
    """Copy the library (photos, faces, people, names, pins, kept-apart pairs, undo history)
    into an empty database and check the copy; the current database is only read."""
    from facefold.core.transfer import TransferError, copy_library, total_rows

    lib = open_library(config)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("copying rows", total=total_rows(lib))
        try:
            res = copy_library(lib, target, lambda n: progress.update(task, advance=n))
        except TransferError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(EXIT_FAILED) from None
    rows = ", ".join(f"{n} {table}" for table, n in res.counts.items() if n)
    say(f"copied {rows} in {res.seconds:.1f}s; counts and the face vectors' checksum "
        f"({res.checksum[:16]}…) match\nnext: stop facefold, set `database: {target}` in "
        "the config, start it again (the old database is left as it was)")


@command(group)
def similar(
    face_id: Annotated[int, typer.Argument(help="a face id (facefold faces PERSON_ID)")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    sql: Annotated[bool, typer.Option("--sql", help="print the query for your own psql or "
                                      "sqlite3 session instead")] = False,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The faces that look most like one face, nearest first (L2 distance of the unit vectors:
    0 the same, about 1.1 or more usually another person)."""
    from facefold.core.browse import similar as nearest
    from facefold.core.browse import similar_sql

    lib = open_library(config)
    if sql:
        say(similar_sql(lib, face_id, limit))
        return
    rows = nearest(lib, face_id, limit)
    if as_json:
        print_json([{"face_id": f.id, "person_id": f.person_id, "distance": round(d, 4),
                     "photo": f.path} for f, d in rows])
        return
    print_table(["face", "person", "distance", "photo"],
                [[str(f.id), "-" if f.person_id is None else str(f.person_id), f"{d:.3f}", f.path]
                 for f, d in rows])
