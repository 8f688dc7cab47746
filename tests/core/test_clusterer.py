"""The daemon's clusterer: its pool of unplaced faces is clustered as a batch would cluster it."""

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


def test_the_pool_is_clustered_as_a_batch(lib: Library, rng: np.random.Generator) -> None:
    """A person of a photo, its copy and one more photo is two pieces of evidence, so a weak face
    near it (quality 0.3) joins nobody in a batch. The daemon's pool must not let it in through
    the second chance it gives leftover faces, where every face counts (three here)."""
    vectors, quality = [], []
    for _ in range(3):  # three ordinary people, five photos each
        centre = unit(rng.normal(size=DIM))
        vectors += [apart_by(rng, centre, 0.45) for _ in range(5)]
        quality += [1.0] * 5
    centre = unit(rng.normal(size=DIM))
    photo = apart_by(rng, centre, 0.3)
    vectors += [photo, apart_by(rng, photo, 0.05), apart_by(rng, centre, 0.3), apart_by(rng, centre, 0.5)]
    quality += [1.0, 1.0, 1.0, 0.3]
    v = np.stack(vectors)
    batch = cluster_faces(v, np.arange(len(v)), ClusterParams(), np.array(quality))
    assert batch[-1] == -1 and len(set(batch[-4:-1].tolist())) == 1 and batch[-2] != -1

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
    assert got[-1] is None
    same = {(a, b) for a in range(len(v) - 1) for b in range(len(v) - 1) if batch[a] == batch[b]}
    assert same == {(a, b) for a in range(len(v) - 1) for b in range(len(v) - 1)
                    if got[a] == got[b]}


def test_passers_by_found_nobody_in_the_daemon(lib: Library, rng: np.random.Generator) -> None:
    """Three strangers behind the people photographed (faces half the size of the photo's
    largest), close enough to found a person: neither the full recluster nor the daemon's pool
    makes them one; with `found_min_share` 0 both do."""
    passer = unit(rng.normal(size=DIM))
    with lib.session() as s:
        for k in range(3):
            front = NewFace((10, 10, 80, 80), [[0.0, 0.0]] * 5, 0.99, unit(rng.normal(size=DIM)))
            behind = NewFace((120, 10, 40, 40), [[0.0, 0.0]] * 5, 0.99,
                             apart_by(rng, passer, 0.35))
            queue.record_processed(s, f"/photos/{k}.jpg", f"{k:064x}", 1, 0.0, 200, 200,
                                   [front, behind])
        s.commit()
    for share, pool in ((0.75, False), (0.75, True), (0.0, False), (0.0, True)):
        c = lib.settings.clustering.model_copy(update={
            "found_min_share": share, "full_when_idle_max_faces": 0 if pool else 5000})
        settings = lib.settings.model_copy(update={"clustering": c})
        clusterer = Clusterer(settings)
        with lib.session() as s:
            face_store.set_face_persons(s, {f: None for f in face_store.face_persons(s)})
            clusterer.load(s)
            clusterer.step(s, idle=True)
            s.commit()
            placed = [p for p in face_store.face_persons(s).values() if p is not None]
        assert len(placed) == (0 if share else 3), (share, pool)


def test_a_named_pair_survives_a_full_recluster(lib: Library, rng: np.random.Generator) -> None:
    """Two photos of someone 0.83 apart: past `pair_distance`, so a full recluster makes them no
    person; once the user has named that person, they stay its faces."""
    from facefold.core.clusterer import full_recluster
    from facefold.db import people as people_store

    a = unit(rng.normal(size=DIM))
    ids = _store(lib, np.stack([a, apart_by(rng, a, 0.83)]), [1.0, 1.0])
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
