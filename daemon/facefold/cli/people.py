"""Commands about people: list, name, merge, move, unassign, new-person, undo, ignore, faces,
recluster, review, sheet. Every change goes to the database first; the folders follow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facefold.cli.common import (
    ConfigOpt,
    JsonOpt,
    UsageError,
    box_text,
    command,
    open_library,
    print_json,
    print_table,
    say,
    warn,
)

group = typer.Typer()


@command(group)
def persons(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List people: id, name, faces, photos, hidden."""
    from facefold.core.reports import persons as list_persons

    rows = list_persons(open_library(config))
    if as_json:
        return print_json(rows)
    print_table(["id", "name", "faces", "photos", "hidden"],
                [(r.id, r.name or "", r.faces, r.photos, "hidden" if r.hidden else "")
                 for r in rows])


@command(group)
def name(person_id: int, new_name: Annotated[str, typer.Argument(metavar="NAME")],
         config: ConfigOpt = None) -> None:
    """Name a person: their folder becomes people/NAME/."""
    from facefold.core.people import name as set_name

    say(f"person {person_id} is now {set_name(open_library(config), person_id, new_name)!r}")


@command(group)
def merge(person_ids: Annotated[list[int], typer.Argument(help="TARGET OTHER…")],
          config: ConfigOpt = None) -> None:
    """Merge people into the first one given (their faces become pinned to it)."""
    from facefold.core.people import merge as merge_persons

    if len(person_ids) < 2:
        raise UsageError("give the person to keep and at least one to merge into it")
    target, *others = person_ids
    moved = merge_persons(open_library(config), target, others)
    say(f"merged {others} into {target}: {moved} faces moved")


@command(group)
def move(face_id: int, person_id: int, config: ConfigOpt = None) -> None:
    """Move one face to a person, by hand: clustering never moves it again."""
    from facefold.core.people import move as move_face

    move_face(open_library(config), face_id, person_id)
    say(f"face {face_id} is now person {person_id} (pinned)")


@command(group)
def unassign(face_id: int, config: ConfigOpt = None) -> None:
    """Take one face out of its person, by hand: clustering leaves it unassigned."""
    from facefold.core.people import unassign as unassign_face

    unassign_face(open_library(config), face_id)
    say(f"face {face_id} is unassigned (pinned)")


@command(group, name="not-a-face")
def not_a_face(face_ids: Annotated[list[int], typer.Argument(help="FACE…")],
               undo: Annotated[bool, typer.Option("--undo", help="they are faces after all")] = False,
               config: ConfigOpt = None) -> None:
    """Say detections are not faces (a poster, a statue, a pattern): for good, no recluster
    brings them back and they leave every folder."""
    from facefold.core.people import not_a_face as mark

    mark(open_library(config), face_ids, undo)
    n = len(face_ids)
    say(f"{n} detection{'s' if n != 1 else ''} "
        + ("count as faces again (of nobody until placed)" if undo else "marked as not a face"))


@command(group)
def new_person(face_ids: Annotated[list[int], typer.Argument(help="FACE…")],
               as_name: Annotated[str | None, typer.Option("--name", help="name it")] = None,
               config: ConfigOpt = None) -> None:
    """Make a new person of some faces (say, unassigned ones), pinned to it."""
    from facefold.core.people import new_person as make_person

    pid = make_person(open_library(config), face_ids, as_name)
    say(f"person {pid} made of faces {face_ids}")


@command(group)
def undo(config: ConfigOpt = None) -> None:
    """Undo the last hand change to people (name, merge, move, unassign, hide, apart, new)."""
    from facefold.core.people import undo as undo_last

    action = undo_last(open_library(config))
    say(f"Undid {action}." if action else "Nothing left to undo.")


@command(group)
def ignore(person_id: int, config: ConfigOpt = None,
           undo: Annotated[bool, typer.Option("--undo", help="show the person again")] = False) -> None:
    """Hide a person (strangers): no folder, and faces that match go to them quietly."""
    from facefold.core.people import ignore as hide

    hide(open_library(config), person_id, hidden=not undo)
    say(f"person {person_id} is {'shown again' if undo else 'ignored'}")


@command(group)
def suggest(config: ConfigOpt = None, as_json: JsonOpt = False,
            limit: Annotated[int, typer.Option(min=1, help="at most this many pairs")] = 50) -> None:
    """People that may be one person, closest first: answer with `merge A B` or `apart A B`."""
    from facefold.core.people import suggestions

    rows = suggestions(open_library(config), limit)
    if as_json:
        return print_json(rows)
    print_table(["a", "b", "distance", "faces", "answer"],
                [(f"{r.a} {r.name_a or ''}".strip(), f"{r.b} {r.name_b or ''}".strip(),
                  f"{r.distance:.3f}", f"{r.faces_a} + {r.faces_b}",
                  f"facefold merge {r.a} {r.b} | facefold apart {r.a} {r.b}") for r in rows])


@command(group)
def apart(person_a: int, person_b: int, config: ConfigOpt = None,
          undo: Annotated[bool, typer.Option("--undo", help="forget that they are apart")] = False,
          ) -> None:
    """Keep two people apart for good: no recluster makes them one, no suggestion offers it."""
    from facefold.core.people import apart as keep_apart

    keep_apart(open_library(config), person_a, person_b, not undo)
    say(f"persons {person_a} and {person_b} are {'no longer kept' if undo else 'kept'} apart")


@command(group)
def faces(person_id: int, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """A person's faces: face id, photo path, box, confidence, pinned."""
    from facefold.core.reports import faces_of

    rows = faces_of(open_library(config), person_id)
    if as_json:
        return print_json([{"id": f.id, "path": f.path, "box": f.box, "confidence": f.confidence,
                            "pinned": f.pinned} for f in rows])
    print_table(["face", "photo", "box (x, y, w, h)", "confidence", "pinned"],
                [(f.id, f.path, box_text(f.box), f"{f.confidence:.3f}", "yes" if f.pinned else "")
                 for f in rows])


@command(group)
def recluster(config: ConfigOpt = None,
              full: Annotated[bool, typer.Option("--full", help="recluster every face")] = False) -> None:
    """Assign waiting faces and cluster the pool, or (--full) recluster every face keeping ids,
    names, hidden people and faces placed by hand."""
    from facefold.core.people import recluster as run_recluster

    rc = run_recluster(open_library(config), full)
    say(f"recluster{' --full' if full else ''}: {rc.persons} people ({rc.new_persons} new), "
        f"{rc.assigned_faces} faces assigned, {rc.unassigned_faces} unassigned")


@command(group)
def review(config: ConfigOpt = None,
           out_dir: Annotated[Path | None, typer.Option("--out", help="folder for index.html")] = None,
           open_page: Annotated[bool, typer.Option("--open", help="open it in a browser")] = False) -> None:
    """Write a static HTML page of every person's faces (no server needed) and print its path."""
    from facefold.core.reports import review as write_review

    res = write_review(open_library(config), out_dir)
    print(res.path)
    warn(f"review: {res.persons} people, {res.faces_shown} faces, "
         f"{res.unassigned_shown} unassigned shown")
    if open_page:
        import webbrowser

        webbrowser.open(res.path.as_uri())


@command(group)
def sheet(person_id: int, out: Annotated[Path | None, typer.Argument(help="PNG to write")] = None,
          config: ConfigOpt = None) -> None:
    """Write a contact sheet PNG of a person's faces and print its path."""
    from facefold.core.reports import sheet as write_sheet

    path, n = write_sheet(open_library(config), person_id, out)
    print(path)
    warn(f"sheet: {n} faces of person {person_id}")
