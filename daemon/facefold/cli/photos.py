"""Commands about photos: scan, status, retry, encode, identify."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from facefold.cli.common import (
    EXIT_FAILED,
    ConfigOpt,
    JsonOpt,
    UsageError,
    box_text,
    command,
    err,
    open_library,
    print_json,
    print_table,
    say,
    warn,
)

group = typer.Typer()


@command(group)
def scan(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders (default: the inbox)")] = None,
    timings: Annotated[bool, typer.Option("--timings", help="print the seconds spent per stage")] = False,
    config: ConfigOpt = None,
) -> None:
    """Find, embed and cluster the faces of every new or changed photo, then sync the people folders."""
    from facefold.core.scan import scan as run_scan

    lib = open_library(config, role="watch")  # it owns the library while it runs, as watch does
    missing = [p for p in paths or [] if not p.exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder")
    lib.check_writable()
    try:
        lib.settings.inbox.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a share not there: the scan says the inbox is unavailable
    lib.models.load()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task("scanning", total=None)
        result = run_scan(lib, paths or [], lambda n: progress.update(task, total=n),
                          lambda n: progress.update(task, advance=n))
    for path, error in result.failures:
        warn(f"failed: {path}: {error}")
    say(result.summary())
    if timings:
        say(f"stages: {result.stages.summary()}")
    if result.away:
        warn(f"inbox unavailable: {result.away}; nothing in it was forgotten")
        raise typer.Exit(EXIT_FAILED)


@command(group)
def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Photos by status, faces, people, the last batch and the last errors."""
    from dataclasses import asdict

    from facefold.core.library import runtimes
    from facefold.core.reports import status as get_status

    lib = open_library(config)
    st = get_status(lib)
    rt = runtimes(lib.settings)
    if as_json:
        return print_json({**asdict(st), "detection_runtime": rt.detection,
                           "embedding_runtime": rt.embedding, "gpus": list(rt.gpus)})
    if st.inbox_away:
        say(f"inbox unavailable since {st.inbox_away.since}: {st.inbox_away.reason}; "
            "nothing in it is forgotten while it is away")
    counts = ", ".join(f"{k} {v}" for k, v in st.images_by_status.items())
    say(f"photos: {counts}" + (f" ({st.retrying} waiting to retry)" if st.retrying else ""))
    if q := st.oldest_queued:
        say(f"oldest queued: {q.path} (since {q.queued_at})")
    if b := st.last_batch:
        say(f"last batch: {b['finished_at']}: {b['photos']} photos, {b['faces']} faces, "
            f"{b['new_persons']} new people, {b['failed']} failed, {b['seconds']}s")
    say(f"faces: {st.faces} ({st.assigned_faces} in a person), people: {st.persons}")
    say(f"models: {rt.describe()}")
    if st.failures:
        say("last errors:")
        for f in st.failures:
            say(f"  {f.path}: {f.error}")


@command(group)
def retry(paths: Annotated[list[Path] | None, typer.Argument(help="photos (default: every failed one)")] = None,
          config: ConfigOpt = None) -> None:
    """Put failed photos back on the queue (the daemon or the next scan processes them)."""
    from facefold.core.pipeline import retry_failed

    n = retry_failed(open_library(config), [p.resolve() for p in paths or []])
    say(f"retry: {n} photos queued again")


@command(group)
def encode(items: Annotated[list[Path], typer.Argument(help="IMG … OUT.pkl")],
           config: ConfigOpt = None) -> None:
    """Write a pickle {paths, boxes, embeddings (N×128)} of every face in the given images."""
    from facefold.core.recognise import encode as run_encode

    if len(items) < 2:
        raise UsageError("give one or more images and then the output .pkl")
    *images, target = items
    res = run_encode(open_library(config), images, target)
    for path, error in res.failures:
        warn(f"failed: {path}: {error}")
    say(f"encode: {res.images} images, {res.faces} faces, {len(res.failures)} failed → {res.out}")


@command(group)
def identify(photos: Annotated[list[Path], typer.Argument(help="photos to look at")],
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """For every face in the photos: its box, the named person it is (or unknown), the distance."""
    from facefold.core.recognise import identify as run_identify

    res = run_identify(open_library(config), photos)
    for path, error in res.failures:
        warn(f"failed: {path}: {error}")
    if as_json:
        print_json(res.matches)
    else:
        print_table(["photo", "box (x, y, w, h)", "who", "distance"],
                    [(m.photo, box_text(m.box), m.name,
                      "" if m.distance is None else f"{m.distance:.3f}") for m in res.matches])
    if res.failures and not res.matches:
        raise typer.Exit(EXIT_FAILED)
