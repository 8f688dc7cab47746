"""Fine-tuning FaceNet on a user's own people: triplet loss with online semi-hard mining.

Batches are P people × K photos; inside each batch every anchor-positive pair takes the closest
negative that is still farther than the positive (semi-hard, as in the FaceNet paper), or the
farthest negative when none is. Batch norm stays in inference mode (tiny batches would wreck its
statistics); the first `frozen` layers do not train. The best epoch by validation d′ (how far apart
same-person and different-person distances are, in pooled standard deviations) is saved
as an h5 file with the same layout as `facenet_keras.h5`, so the same loader reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facefold.evaluate import pair_distances, verification
from facefold.vision.embed import Embedder, standardise


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 10
    batch_size: int = 16  # faces per step: P people × K photos
    photos_per_person: int = 4  # K
    learning_rate: float = 1e-5
    frozen: int = 250  # the first layers of the network stay as they are (the original froze 250)
    val_split: float = 0.2  # share of each person's photos kept for validation
    seed: int = 0
    margin: float = 0.2  # triplet margin on squared distances of unit vectors
    patience: int = 3  # epochs without a better validation d′ before stopping
    steps_per_epoch: int = 0  # 0: about one pass over the training photos


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    active: float  # fraction of triplets with a positive loss
    val_dprime: float
    val_auc: float
    val_accuracy: float
    seconds: float


def split_by_person(labels: np.ndarray, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation photos: each person with ≥ 2 photos gives about
    `val_split` of them (at least one) to validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for lab in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        n_val = int(round(len(idx) * val_split)) if len(idx) >= 2 and val_split > 0 else 0
        n_val = min(max(n_val, 1 if val_split > 0 and len(idx) >= 3 else 0), len(idx) - 2)
        val += idx[: max(n_val, 0)].tolist()
        train += idx[max(n_val, 0):].tolist()
    return np.array(sorted(train), np.int64), np.array(sorted(val), np.int64)


def pk_batches(labels: np.ndarray, p: int, k: int, steps: int,
               rng: np.random.Generator) -> list[np.ndarray]:
    """`steps` batches of P people × K photos (photos repeat when a person has fewer than K)."""
    people = [lab for lab in np.unique(labels) if (labels == lab).sum() >= 2]
    if len(people) < 2:
        raise ValueError("training needs at least two people with two photos each")
    p = min(p, len(people))
    out = []
    for _ in range(steps):
        chosen = rng.choice(people, p, replace=False)
        batch = []
        for lab in chosen:
            idx = np.flatnonzero(labels == lab)
            batch += rng.choice(idx, k, replace=len(idx) < k).tolist()
        out.append(np.array(batch, np.int64))
    return out


def augment(crops: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Identity-keeping changes: mirror, a small crop and shift, brightness and contrast."""
    out = np.empty_like(crops)
    size = crops.shape[1]
    for i, c in enumerate(crops):
        img = c[:, ::-1] if rng.random() < 0.5 else c
        s = int(size * rng.uniform(0.88, 1.0))
        y, x = rng.integers(0, size - s + 1, 2)
        img = cv2.resize(np.ascontiguousarray(img[y:y + s, x:x + s]), (size, size),
                         interpolation=cv2.INTER_LINEAR)
        alpha, beta = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
        out[i] = np.clip(img.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)
    return out


def semihard_triplet_loss(emb: Any, labels: Any, margin: float) -> tuple[Any, Any]:
    """Mean triplet loss over all anchor-positive pairs of a batch, and the fraction active.

    `emb` are unit vectors (tensors); distances are squared Euclidean."""
    from facefold.vision.runtime import import_tensorflow

    tf = import_tensorflow()

    d = tf.maximum(2.0 - 2.0 * tf.matmul(emb, emb, transpose_b=True), 0.0)
    same = tf.equal(labels[:, None], labels[None, :])
    n = tf.shape(emb)[0]
    pos_mask = tf.logical_and(same, tf.logical_not(tf.eye(n, dtype=tf.bool)))
    neg_mask = tf.logical_not(same)
    # for pair (a, p): negatives n with d[a, n] > d[a, p]
    d_ap = d[:, :, None]  # a, p, ·
    d_an = d[:, None, :]  # a, ·, n
    harder = tf.logical_and(neg_mask[:, None, :], d_an > d_ap)
    big = tf.reduce_max(d) + 1.0
    semi = tf.reduce_min(tf.where(harder, d_an, big), axis=2)  # closest farther negative
    far = tf.reduce_max(tf.where(neg_mask[:, None, :], d_an, -1.0), axis=2)
    has_semi = tf.reduce_any(harder, axis=2)
    neg = tf.where(has_semi, semi, far)
    loss = tf.maximum(d[:, :] - neg + margin, 0.0)
    mask = tf.cast(pos_mask, tf.float32)
    count = tf.maximum(tf.reduce_sum(mask), 1.0)
    mean = tf.reduce_sum(loss * mask) / count
    active = tf.reduce_sum(tf.cast(loss > 0, tf.float32) * mask) / count
    return mean, active


