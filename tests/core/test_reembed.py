"""Switching a library to other weights: every face re-embedded, people and names kept."""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from facefold.core import Library, Models
from facefold.core import people as people_uc
from facefold.core.reembed import reembed_all, reembed_some
from facefold.core.reports import persons
from facefold.core.scan import scan
from tests.helpers.fakes import FakeEmbedder, FakeFinder, person_photo


def test_new_weights_reembed_every_face_and_keep_names(lib: Library,
                                                       rng: np.random.Generator) -> None:
    for k in range(8):
        person_photo(lib.settings.inbox / f"{k}.png", k % 2, rng)
    scan(lib)
    first = persons(lib)[0].id
    people_uc.name(lib, first, "First")
    with lib.session() as s:
        before = {r[0]: bytes(r[1]) for r in s.execute(text("SELECT id, embedding FROM faces"))}
    assert reembed_some(lib).faces == 0  # nothing stale with the same weights

    retrained = Library(lib.settings, Models(FakeFinder(), FakeEmbedder("fake:1", seed=1)))
    (lib.settings.inbox / "7.png").unlink()  # a photo gone meanwhile: queued to be settled
    res = reembed_all(retrained)
    assert (res.faces, res.unreadable, res.weights) == (7, 1, "fake:1")
    with retrained.session() as s:
        rows = s.execute(text("SELECT id, embedding, weights FROM faces")).all()
        names = {n for (n,) in s.execute(text("SELECT name FROM persons WHERE name IS NOT NULL"))}
    assert {r[2] for r in rows if r[0] != max(before)} == {"fake:1"}
    assert all(bytes(r[1]) != before[r[0]] for r in rows if r[2] == "fake:1")
    assert names == {"First"} and res.recluster.persons == 2
    retrained.close()


def test_faces_stored_before_signatures_get_them(lib: Library, rng: np.random.Generator) -> None:
    """A library from before photo signatures (and face signatures): its faces are stale with
    the same weights, and reembed makes both signatures, then nothing is stale."""
    from facefold.vision.pixels import PHOTO_BYTES, PIXEL_BYTES

    for k in range(4):
        person_photo(lib.settings.inbox / f"{k}.png", k % 2, rng)
    scan(lib)
    with lib.session() as s:
        s.execute(text("UPDATE images SET pixels = NULL"))
        s.execute(text("UPDATE faces SET pixels = NULL WHERE id = (SELECT MIN(id) FROM faces)"))
        s.commit()
    res = reembed_some(lib)
    assert (res.faces, res.left) == (4, 0)
    with lib.session() as s:
        photos = [bytes(r[0]) for r in s.execute(text("SELECT pixels FROM images"))]
        faces = [bytes(r[0]) for r in s.execute(text("SELECT pixels FROM faces"))]
    assert len(photos) == 4 and all(len(p) == PHOTO_BYTES for p in photos)
    assert all(len(f) == PIXEL_BYTES for f in faces)
    assert reembed_some(lib).faces == 0
