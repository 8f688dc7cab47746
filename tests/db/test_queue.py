from datetime import timedelta

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from facefold.db import faces, people, queue, reports
from facefold.db.models import Face, Image, ImageStatus, KeptFace, utcnow
from tests.db.conftest import new_face
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)

ME = "this-host/watch"


def test_duplicates_share_faces_through_the_view(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [new_face(1), new_face(2)])
        queue.record_duplicate(s, "/in/copy-of-a.jpg", "h1", 10, 1.0)
        s.commit()
        p = people.create_person(s)
        faces.set_face_persons(s, {f.id: p.id for f in s.query(Face)})
        s.commit()
        rows = people.person_photo_rows(s)
        assert rows == [(p.id, None, "/in/a.jpg"), (p.id, None, "/in/copy-of-a.jpg")]
        # the original goes: its faces move to the copy, nothing is re-embedded
        assert queue.forget_path(s, "/in/a.jpg")
        s.commit()
        assert people.person_photo_rows(s) == [(p.id, None, "/in/copy-of-a.jpg")]
        assert s.query(Face).count() == 2


def test_changed_content_replaces_faces(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [new_face(1), new_face(2)])
        s.commit()
        queue.record_processed(s, "/in/a.jpg", "h2", 11, 2.0, 100, 100, [new_face(3)])
        s.commit()
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.sha256 == "h2" and len(img.faces) == 1
        m = faces.face_matrix(s)
        assert m.vectors.shape == (1, 128)
        assert abs(m.vectors[0] - new_face(3).embedding).max() < 1e-6


def test_a_moved_photo_keeps_its_faces(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [new_face(1)])
        s.commit()
        old = queue.image_by_path(s, "/in/a.jpg")
        assert old is not None
        fid = old.faces[0].id
        queue.record_moved(s, old, "/in/sub/a.jpg", 10, 2.0)
        s.commit()
        new = queue.image_by_path(s, "/in/sub/a.jpg")
        assert new is not None and [f.id for f in new.faces] == [fid]
        assert queue.image_by_path(s, "/in/a.jpg") is None
        assert queue.move_path(s, "/in/sub/a.jpg", "/in/b.jpg") and not queue.move_path(s, "/x", "/y")
        assert queue.move_folder(s, "/in", "/photos") == 1
        s.commit()
        assert list(queue.path_states(s)) == ["/photos/b.jpg"]