def roc_auc(dist: np.ndarray, same: np.ndarray) -> float:
    """Probability that a same-person pair is closer than a different-person pair."""
    pos, neg = dist[same], dist[~same]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]), kind="stable"), kind="stable") + 1
    return float(1.0 - (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def dprime(dist: np.ndarray, same: np.ndarray) -> float:
    """(mean different − mean same distance) / pooled std: keeps rising after AUC saturates."""
    pos, neg = dist[same], dist[~same]
    if len(pos) < 2 or len(neg) < 2:
        return float("nan")
    return float((neg.mean() - pos.mean()) / np.sqrt((pos.var() + neg.var()) / 2 + 1e-12))


def val_metrics(embedder: Embedder, crops: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    v = embedder.embed(crops)
    dist, same = pair_distances(v, labels)
    acc, _, _ = verification(v, labels, folds=min(10, max(2, len(dist) // 10)))
    return {"val_dprime": dprime(dist, same), "val_auc": roc_auc(dist, same), "val_accuracy": acc}


def save_weights(model: Any, path: Path) -> None:
    """Write every weighted layer in facenet_keras.h5's layout: model_weights/<layer>/<layer>/
    <kind>:0, with the `weight_names` attributes the loader reads."""
    import h5py

    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        root = f.create_group("model_weights")
        for layer in model.layers:
            if not layer.weights:
                continue
            g = root.create_group(layer.name)
            names = []
            for w in layer.weights:
                kind = w.path.split("/")[-1]
                name = f"{layer.name}/{kind}:0"
                g.create_dataset(name, data=np.asarray(w.numpy()))
                names.append(name.encode())
            g.attrs["weight_names"] = names
    tmp.replace(path)


@dataclass(frozen=True)
class TrainResult:
    weights: Path
    metadata: Path
    best_epoch: int
    before: dict[str, float]
    after: dict[str, float]
    epochs: list[EpochLog]
    seconds_per_epoch: float


def train(embedder: Embedder, crops: np.ndarray, labels: np.ndarray, options: TrainOptions,
          out: Path, meta: dict[str, object],
          on_step: Callable[[int, int, float, float], None] | None = None) -> TrainResult:
    """Fine-tune the embedder's network (weights loaded) on aligned crops with person labels;
    save the best epoch to `out` (+ `.json` metadata) and leave that epoch's weights in it."""
    from facefold.vision.runtime import import_tensorflow

    tf = import_tensorflow()
    model = embedder.model
    rng = np.random.default_rng(options.seed)
    tf.random.set_seed(options.seed)
    tr, va = split_by_person(labels, options.val_split, options.seed)
    if len(va) < 4:
        raise ValueError("too few photos for validation: need a few photos per person")
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= options.frozen
    opt = tf.keras.optimizers.Adam(options.learning_rate)
    k = options.photos_per_person
    p = max(2, options.batch_size // k)
    steps = options.steps_per_epoch or max(1, len(tr) // (p * k))

    @tf.function(reduce_retracing=True)
    def step(x: Any, y: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            emb = tf.math.l2_normalize(model(x, training=False), axis=1)
            loss, active = semihard_triplet_loss(emb, y, options.margin)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, active

    before = val_metrics(embedder, crops[va], labels[va])
    best, best_epoch = before["val_dprime"], 0
    best_weights = [w.numpy() for w in model.weights]
    logs: list[EpochLog] = []
    bad = 0
    for epoch in range(1, options.epochs + 1):
        t0 = time.monotonic()
        losses, actives = [], []
        for i, b in enumerate(pk_batches(labels[tr], p, k, steps, rng)):
            idx = tr[b]
            x = standardise(augment(crops[idx], rng))
            loss, active = step(tf.constant(x), tf.constant(labels[idx]))
            losses.append(float(loss))
            actives.append(float(active))
            if on_step:
                on_step(epoch, i + 1, losses[-1], actives[-1])
        m = val_metrics(embedder, crops[va], labels[va])
        logs.append(EpochLog(epoch, float(np.mean(losses)), float(np.mean(actives)),
                             m["val_dprime"], m["val_auc"], m["val_accuracy"],
                             time.monotonic() - t0))
        if m["val_dprime"] > best + 1e-6:
            best, best_epoch, bad = m["val_dprime"], epoch, 0
            best_weights = [w.numpy() for w in model.weights]
        else:
            bad += 1
            if bad >= options.patience:
                break
    for w, v in zip(model.weights, best_weights, strict=True):
        w.assign(v)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_weights(model, out)
    after = val_metrics(embedder, crops[va], labels[va])
    spe = float(np.mean([e.seconds for e in logs])) if logs else 0.0
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps({
        **meta, "options": asdict(options), "train_photos": int(len(tr)),
        "val_photos": int(len(va)), "best_epoch": best_epoch, "before": before, "after": after,
        "epochs": [asdict(e) for e in logs], "seconds_per_epoch": spe,
    }, indent=1))
    return TrainResult(out, meta_path, best_epoch, before, after, logs, spe)
