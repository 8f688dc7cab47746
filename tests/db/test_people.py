import pytest
from sqlalchemy import Engine, text
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


def test_an_empty_person_is_kept_when_hidden_or_awaited_by_its_photos(engine: Engine) -> None:
    """Deleted: unnamed, not hidden, no faces, no photo away that names them. Kept: a hidden
    person (you said to ignore them), and one whose pinned face waits for its photo to return."""
    with Session(engine) as s:
        people.create_person(s), people.create_person(s)  # empty: deleted
        hidden = people.create_person(s)
        people.set_hidden(s, hidden.id, True)
        awaited = people.create_person(s)
        (fid,) = queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [new_face(1)])
        people.move_face(s, fid, awaited.id)  # by hand: pinned
        assert queue.forget_path(s, "/in/a.jpg")  # the photo goes away; its face is kept
        s.commit()
        keep = {hidden.id, awaited.id}
        assert people.delete_empty_unnamed_persons(s) == 2
        s.commit()
        remaining = {pid for (pid,) in s.execute(text("SELECT id FROM persons"))}
        assert remaining == keep


def test_a_merge_keeps_the_names_pins_and_pairs_apart_a_user_gave(engine: Engine) -> None:
    with Session(engine) as s:
        a_ids = queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [new_face(1)])
        b_ids = queue.record_processed(s, "/in/b.jpg", "h2", 1, 1.0, 9, 9,
                                       [new_face(2), new_face(3)])
        c_ids = queue.record_processed(s, "/in/c.jpg", "h3", 1, 1.0, 9, 9, [new_face(4)])
        d_ids = queue.record_processed(s, "/in/d.jpg", "h4", 1, 1.0, 9, 9, [new_face(5)])
        a, b, c, d, x = (people.create_person(s) for _ in range(5))
        faces.set_face_persons(s, {a_ids[0]: a.id, b_ids[0]: b.id, b_ids[1]: c.id,
                                   c_ids[0]: c.id, d_ids[0]: d.id})
        people.set_name(s, b.id, "Bo")
        people.set_name(s, c.id, "Cy")
        people.set_apart(s, b.id, x.id)  # b was kept apart from x
        people.set_apart(s, a.id, c.id)  # and a from c, whom it now joins
        s.commit()
        # a unnamed takes the first name of the others; the faces of all are pinned to it
        assert people.merge_persons(s, a.id, [b.id, c.id]) == 3
        s.commit()
        assert {p.id: p.name for p in people.person_summaries(s)}[a.id] == "Bo"
        got = {f.id: (f.person_id, f.pinned)
               for f in faces.faces_by_id(s, [*a_ids, *b_ids, *c_ids])}
        assert set(got.values()) == {(a.id, True)}
        assert people.apart_pairs(s) == {tuple(sorted((a.id, x.id)))}  # (a, c) is gone
        people.set_name(s, d.id, "Di")
        people.merge_persons(s, d.id, [a.id])  # a named person keeps their own name
        s.commit()
        names = {p.id: p.name for p in people.person_summaries(s)}
        assert names[d.id] == "Di" and a.id not in names
        assert people.apart_pairs(s) == {tuple(sorted((d.id, x.id)))}
        with pytest.raises(people.PeopleError, match="at least one other person"):
            people.merge_persons(s, d.id, [d.id])
