"""The `facefold` commands: parse the arguments, call the core, print. One module per area:
photos (scan, status, retry, encode, identify), people (persons, name, merge, move, …), model
(models fetch, evaluate, train, reembed), daemon (watch, worker, serve, service install) and
database (migrate-db, similar)."""

from __future__ import annotations

import io
import sys

import typer

from facefold.cli import daemon, database, model, people, photos

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Sort a folder of photos into a folder per person.")
for area in (photos, people, model, daemon, database):
    app.add_typer(area.group)


def main() -> None:
    # a file name that is not UTF-8 prints as its own bytes, as `ls` prints it
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="surrogateescape")
    app()
