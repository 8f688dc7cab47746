import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from facefold.db import faces, people, queue
from tests.db.conftest import new_face
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)


def test_empty_unnamed_persons_are_deleted_named_kept(engine: Engine) -> None:
    with Session(engine) as s:
        people.create_person(s)
        b = people.create_person(s)
        people.set_name(s, b.id, "Ana María")
        s.commit()
        assert people.delete_empty_unnamed_persons(s) == 1
        s.commit()
        assert [p.name for p in people.person_summaries(s)] == ["Ana María"]


def test_hand_edits_pin_faces_and_refuse_two_faces_of_one_photo(engine: Engine) -> None:
    with Session(engine) as s:
        a_ids = queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [new_face(1), new_face(2)])
        (b_id,) = queue.record_processed(s, "/in/b.jpg", "h2", 1, 1.0, 9, 9, [new_face(3)])
        p, q = people.create_person(s), people.create_person(s)
        faces.set_face_persons(s, {a_ids[0]: p.id, a_ids[1]: q.id, b_id: q.id})
        s.commit()
        with pytest.raises(people.PeopleError, match="same photo"):
            people.move_face(s, a_ids[1], p.id)
        people.move_face(s, b_id, p.id)
        people.unassign_face(s, a_ids[1])
        s.commit()
        pinned = {f.id: (f.person_id, f.pinned) for f in faces.faces_by_id(s, [*a_ids, b_id])}
        assert pinned == {a_ids[0]: (p.id, False), a_ids[1]: (None, True), b_id: (p.id, True)}
        people.set_name(s, q.id, "Q")
        assert people.merge_persons(s, p.id, [q.id]) == 0
        s.commit()
        assert [x.name for x in people.person_summaries(s)] == ["Q"]
        with pytest.raises(people.PeopleError, match="no person"):
            people.set_hidden(s, 999, True)


def test_counts_and_the_revision(engine: Engine) -> None:
    with Session(engine) as s:
        ids = queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [new_face(1), new_face(2)])
        p = people.create_person(s)
        faces.set_face_persons(s, {ids[0]: p.id})
        assert people.people_counts(s) == people.PeopleCounts(1, 2, 1)
        assert people.people_rev(s) == 0
        assert people.bump_people_rev(s) == 1 and people.bump_people_rev(s) == 2
