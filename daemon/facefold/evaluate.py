"""Measuring the embedding and the clustering on labelled faces: pure maths (pairs, a
cross-validated threshold, pairwise and BCubed scores). `core.training` loads the data sets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facefold.people.cluster import NOISE, ClusterParams, cluster_faces

FOLDS = 10  # cross-validation folds for the verification threshold


def pair_distances(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All unordered pairs: (distances, same-person flags)."""
    iu = np.triu_indices(len(vectors), 1)
    sq = np.maximum(0.0, 2.0 - 2.0 * (vectors @ vectors.T))
    return np.sqrt(sq[iu]), (labels[:, None] == labels[None, :])[iu]


def best_threshold(dist: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The distance cut (same when below) with the best accuracy on these pairs: (cut, accuracy)."""
    order = np.argsort(dist, kind="stable")
    d, s = dist[order], same[order]
    # cut after position i: pairs 0..i called same
    tp = np.cumsum(s)
    tn = (~s).sum() - np.cumsum(~s)
    acc = np.concatenate([[(~s).sum()], tp + tn]) / len(d)
    i = int(np.argmax(acc))
    if i == 0:
        return float(d[0]) - 1e-6, float(acc[0])
    cut = float(d[i - 1]) if i == len(d) else float((d[i - 1] + d[i]) / 2)
    return cut, float(acc[i])


def verification(vectors: np.ndarray, labels: np.ndarray, folds: int = FOLDS,
                 seed: int = 0) -> tuple[float, float, float]:
    """10-fold cross-validated verification over all pairs: (mean accuracy, its std, threshold).

    Each fold's accuracy uses the cut chosen on the other folds; the threshold reported is the
    cut chosen on all pairs."""
    dist, same = pair_distances(vectors, labels)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(dist)) % folds
    accs = []
    for k in range(folds):
        test = fold == k
        cut, _ = best_threshold(dist[~test], same[~test])
        accs.append(float(((dist[test] < cut) == same[test]).mean()))
    cut, _ = best_threshold(dist, same)
    return float(np.mean(accs)), float(np.std(accs)), cut


def pairwise_scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1 of a clustering (noise: in no pair)."""
    def pairs(c: np.ndarray) -> float:
        return float((c * (c - 1) / 2).sum())
    a = pred != NOISE
    tp = pairs(np.unique(np.stack([pred[a], truth[a]]), axis=1, return_counts=True)[1]) if a.any() else 0.0
    p = tp / max(pairs(np.unique(pred[a], return_counts=True)[1]) if a.any() else 0.0, 1e-12)
    r = tp / max(pairs(np.unique(truth, return_counts=True)[1]), 1e-12)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bcubed_scores(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """BCubed precision, recall, F1; a noise face is a cluster of its own."""
    n = len(pred)
    if n == 0:
        return 0.0, 0.0, 0.0
    own = np.where(pred == NOISE, -1 - np.arange(n), pred)
    same_c = own[:, None] == own[None, :]
    same_t = truth[:, None] == truth[None, :]
    both = (same_c & same_t).sum(1)
    p = float((both / same_c.sum(1)).mean())
    r = float((both / same_t.sum(1)).mean())
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass(frozen=True)
class Evaluation:
    weights: str
    faces: int
    people: int
    verification_accuracy: float
    verification_std: float
    threshold: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    clusters: int
    unassigned: int
    skipped: int


def evaluate(vectors: np.ndarray, labels: np.ndarray, params: ClusterParams, weights: str,
             skipped: int = 0) -> Evaluation:
    acc, std, cut = verification(vectors, labels)
    pred = cluster_faces(vectors, np.arange(len(vectors)), params)
    pp, pr, pf = pairwise_scores(pred, labels)
    bp, br, bf = bcubed_scores(pred, labels)
    return Evaluation(weights, len(vectors), len(np.unique(labels)), acc, std, cut, pp, pr, pf,
                      bp, br, bf, len(np.unique(pred[pred != NOISE])), int((pred == NOISE).sum()),
                      skipped)
