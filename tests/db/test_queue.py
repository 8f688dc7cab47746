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


def test_photos_are_taken_in_the_order_they_were_queued_new_or_seen_before(
        engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/seen.jpg", "h1", 1, 1.0, 9, 9, [])
        s.commit()
        queue.enqueue(s, ["/in/seen.jpg"])  # changed on disk: queued again
        s.commit()
        s.execute(update(Image).values(queued_at=utcnow() - timedelta(minutes=5)))
        s.commit()
        queue.enqueue(s, ["/in/new.jpg"])
        s.commit()
        taken = queue.claim_batch(s, 2, ME, 60)
        assert [t.path for t in taken] == ["/in/seen.jpg", "/in/new.jpg"]
        assert [t.attempts for t in taken] == [1, 0]


def test_a_claimer_whose_lease_ran_out_loses_the_photo_to_the_next_claim(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg"])
        (first,) = queue.claim_batch(s, 1, "host1/worker", lease_seconds=-1)
        s.commit()
        (second,) = queue.claim_batch(s, 1, "host2/worker", lease_seconds=60)
        s.commit()
        assert second.id == first.id
        assert queue.holds(s, "/in/a.jpg", "host2/worker")
        assert not queue.holds(s, "/in/a.jpg", "host1/worker")


def test_a_photo_whose_lease_keeps_running_out_is_set_aside_at_the_next_claim(
        engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg"])
        queue.claim_batch(s, 1, "host1/worker", lease_seconds=-1, max_interrupted=2)
        s.commit()
        # its claimer died, once: the next claim takes it again, alone
        (again,) = queue.claim_batch(s, 5, "host2/worker", -1, max_interrupted=2)
        s.commit()
        assert again.path == "/in/a.jpg"
        assert queue.claim_batch(s, 5, "host3/worker", 60, max_interrupted=2) == []
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.status is ImageStatus.failed
        assert img.error == queue.STOPPED.format(n=2)
        # the same after a restart: recovery counts the ended leases of other claimers too
        queue.enqueue(s, ["/in/b.jpg"])
        queue.claim_batch(s, 1, "host1/worker", -1, max_interrupted=1)
        s.commit()
        assert queue.recover_interrupted(s, "host2/worker", max_interrupted=1) == 1
        b = queue.image_by_path(s, "/in/b.jpg")
        assert b is not None and b.status is ImageStatus.failed


def test_the_file_a_claimed_photo_had_when_work_began_is_remembered(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg", "/in/b.jpg"])
        (a,) = queue.claim_batch(s, 1, ME, 60)
        queue.record_attempt(s, a.id, 123, 4.5)
        s.commit()
        states = queue.path_states(s)
        assert states["/in/a.jpg"] == queue.PathState(ImageStatus.processing, 123, 4.5)
        assert states["/in/b.jpg"] == queue.PathState(ImageStatus.queued, None, None)


def test_a_photo_changed_during_an_interrupted_turn_is_queued_once(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg"])
        queue.claim_batch(s, 1, ME, 60)
        queue.enqueue(s, ["/in/a.jpg"])  # rewritten while it was held
        s.commit()
        assert queue.recover_interrupted(s, ME) == 1  # the process was killed
        s.commit()
        queue.claim_batch(s, 1, ME, 60)
        queue.record_processed(s, "/in/a.jpg", "h", 1, 1.0, 9, 9, [])
        s.commit()
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.status is ImageStatus.done and img.interrupted == 0


def test_a_photo_processed_again_keeps_the_persons_work_and_others_faces(engine: Engine) -> None:
    with Session(engine) as s:
        ana = people.create_person(s)
        ana.name = "Ana"
        (mine,) = queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 99, 99, [new_face(1)])
        queue.record_processed(s, "/in/b.jpg", "h2", 1, 1.0, 99, 99, [new_face(2)])
        face = s.get(Face, mine)
        assert face is not None
        face.person_id = ana.id
        s.commit()
        # the same file, processed again (`facefold reembed`, a touched file)
        (again,) = queue.record_processed(s, "/in/a.jpg", "h1", 1, 2.0, 99, 99, [new_face(1)])
        s.commit()
        face = s.get(Face, again)
        assert face is not None and face.person_id == ana.id
        assert s.query(Face).count() == 2  # b.jpg's face untouched
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and img.attempts == 2
        # a.jpg's content changes: its own faces go, b.jpg's stay
        queue.record_processed(s, "/in/a.jpg", "h3", 1, 3.0, 99, 99, [])
        s.commit()
        assert [f.image.path for f in s.query(Face)] == ["/in/b.jpg"]


def test_a_path_found_to_be_a_copy_holds_no_faces_of_its_own(engine: Engine) -> None:
    """Two workers processed two copies at once; the later is then recorded as a copy: the
    person gets each face once, and the original keeps its faces."""
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 99, 99, [new_face(1)])
        queue.record_processed(s, "/in/copy.jpg", "h1", 1, 1.0, 99, 99, [new_face(1)])
        queue.record_processed(s, "/in/b.jpg", "h2", 1, 1.0, 99, 99, [new_face(2)])
        s.commit()
        queue.record_duplicate(s, "/in/copy.jpg", "h1", 1, 1.0)
        s.commit()
        assert sorted(f.image.path for f in s.query(Face)) == ["/in/a.jpg", "/in/b.jpg"]


def test_only_content_processed_without_error_lends_its_faces(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_failure(s, "/in/broken.jpg", "truncated image", "h1", 1, 1.0,
                             retry_after=60)
        s.commit()
        assert queue.image_with_content(s, "h1") is None  # to be tried again: not yet
        queue.record_processed(s, "/in/b.jpg", "h1", 1, 1.0, 9, 9, [])
        queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [])
        s.commit()
        first = queue.image_with_content(s, "h1")
        assert first is not None and first.path == "/in/b.jpg"  # the first stored of two
        other = queue.image_with_content(s, "h1", exclude_path="/in/b.jpg")
        assert other is not None and other.path == "/in/a.jpg"


def test_a_failed_photo_is_remembered_by_its_file_and_waits_its_turn(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_failure(s, "/in/bad.jpg", "not an image", "h1", 7, 8.5)
        s.commit()
        assert queue.path_states(s)["/in/bad.jpg"] == queue.PathState(ImageStatus.failed, 7, 8.5)
        bad = queue.image_by_path(s, "/in/bad.jpg")
        assert bad is not None and bad.sha256 == "h1"
        queue.enqueue(s, ["/in/waiting.jpg"])
        s.execute(update(Image).values(queued_at=utcnow() - timedelta(minutes=5)))
        s.commit()
        queue.record_failure(s, "/in/busy.jpg", "permission denied", retry_after=0)
        s.commit()
        assert [t.path for t in queue.claim_batch(s, 1, ME, 60)] == ["/in/waiting.jpg"]


def test_retrying_a_failed_photo_gives_it_every_chance_again_at_the_back(engine: Engine) -> None:
    with Session(engine) as s:
        queue.enqueue(s, ["/in/a.jpg"])
        queue.claim_batch(s, 1, ME, 60, max_interrupted=1)
        queue.recover_interrupted(s, ME, max_interrupted=1)  # set aside: it stopped the process
        queue.record_failure(s, "/in/b.jpg", "broken", retry_after=3600)  # waiting for later
        queue.record_failure(s, "/in/c.jpg", "broken")
        queue.enqueue(s, ["/in/d.jpg"])
        s.execute(update(Image).values(queued_at=utcnow() - timedelta(minutes=5)))
        s.commit()
        assert queue.retry_failed(s, ["/in/a.jpg", "/in/b.jpg"]) == 1  # b is not failed
        s.commit()
        a = queue.image_by_path(s, "/in/a.jpg")
        assert a is not None and (a.status, a.attempts, a.interrupted) == (ImageStatus.queued, 0, 0)
        assert [t.path for t in queue.claim_batch(s, 5, ME, 60, 1)] == ["/in/d.jpg", "/in/a.jpg"]


def test_a_moved_photo_changed_while_processed_goes_round_again(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [new_face(1)])
        queue.enqueue(s, ["/in/a.jpg"])
        queue.claim_batch(s, 1, ME, 60)
        queue.enqueue(s, ["/in/a.jpg"])  # changed while held
        s.commit()
        old = queue.image_by_path(s, "/in/a.jpg")
        assert old is not None
        moved = queue.record_moved(s, old, "/in/b.jpg", 1, 2.0)
        s.commit()
        assert (moved.status, moved.interrupted, len(moved.faces)) == (ImageStatus.queued, 0, 1)


def test_a_rename_onto_a_stored_path_changes_nothing(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [])
        queue.record_processed(s, "/in/b.jpg", "h2", 1, 1.0, 9, 9, [])
        s.commit()
        assert not queue.move_path(s, "/in/a.jpg", "/in/b.jpg")
        s.commit()
        assert {(i.path, i.sha256) for i in s.query(Image)} == {("/in/a.jpg", "h1"),
                                                                ("/in/b.jpg", "h2")}


def test_a_photo_done_again_unchanged_forgets_its_interruptions(engine: Engine) -> None:
    with Session(engine) as s:
        queue.record_processed(s, "/in/a.jpg", "h1", 1, 1.0, 9, 9, [])
        queue.enqueue(s, ["/in/a.jpg"])
        queue.claim_batch(s, 1, ME, 60)
        queue.recover_interrupted(s, ME, max_interrupted=3)
        queue.claim_batch(s, 1, ME, 60)
        queue.record_unchanged(s, "/in/a.jpg", 1, 2.0)
        s.commit()
        img = queue.image_by_path(s, "/in/a.jpg")
        assert img is not None and (img.status, img.interrupted) == (ImageStatus.done, 0)


def test_a_face_found_again_is_the_kept_one_only_where_the_boxes_overlap() -> None:
    """Intersection over union of (x, y, w, h) boxes: re-detection moves a box a few pixels;
    a face beside it, or a box of no size, is another."""
    box = (10.0, 20.0, 40.0, 80.0)
    assert queue._iou(box, box) == 1.0
    assert queue._iou(box, (14.0, 20.0, 40.0, 80.0)) == 36 * 80 / (2 * 40 * 80 - 36 * 80)
    assert queue._iou(box, (10.0, 28.0, 40.0, 80.0)) == 72 * 40 / (2 * 40 * 80 - 72 * 40)
    assert queue._iou(box, (60.0, 20.0, 40.0, 80.0)) == 0.0  # beside it
    assert queue._iou(box, (10.0, 120.0, 40.0, 80.0)) == 0.0  # below it
    assert queue._iou((0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)) == 0.0
    assert queue._iou((0.0, 0.0, 0.5, 0.5), (0.0, 0.0, 0.5, 0.5)) == 1.0
