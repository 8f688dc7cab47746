"""Reading the library a page at a time (core.browse), with the fake models."""

from __future__ import annotations

import numpy as np
import pytest

from facefold.core import Library, browse
from facefold.core import people as people_uc
from facefold.core.scan import scan
from facefold.db.people import PeopleError
from tests.helpers.fakes import person_photo
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)


def _library(lib: Library) -> dict[int, int]:
    """People 0..3 with 6, 5, 4, 3 photos; return person index → person id."""
    rng = np.random.default_rng(2)
    for person, n in enumerate((6, 5, 4, 3)):
        for k in range(n):
            person_photo(lib.settings.inbox / f"p{person}-{k}.png", person, rng)
    scan(lib)
    out = {}
    for card in browse.people(lib).rows:
        path = browse.person(lib, card.id).photos.rows[0].path
        out[int(path.split("/p")[-1][0])] = card.id
    return out


def test_people_come_largest_first_in_pages_and_are_found_by_any_case(lib: Library) -> None:
    ids = _library(lib)
    page = browse.people(lib, limit=3)
    assert page.total == 4 and [c.faces for c in page.rows] == [6, 5, 4]
    assert [c.id for c in browse.people(lib, offset=3, limit=3).rows] == [ids[3]]
    assert all(c.face_id is not None and c.photos == c.faces for c in page.rows)
    people_uc.name(lib, ids[1], "Ángel Ñúñez")
    assert [c.id for c in browse.people(lib, "ángel").rows] == [ids[1]]
    assert [c.id for c in browse.people(lib, "ÑÚÑ").rows] == [ids[1]]
    assert [c.id for c in browse.people(lib, f"#{ids[2]}").rows] == [ids[2]]
    assert browse.people(lib, "%").total == 0  # no SQL wildcards
    people_uc.ignore(lib, ids[3])
    assert ids[3] not in {c.id for c in browse.people(lib).rows}
    assert [c.id for c in browse.people(lib, hidden=True).rows] == [ids[3]]


def test_a_person_their_faces_photos_and_folder(lib: Library) -> None:
    ids = _library(lib)
    view = browse.person(lib, ids[0], limit=2)
    assert view.faces.total == 6 and len(view.faces.rows) == 2
    confidences = [f.confidence for f in browse.person(lib, ids[0]).faces.rows]
    assert confidences == sorted(confidences, reverse=True)
    assert view.photos.total == 6 and view.folder == lib.settings.people / f"person_{ids[0]:04d}"
    people_uc.ignore(lib, ids[0])
    assert browse.person(lib, ids[0]).folder is None


def test_who_chosen_faces_look_like_leaves_out_their_own_and_hidden_people(lib: Library) -> None:
    ids = _library(lib)
    face = browse.person(lib, ids[0]).faces.rows[0]
    found = browse.closest(lib, [face.id])
    assert ids[0] not in {c.card.id for c in found} and len(found) == 3
    assert [c.distance for c in found] == sorted(c.distance for c in found)
    people_uc.ignore(lib, ids[2])
    assert ids[2] not in {c.card.id for c in browse.closest(lib, [face.id])}


def test_unassigned_faces_and_a_photo_with_its_persons(lib: Library) -> None:
    ids = _library(lib)
    face = browse.person(lib, ids[1]).faces.rows[0]
    people_uc.unassign_faces(lib, [face.id])
    loose = browse.unassigned(lib)
    assert loose.total == 1 and loose.rows[0].id == face.id
    # two more faces of nobody: the two of one person come together, first
    others = [browse.person(lib, ids[0]).faces.rows[0], browse.person(lib, ids[1]).faces.rows[1]]
    people_uc.unassign_faces(lib, [f.id for f in others])
    runs = browse.unassigned(lib).runs
    assert [{f.id for f in r.faces} for r in runs] == [{face.id, others[1].id}, {others[0].id}]
    assert runs[0].closest is not None and runs[1].closest is None
    page = browse.photo(lib, browse.photo_of_face(lib, face.id))
    assert [f.id for f in page.photo.faces] == [face.id] and page.persons == {}
    assert browse.face_thumbnail(lib, face.id) is not None
    assert browse.face_thumbnail(lib, 10_000) is None
    assert browse.photo_preview(lib, page.photo.id, "small") is not None


def test_similar_faces_nearest_first_in_sql_where_the_database_can(lib: Library,
                                                                    backend: str) -> None:
    from facefold.db import faces as face_store

    ids = _library(lib)
    face = browse.person(lib, ids[0]).faces.rows[0]
    found = browse.similar(lib, face.id, limit=5)
    assert len(found) == 5 and face.id not in {f.id for f, _ in found}
    assert [f.person_id for f, _ in found] == [ids[0]] * 5  # their own five other photos
    with lib.session() as s:
        fm = face_store.face_matrix(s)
    exact = np.linalg.norm(fm.vectors - fm.vectors[list(fm.face_ids).index(face.id)], axis=1)
    by_id = dict(zip(fm.face_ids.tolist(), exact.tolist(), strict=True))
    assert all(abs(by_id[f.id] - d) < 1e-4 for f, d in found)
    assert [d for _, d in found] == sorted(d for _, d in found)
    with pytest.raises(PeopleError):
        browse.similar(lib, 10_000)
