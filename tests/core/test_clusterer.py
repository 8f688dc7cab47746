"""The daemon's clusterer: new faces placed at once, its pool of unplaced faces clustered as a
batch would cluster it, and what a user decided kept through a full recluster."""

from __future__ import annotations

import numpy as np

from facefold.core import Library
from facefold.core.clusterer import Clusterer
from facefold.db import faces as face_store
from facefold.db import queue
from facefold.db.faces import NewFace
from facefold.people.cluster import ClusterParams, cluster_faces
from facefold.vision.shapes import EMBEDDING_DIM as DIM
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)
from tests.helpers.vectors import apart_by, unit


def _store(lib: Library, vectors: np.ndarray, quality: list[float]) -> list[int]:
    """Each vector a face of a photo of its own; return the face ids."""
    ids = []
    with lib.session() as s:
        for k, (v, q) in enumerate(zip(vectors, quality, strict=True)):
            face = NewFace((10, 10, 60, 60), [[0.0, 0.0]] * 5, 0.99, v, quality=q)
            ids += queue.record_processed(s, f"/photos/{k}.jpg", f"{k:064x}", 1, 0.0, 200, 200,
                                          [face])
        s.commit()
    return ids


def _partition(labels: list[int | None]) -> set[tuple[int, int]]:
    return {(a, b) for a in range(len(labels)) for b in range(len(labels))
            if labels[a] is not None and labels[a] == labels[b]}


def test_the_pool_is_clustered_as_a_batch(lib: Library, rng: np.random.Generator) -> None:
    """Ordinary people, a weak face near one of them and strangers seen once: the daemon's pool
    (a library too large for its idle full recluster) makes the people a full clustering
    makes."""
    vectors, quality = [], []
    for _ in range(3):  # three ordinary people, five photos each
        centre = unit(rng.normal(size=DIM))
        vectors += [apart_by(rng, centre, 0.45) for _ in range(5)]
        quality += [1.0] * 5
    vectors += [apart_by(rng, vectors[0], 0.9)]  # a small face of the first person
    quality += [0.2]
    vectors += [unit(rng.normal(size=DIM)) for _ in range(4)]  # strangers seen once
    quality += [1.0] * 4
    v = np.stack(vectors)
    batch = cluster_faces(v, np.arange(len(v)), ClusterParams(), np.array(quality))
    assert len(set(batch[:15].tolist())) == 3 and (batch[-4:] == -1).all()

    ids = _store(lib, v, quality)
    lib.settings = lib.settings.model_copy(update={"clustering": lib.settings.clustering.model_copy(
        update={"full_when_idle_max_faces": 0})})
    clusterer = Clusterer(lib.settings)
    with lib.session() as s:
        clusterer.load(s)
        clusterer.step(s, idle=True)  # too many faces for an idle full recluster: the pool
        s.commit()
    with lib.session() as s:
        persons = face_store.face_persons(s)
    got = [persons[i] for i in ids]
    assert _partition(got) == _partition([None if b < 0 else int(b) for b in batch.tolist()])


def test_new_faces_are_placed_at_once_with_their_people(lib: Library,
                                                        rng: np.random.Generator) -> None:
    """A library of two people; then a photo of each arrives: each new face joins its person
    on arrival, and a stranger's waits in the pool."""
    a, b = unit(rng.normal(size=DIM)), unit(rng.normal(size=DIM))
    v = np.stack([apart_by(rng, a, 0.4) for _ in range(4)] + [apart_by(rng, b, 0.4)
                                                               for _ in range(4)])
    ids = _store(lib, v, [1.0] * 8)
    clusterer = Clusterer(lib.settings)
    with lib.session() as s:
        clusterer.load(s)
        clusterer.full(s)
        s.commit()
        first = face_store.face_persons(s)
    new = np.stack([apart_by(rng, a, 0.4), apart_by(rng, b, 0.4), unit(rng.normal(size=DIM))])
    with lib.session() as s:
        added = []
        for k, vec in enumerate(new):
            added += queue.record_processed(
                s, f"/photos/new-{k}.jpg", f"{100 + k:064x}", 1, 0.0, 200, 200,
                [NewFace((10, 10, 60, 60), [[0.0, 0.0]] * 5, 0.99, vec, quality=1.0)])
        s.commit()
        assert clusterer.update(s) == 2
        s.commit()
        now = face_store.face_persons(s)
    assert now[added[0]] == first[ids[0]] and now[added[1]] == first[ids[4]]
    assert now[added[2]] is None and clusterer.pool_dirty


def test_a_named_pair_survives_a_full_recluster(lib: Library, rng: np.random.Generator) -> None:
    """Two photos of someone 1.1 apart: too far for any rule to pair, so a full recluster makes
    them no person; once the user has named that person, they stay its faces."""
    from facefold.core.clusterer import full_recluster
    from facefold.db import people as people_store

    a = unit(rng.normal(size=DIM))
    ids = _store(lib, np.stack([a, apart_by(rng, a, 1.1)]), [1.0, 1.0])
    params = ClusterParams()
    with lib.session() as s:
        pid = people_store.create_person(s).id
        face_store.set_face_persons(s, {ids[0]: pid, ids[1]: pid})
        full_recluster(s, params)
        assert set(face_store.face_persons(s).values()) == {None}
        face_store.set_face_persons(s, {ids[0]: pid, ids[1]: pid})
        people_store.set_name(s, pid, "Grandma")
        full_recluster(s, params)
        assert face_store.face_persons(s) == {ids[0]: pid, ids[1]: pid}
