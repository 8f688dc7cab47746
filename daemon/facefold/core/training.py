"""Your own model: labelled data sets (a folder per person), measuring the embedding and the
clustering on them (`evaluate`), and fine-tuning FaceNet on them (`train`)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facefold.core.clusterer import cluster_params
from facefold.core.library import Library, runtimes
from facefold.core.photo import faces_in_photo, largest
from facefold.db import faces as face_store
from facefold.db import people as people_store
from facefold.evaluate import Evaluation, Membership, evaluate, photo_membership
from facefold.files import ReadError, iter_photos, read_photo
from facefold.train import TrainOptions, TrainResult, train
from facefold.vision.decode import DecodeError
from facefold.vision.embed import Embedder
from facefold.vision.pixels import SCENE_BYTES, photo_signature, pixel_signature, scene, signatures
from facefold.vision.quality import face_quality
from facefold.vision.shapes import CROP_SIZE
from facefold.vision.weights import sha256_of

CACHE_VERSION = 4  # bump when what a cached crop means changes (3: each with its quality;
# 4: and its scene)
QUALITY_KEY = ".quality"  # cache key suffix: a face's quality beside its crop
SCENE_KEY = ".scene"  # ... and its scene (vision.pixels: its photo in small, where it is)


LABELS_FILE = "labels.json"  # in a data set's folder: photos that show more than one person
NO_FACE = "no face found"  # why a photo of a data set was skipped, when it was


class DatasetError(ValueError):
    """The folder is not a usable labelled data set; the message says why."""


def labelled_photos(root: Path, extensions: tuple[str, ...]) -> dict[str, set[str]]:
    """Who each photo of a labelled folder shows: relative path → identities. A photo in a
    person's sub-folder shows that person; `labels.json` ({"group/1.jpg": ["ana", "ben"]}) names
    the people of photos that show several (in any folder). Raise DatasetError."""
    truth: dict[str, set[str]] = {}
    for p in iter_photos([root], extensions):
        rel = p.relative_to(root)
        if len(rel.parts) > 1:
            truth[rel.as_posix()] = {rel.parts[0]}
    labels = root / LABELS_FILE
    if labels.exists():
        try:
            extra = json.loads(labels.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{labels}: {exc}") from None
        if not isinstance(extra, dict):
            raise DatasetError(f"{labels}: must map photo paths to lists of names")
        for rel_path, who in extra.items():
            truth[str(rel_path)] = {str(w) for w in who}
    return truth


@dataclass(frozen=True)
class Dataset:
    paths: list[str]
    labels: np.ndarray  # person index per photo with a face
    names: list[str]  # person folder names
    crops: np.ndarray  # (N, CROP_SIZE, CROP_SIZE, 3) uint8, the largest face of each photo
    skipped: list[tuple[str, str]]  # photos without a usable face, and why
    quality: np.ndarray  # (N,) each face's vision.quality score, as the library stores it
    scenes: np.ndarray  # (N, SCENE_BYTES) each face's scene, as the library has it


def _cache_file(lib: Library) -> Path:
    p = lib.models.finder.params
    key = f"{CACHE_VERSION}:{lib.settings.embedding.margin}:{p.max_side}:{p.min_confidence}"
    return lib.settings.state_dir / "datasets" / f"crops-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"


def load_dataset(lib: Library, root: Path) -> Dataset:
    """Given a folder with one sub-folder of photos per person, return the largest face of every
    photo, aligned as the pipeline aligns. Crops are cached in the state dir by photo content,
    so only new photos are detected on a second run. Raise DatasetError."""
    people = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(people) < 2:
        raise DatasetError(f"{root}: needs a folder per person, at least two of them")
    cache_file = _cache_file(lib)
    cache_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    cache: dict[str, np.ndarray] = {}
    if cache_file.exists():
        with np.load(cache_file, allow_pickle=False) as z:
            cache = {k: z[k] for k in z.files}
    paths, labels, crops, skipped, quality, scenes = [], [], [], [], [], []
    dirty = False
    for li, person in enumerate(people):
        for p in iter_photos([person], lib.settings.decode.extensions):
            try:
                photo = read_photo(p, lib.settings.decode.max_file_bytes, follow_symlinks=True)
                crop = cache.get(photo.sha256)
                if crop is None:
                    decoded, found = faces_in_photo(photo, lib.settings, lib.models.finder)
                    face = largest(found)
                    crop = face.crop if face is not None else np.zeros((0,), np.uint8)
                    cache[photo.sha256] = crop
                    if face is not None:
                        d = face.detection
                        cache[photo.sha256 + QUALITY_KEY] = np.array([face_quality(
                            d.box, d.confidence, d.landmarks, face.crop).score])
                        cache[photo.sha256 + SCENE_KEY] = scene(
                            photo_signature(decoded.pixels), d.box, decoded.full_size)
                    dirty = True
            except (ReadError, DecodeError) as exc:
                skipped.append((str(p), str(exc)))
                continue
            if crop.size == 0:
                skipped.append((str(p), NO_FACE))
                continue
            paths.append(str(p))
            labels.append(li)
            crops.append(crop)
            quality.append(float(cache.get(photo.sha256 + QUALITY_KEY, np.ones(1))[0]))
            scenes.append(cache.get(photo.sha256 + SCENE_KEY, np.zeros(SCENE_BYTES, np.uint8)))
    if dirty:
        tmp = cache_file.with_name(cache_file.stem + ".tmp.npz")
        np.savez_compressed(tmp, **cache)  # type: ignore[arg-type]  # numpy's stub misreads **kw
        tmp.replace(cache_file)
    return Dataset(paths, np.array(labels, np.int64), [d.name for d in people],
                   np.stack(crops) if crops else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8),
                   skipped, np.array(quality, np.float32),
                   np.stack(scenes) if scenes else np.zeros((0, SCENE_BYTES), np.uint8))


def library_membership(lib: Library, root: Path) -> Membership:
    """How well the library's folders match a labelled folder that was copied into its inbox:
    `evaluate.photo_membership` over every face the library holds (hidden persons have no
    folder)."""
    truth = labelled_photos(root, lib.settings.decode.extensions)
    with lib.session() as s:
        faces = face_store.photo_faces(s)
        hidden = {p.id for p in people_store.person_summaries(s) if p.hidden}
    inbox = lib.settings.inbox
    return photo_membership(
        [(Path(path).relative_to(inbox).as_posix(),
          None if pid is None or pid in hidden else f"person {pid}", area)
         for path, pid, area in faces], truth)[0]


def evaluate_weights(lib: Library, root: Path, weights: list[Path | None]) -> list[Evaluation]:
    """Measure each weights file (None: the configured weights) on the data set: verification
    accuracy, its threshold, and the configured clustering's scores."""
    data = load_dataset(lib, root)
    runs = []
    for w in weights:
        e = lib.settings.embedding
        emb = lib.models.embedder if w is None else Embedder(
            w, e.batch_size, runtimes(lib.settings).embedding, lib.settings.models_dir)
        vectors = emb.embed(data.crops)
        runs.append(evaluate(vectors, data.labels, cluster_params(lib.settings), emb.weights_id,
                             len(data.skipped), data.names,
                             quality=data.quality,
                             no_face=[p for p, why in data.skipped if why == NO_FACE],
                             pixels=signatures([pixel_signature(c) for c in data.crops]),
                             scenes=data.scenes))
    return runs


def fine_tune(lib: Library, root: Path, options: TrainOptions,
              on_step: Callable[[int, int, float, float], None] | None = None) -> TrainResult:
    """Fine-tune FaceNet on the data set; save the best epoch under state/models/ with its
    metadata. Raise DatasetError (or ValueError when the set is too small to train on)."""
    embedder = lib.models.embedder
    if not isinstance(embedder, Embedder):
        raise TypeError("training needs the real FaceNet embedder")
    if embedder.runtime != "tensorflow":  # it changes the Keras network: measure through it
        embedder = Embedder(embedder.weights_file, embedder.batch_size)
    data = load_dataset(lib, root)
    settings = lib.settings
    out = settings.state_dir / "models" / f"facenet-finetuned-{time.strftime('%Y%m%d-%H%M%S')}.h5"
    meta: dict[str, object] = {
        "base_weights": str(settings.weights_file()),
        "base_weights_sha256": sha256_of(settings.weights_file()),
        "dataset": str(root.resolve()), "dataset_photos": len(data.paths),
        "dataset_people": len(data.names), "skipped": len(data.skipped)}
    return train(embedder, data.crops, data.labels, options, out, meta, on_step)