def test_failures_and_status(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_failure(s, "/in/bad.jpg", "not an image in a known format")
        queue.record_processed(s, "/in/a.jpg", "h1", 10, 1.0, 100, 100, [])
        s.commit()
        st = reports.status_summary(s)
        assert st.images_by_status["failed"] == 1 and st.images_by_status["done"] == 1
        assert st.failures == [reports.Failure("/in/bad.jpg", "not an image in a known format")]
        img = s.query(Image).filter_by(path="/in/bad.jpg").one()
        assert img.status is ImageStatus.failed and img.attempts == 1


def test_transient_failures_wait_then_retry_and_retry_requeues(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_failure(s, "/in/slow.jpg", "truncated image", retry_after=3600)
        queue.record_failure(s, "/in/now.jpg", "permission denied", retry_after=0)
        queue.record_failure(s, "/in/bad.jpg", "not an image in a known format")
        s.commit()
        st = reports.status_summary(s)
        assert st.images_by_status["queued"] == 2 and st.retrying == 2
        assert st.images_by_status["failed"] == 1
        claimed = queue.claim_batch(s, 10, ME, 60)
        assert [c.path for c in claimed] == ["/in/now.jpg"] and claimed[0].attempts == 1
        s.commit()
        assert queue.retry_failed(s) == 1
        s.commit()
        bad = queue.image_by_path(s, "/in/bad.jpg")
        assert bad is not None and bad.status.value == "queued" and bad.attempts == 0


def test_enqueue_leaves_photos_a_worker_holds_to_it_and_handles_long_lists(
        engine: Engine) -> None:
    paths = [f"/in/{i}.jpg" for i in range(queue.IN_LIST_MAX + 10)]
    with Session(engine) as s:
        assert queue.enqueue(s, paths) == len(paths)
        s.commit()
        held = queue.claim_batch(s, 3, ME, 60)
        s.commit()
        assert [h.path for h in held] == paths[:3]  # the oldest first
        assert queue.enqueue(s, paths) == len(paths)  # the held three: again after their turn
        s.commit()
        assert queue.queued_count(s) == len(paths) - 3
        assert {i.path for i in queue.images_by_path(s).values()
                if i.status.value == "processing"} == set(paths[:3])
        assert queue.recover_interrupted(s, "other-host/watch") == 0  # not its photos
        assert queue.recover_interrupted(s, ME) == 3
        assert queue.queued_count(s) == len(paths)


def test_a_lease_keeps_a_photo_until_it_ends_then_anyone_takes_it(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg", "/in/b.jpg"])
        s.commit()
        (a,) = queue.claim_batch(s, 1, "host1/worker-7", lease_seconds=3600)
        s.commit()
        (b,) = queue.claim_batch(s, 5, "host2/worker-9", lease_seconds=3600)
        s.commit()
        assert (a.path, b.path) == ("/in/a.jpg", "/in/b.jpg")
        assert queue.claim_batch(s, 5, "host3/watch", 60) == []  # both held
        assert queue.holds(s, "/in/a.jpg", "host1/worker-7")
        assert not queue.holds(s, "/in/a.jpg", "host2/worker-9")
        s.commit()
        # host1's worker dies: once its lease is over, the photo is anyone's again
        s.execute(update(Image).where(Image.id == a.id)
                  .values(lease_until=utcnow() - timedelta(seconds=1)))
        s.commit()
        (again,) = queue.claim_batch(s, 5, "host3/watch", 60)
        s.commit()
        assert again.path == "/in/a.jpg"
        assert not queue.holds(s, "/in/a.jpg", "host1/worker-7")  # its late result is dropped
        assert queue.renew_lease(s, [a.id], "host1/worker-7", 60) == 0
        assert queue.renew_lease(s, [a.id], "host3/watch", 60) == 1
        queue.record_processed(s, "/in/a.jpg", "h", 1, 1.0, 10, 10, [new_face(1)])
        s.commit()
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.claimed_by is None and img.lease_until is None


def test_huge_file_sizes_fit(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_failure(s, "/in/huge.tif", "too large", "h", 5 * 2**30, 1.0)
        s.commit()
        img = queue.image_by_path(s, "/in/huge.tif")
        assert img is not None and img.size == 5 * 2**30


def test_a_photo_that_keeps_stopping_the_process_is_set_aside_as_failed(engine: Engine) -> None:
    paths = [f"/in/{i}.jpg" for i in range(5)]
    with Session(engine) as s:
        queue.enqueue(s, paths)
        s.commit()
        assert len(queue.claim_batch(s, 10, ME, 60, max_interrupted=3)) == 5
        s.commit()
        # the process dies holding the batch (paths[0] kills it): each photo is a suspect now
        assert queue.recover_interrupted(s, ME, max_interrupted=3) == 5
        s.commit()
        for _ in range(2):  # tried alone, it kills the process twice more
            assert [h.path for h in queue.claim_batch(s, 10, ME, 60, 3)] == [paths[0]]
            queue.recover_interrupted(s, ME, max_interrupted=3)
            s.commit()
        bad = queue.image_by_path(s, paths[0])
        assert bad is not None and bad.status.value == "failed"
        assert bad.error == ("stopped the process 3 times while it was being processed: "
                             "it is set aside")
        # the others, each tried alone once, are done; the failed one is never claimed again
        for want in paths[1:]:
            assert [h.path for h in queue.claim_batch(s, 10, ME, 60, 3)] == [want]
            queue.record_processed(s, want, "h" + want, 1, 1.0, 10, 10, [])
            s.commit()
        assert queue.claim_batch(s, 10, ME, 60, 3) == []
        assert {i.path for i in queue.images_by_path(s).values()
                if i.status.value == "done"} == set(paths[1:])
        assert queue.retry_failed(s) == 1  # `facefold retry` gives it another chance
        s.commit()
        img = queue.image_by_path(s, paths[0])
        assert img is not None and img.status.value == "queued"


def test_a_finished_photo_forgets_how_often_it_was_interrupted(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg"])
        s.commit()
        for _ in range(2):  # two kills that had nothing to do with the photo
            queue.claim_batch(s, 1, ME, 60)
            queue.recover_interrupted(s, ME, max_interrupted=3)
            s.commit()
        queue.claim_batch(s, 1, ME, 60)
        queue.record_processed(s, "/in/a.jpg", "h", 1, 1.0, 10, 10, [])
        s.commit()
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.interrupted == 0 and img.status.value == "done"


def test_a_photo_changed_while_processed_goes_round_again(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg", "/in/b.jpg", "/in/c.jpg"])
        s.commit()
        queue.claim_batch(s, 3, ME, 60)
        s.commit()
        # while held: a.jpg rewritten, b.jpg renamed, c.jpg deleted (the watcher's events)
        assert queue.enqueue(s, ["/in/a.jpg", "/in/c.jpg"]) == 2
        assert not queue.move_path(s, "/in/b.jpg", "/in/b2.jpg")  # it stays at b until done
        assert queue.enqueue(s, ["/in/b.jpg", "/in/b2.jpg"]) == 2
        s.commit()
        for p in ("/in/a.jpg", "/in/b.jpg", "/in/c.jpg"):
            queue.record_processed(s, p, "h" + p, 1, 1.0, 10, 10, [new_face(1)])
        s.commit()
        status = {i.path: i.status.value for i in queue.images_by_path(s).values()}
        assert status == {"/in/a.jpg": "queued", "/in/b.jpg": "queued", "/in/c.jpg": "queued",
                          "/in/b2.jpg": "queued"}
        # b2's content is b's, whose file is gone: b2 takes b's faces over, nothing re-embedded
        old = queue.image_by_path(s, "/in/b.jpg")
        assert old is not None
        queue.record_moved(s, old, "/in/b2.jpg", 1, 1.0)
        s.commit()
        moved = queue.image_by_path(s, "/in/b2.jpg")
        assert moved is not None and len(moved.faces) == 1
        assert queue.image_by_path(s, "/in/b.jpg") is None


def test_a_persons_work_comes_back_with_the_photo_under_any_path(engine: Engine) -> None:
    with Session(engine) as s:
        ana = people.create_person(s)
        ana.name = "Ana"
        nobody_but_pinned = queue.record_processed(
            s, "/in/a.jpg", "shaA", 1, 1.0, 100, 100, [new_face(1), new_face(2), new_face(3)])
        s.flush()
        f1, f2, f3 = (s.get(Face, i) for i in nobody_but_pinned)
        assert f1 is not None and f2 is not None and f3 is not None
        f2.box_x = 50  # three faces at three places
        f3.box_x = 90
        f1.person_id = ana.id  # in a named person
        f2.pinned = True  # taken out by hand: stays out
        s.commit()
        assert queue.forget_path(s, "/in/a.jpg")  # the file is gone
        s.commit()
        assert s.query(Face).count() == 0
        assert people.delete_empty_unnamed_persons(s) == 0 and s.get(type(ana), ana.id)
        # the same content comes back elsewhere, found with boxes a few pixels off
        back = [new_face(4), new_face(5), new_face(6)]
        ids = queue.record_processed(s, "/elsewhere/a-copy.jpg", "shaA", 1, 1.0, 100, 100, [
            faces.NewFace((b + 2, 3, 30, 40), f.landmarks, f.confidence, f.embedding)
            for b, f in zip((1, 50, 90), back, strict=True)])
        s.commit()
        got = [(s.get(Face, i).person_id, s.get(Face, i).pinned) for i in ids]  # type: ignore[union-attr]
        assert got == [(ana.id, False), (None, True), (None, False)]
        assert s.query(KeptFace).count() == 0  # given back, no longer kept


def test_a_path_that_is_not_utf8_is_stored_and_found_again(engine: Engine) -> None:
    import os

    name = os.fsdecode(b"/in/live-\xe9t\xe9.jpg")  # Latin-1 bytes: surrogates in Python
    with Session(engine) as s:
        assert queue.enqueue(s, [name, "/in/\uf7e9.jpg"]) == 2
        s.commit()
        assert set(queue.images_by_path(s, [name])) == {name}
        (item, _other) = queue.claim_batch(s, 2, ME, 60)
        assert item.path == name
        queue.record_processed(s, name, "h", 1, 1.0, 10, 10, [new_face(1)])
        s.commit()
        assert name in queue.path_states(s)
        assert faces.photo_faces(s)[0][0] == name


def test_the_photo_queued_longest_ago_goes_first(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/new.jpg", "/in/old.jpg", "/in/middle.jpg"])
        now = utcnow()
        for path, age in (("/in/new.jpg", 0), ("/in/old.jpg", 7200), ("/in/middle.jpg", 3600)):
            s.execute(update(Image).where(Image.path == path)
                      .values(queued_at=now - timedelta(seconds=age)))
        s.commit()
        assert [h.path for h in queue.claim_batch(s, 2, ME, 60)] == ["/in/old.jpg",
                                                                      "/in/middle.jpg"]


def test_a_folder_renamed_onto_stored_paths_keeps_both_photos(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a/x.jpg", "h1", 10, 1.0, 100, 100, [new_face(1)])
        queue.record_processed(s, "/in/a/y.jpg", "h2", 10, 1.0, 100, 100, [new_face(2)])
        queue.record_processed(s, "/in/b/x.jpg", "h3", 10, 1.0, 100, 100, [new_face(3)])
        s.commit()
        assert queue.move_folder(s, "/in/a", "/in/b") == 1  # x.jpg is taken there: stays
        s.commit()  # no clash of paths
        assert {(i.path, i.sha256) for i in queue.images_by_path(s).values()} == {
            ("/in/a/x.jpg", "h1"), ("/in/b/y.jpg", "h2"), ("/in/b/x.jpg", "h3")}


def test_a_folder_rename_moves_exactly_the_photos_under_it(engine: Engine) -> None:
    """Names with `%` and `_` (wildcards to SQL's LIKE), a trailing slash, a photo held by a
    worker meanwhile (queued again instead), and a neighbour whose name starts the same."""
    with Session(engine) as s:
        for p in ["/in/100%_done/a.jpg", "/in/100%_done/sub/b.jpg", "/in/100x_done/c.jpg",
                  "/in/100%_done-old/d.jpg", "/in/100%_done/e.jpg"]:
            queue.record_processed(s, p, p, 1, 1.0, 9, 9, [])
        queue.enqueue(s, ["/in/100%_done/e.jpg"])
        (held,) = queue.claim_batch(s, 1, ME, 600)
        s.commit()
        assert queue.known_under(s, "/in/100%_done/") == 3
        assert queue.move_folder(s, "/in/100%_done/", "/in/done/") == 2
        s.commit()
        paths = {i.path: i for i in s.query(Image)}
        assert set(paths) == {"/in/done/a.jpg", "/in/done/sub/b.jpg", "/in/100x_done/c.jpg",
                              "/in/100%_done-old/d.jpg", "/in/100%_done/e.jpg"}
        assert paths["/in/100%_done/e.jpg"].requeue  # its worker's result is looked at again
        assert queue.known_under(s, "/in/done") == 2 and queue.known_under(s, "/in/100") == 0


def test_a_lease_is_renewed_only_for_what_the_claimer_still_holds(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg", "/in/b.jpg", "/in/c.jpg"])
        mine = queue.claim_batch(s, 2, ME, 60)
        (theirs,) = queue.claim_batch(s, 1, "other/worker", 60)
        s.commit()
        assert queue.renew_lease(s, [], ME, 600) == 0
        assert queue.renew_lease(s, [mine[0].id, theirs.id], ME, 600) == 1
        s.commit()
        until = {i.path: i.lease_until.replace(tzinfo=None) for i in s.query(Image)
                 if i.lease_until is not None}
        soon = utcnow().replace(tzinfo=None) + timedelta(seconds=120)
        assert until[mine[0].path] > soon
        assert until[mine[1].path] < soon and until[theirs.path] < soon


def test_requeued_photos_keep_their_place_unless_sent_to_the_back(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg"])
        s.commit()
        s.execute(update(Image).values(queued_at=utcnow() - timedelta(hours=1)))
        queue.enqueue(s, ["/in/b.jpg"])
        s.commit()
        (a,) = queue.claim_batch(s, 1, ME, 60)
        assert a.path == "/in/a.jpg"
        queue.requeue(s, [a.id])  # its place kept: first again
        s.commit()
        (again,) = queue.claim_batch(s, 1, ME, 60)
        assert again.path == "/in/a.jpg"
        queue.requeue(s, [again.id], to_back=True)
        s.commit()
        assert [i.path for i in queue.claim_batch(s, 2, ME, 60)] == ["/in/b.jpg", "/in/a.jpg"]


def test_a_claimed_photo_gone_while_the_inbox_is_away_is_set_aside_as_it_was(
        engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/done.jpg", "h1", 1, 1.0, 9, 9, [new_face(1)])
        queue.record_failure(s, "/in/failed.jpg", "broken", "h2", 1, 1.0)
        queue.enqueue(s, ["/in/done.jpg", "/in/failed.jpg", "/in/new.jpg"])
        s.commit()
        held = queue.claim_batch(s, 3, ME, 60)
        for item in held:
            queue.set_aside(s, item.id)
        queue.set_aside(s, 999)  # gone meanwhile: nothing to do
        s.commit()
        got = {i.path: (i.status, i.claimed_by, i.lease_until, i.requeue)
               for i in s.query(Image)}
        assert got == {"/in/done.jpg": (ImageStatus.done, None, None, False),
                       "/in/failed.jpg": (ImageStatus.failed, None, None, False),
                       "/in/new.jpg": (ImageStatus.queued, None, None, False)}
        assert s.query(Face).count() == 1  # nothing forgotten
