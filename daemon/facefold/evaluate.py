"""Measuring the embedding and the clustering on labelled faces: pure maths (pairs, a
cross-validated threshold, pairwise and BCubed scores). `core.training` loads the data sets."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence, Set
from dataclasses import dataclass, replace

import numpy as np

from facefold.people.cluster import NOISE, ClusterParams, cluster_faces, signatures_of

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
    membership_f1: float = 0.0  # photo by photo, clusters matched one to one to people
    split: dict[str, int] | None = None  # person → clusters holding 2+ of their photos (> 1)
    merged: list[list[str]] | None = None  # people that share a cluster (2+ photos each)
    detection_recall: float = 1.0  # share of the photos read in which a face was found
    no_face: list[str] | None = None  # the photos in which none was


def evaluate(vectors: np.ndarray, labels: np.ndarray, params: ClusterParams, weights: str,
             skipped: int = 0, names: list[str] | None = None,
             quality: np.ndarray | None = None, no_face: list[str] | None = None,
             pixels: np.ndarray | None = None, scenes: np.ndarray | None = None) -> Evaluation:
    """Measure vectors (one face per photo) with person labels: verification, and the clustering
    with `params` (copies of a photo, known by their `pixels` and `scenes` signatures, count
    once, as in the library), including
    which people it split and which it merged (named by `names`)."""
    acc, std, cut = verification(vectors, labels)
    sig = None if pixels is None or scenes is None else signatures_of(pixels, scenes)
    pred = cluster_faces(vectors, np.arange(len(vectors)), params, quality, signatures=sig)
    pp, pr, pf = pairwise_scores(pred, labels)
    bp, br, bf = bcubed_scores(pred, labels)
    who = names or [str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0)]
    m = membership_scores(
        {f"cluster {c}": set(np.flatnonzero(pred == c).tolist())
         for c in np.unique(pred[pred != NOISE])},
        {who[i]: set(np.flatnonzero(labels == i).tolist()) for i in np.unique(labels)})
    return Evaluation(weights, len(vectors), len(np.unique(labels)), acc, std, cut, pp, pr, pf,
                      bp, br, bf, len(np.unique(pred[pred != NOISE])), int((pred == NOISE).sum()),
                      skipped, m.f1, {i: len(fs) for i, fs in m.splits.items()},
                      [ids for ids in m.merges.values()],
                      len(vectors) / max(len(vectors) + len(no_face or []), 1), no_face or [])


@dataclass(frozen=True)
class Membership:
    """How well folders match people, photo by photo: each folder is matched to at most one
    identity (and each identity to at most one folder) so that the photos they share are most;
    a photo in a folder is right when the folder is matched to an identity the photo shows."""

    precision: float  # right (photo, folder) pairs / all (photo, folder) pairs made
    recall: float  # right pairs / all (photo, identity) pairs there are
    f1: float
    folders: int
    identities: int
    matched: dict[str, str]  # folder → identity
    splits: dict[str, list[str]]  # identity → its folder, then others holding 2+ of its photos
    merges: dict[str, list[str]]  # folder → its identity, then others it holds 2+ photos of
    # what the scores above leave out (`photo_membership`): photos put in a labelled person's
    # folder only by a passer-by's face (unlabelled, but almost always someone else), and
    # folders holding passers-by alone
    strays: int = 0
    passer_folders: int = 0


def membership_scores(folders: Mapping[str, Set[Hashable]],
                      identities: Mapping[str, Set[Hashable]]) -> Membership:
    """Given folder → photos (what facefold made) and identity → photos (the truth), return the
    membership scores of the one-to-one matching with the most shared photos."""
    from scipy.optimize import linear_sum_assignment

    fnames, inames = sorted(folders), sorted(identities)
    overlap = np.array([[len(folders[f] & identities[i]) for i in inames] for f in fnames],
                       dtype=np.int64).reshape(len(fnames), len(inames))
    rows, cols = linear_sum_assignment(-overlap) if overlap.size else ([], [])
    matched = {fnames[r]: inames[c] for r, c in zip(rows, cols, strict=True) if overlap[r, c] > 0}
    right = sum(int(overlap[fnames.index(f), inames.index(i)]) for f, i in matched.items())
    made = sum(len(v) for v in folders.values())
    there = sum(len(v) for v in identities.values())
    p = right / made if made else 0.0
    r = right / there if there else 0.0
    home = {i: f for f, i in matched.items()}

    def stray(f: str, i: str) -> int:
        """Photos of i in folder f that do not show the person f is matched to."""
        own = identities[matched[f]] if f in matched else set()
        return len((folders[f] & identities[i]) - own)

    splits = {i: ([home[i]] if i in home else [])
              + [f for f in fnames if f != home.get(i) and stray(f, i) >= 2] for i in inames}
    merges = {f: ([matched[f]] if f in matched else [])
              + [i for i in inames if i != matched.get(f) and stray(f, i) >= 2] for f in fnames}
    return Membership(p, r, 2 * p * r / (p + r) if p + r else 0.0, len(fnames), len(inames),
                      matched, {i: fs for i, fs in splits.items() if len(fs) > 1},
                      {f: ids for f, ids in merges.items() if len(ids) > 1})


def photo_membership(faces: Sequence[tuple[str, str | None, float]],
                     truth: Mapping[str, Set[str]]) -> tuple[Membership, float]:
    """Score folders made from faces against labelled photos: (membership, pairwise F1).

    `faces` are (photo, folder or None, box area) for every face found; `truth` is who each
    photo shows. A photo labelled with one person counts in the folder of its largest face
    (other faces there are unlabelled passers-by); a photo labelled with several counts in the
    folders of all its faces. People in one photo only are strangers: no folder is expected for
    them, and a folder holding them is wrong. Pairwise F1 is over photos of one labelled person.
    What the passers-by did is counted apart (`Membership.strays`, `passer_folders`).
    """
    largest: dict[str, tuple[float, str | None]] = {}
    shows: dict[str, set[str]] = {}
    for photo, folder, area in faces:
        if photo not in largest or area > largest[photo][0]:
            largest[photo] = (area, folder)
        if folder is not None:
            shows.setdefault(photo, set()).add(folder)
    folders: dict[str, set[Hashable]] = {}
    for photo, held in shows.items():
        counted = held if len(truth.get(photo, ())) > 1 else {largest[photo][1]} - {None}
        for folder in counted:
            folders.setdefault(str(folder), set()).add(photo)
    people: dict[str, set[Hashable]] = {}
    for photo, who in truth.items():
        for w in who:
            people.setdefault(w, set()).add(photo)
    people = {w: p for w, p in people.items() if len(p) >= 2}
    single = sorted(p for p, who in truth.items() if len(who) == 1 and next(iter(who)) in people)
    names = sorted(people)
    fnames = sorted({str(f) for _a, f in largest.values() if f is not None})
    pred = np.array([fnames.index(str(largest[p][1])) if p in largest and largest[p][1] is not None
                     else NOISE for p in single], np.int64)
    labels = np.array([names.index(next(iter(truth[p]))) for p in single], np.int64)
    pairwise = pairwise_scores(pred, labels)[2] if len(single) > 1 else 0.0
    m = membership_scores(folders, people)
    strays = sum(1 for photo, held in shows.items() for f in held
                 if photo not in folders.get(str(f), ()) and m.matched.get(str(f)) is not None
                 and m.matched[str(f)] not in truth.get(photo, ()))
    passer_folders = len({str(f) for held in shows.values() for f in held} - set(folders))
    return replace(m, strays=strays, passer_folders=passer_folders), pairwise
