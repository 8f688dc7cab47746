"""The pipeline's bookkeeping with the fake models: every queued photo ends done or failed (or
back on the queue), exactly once, in milliseconds."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from facefold.core import Library
from facefold.core.inbox import reconcile
from facefold.core.pipeline import process_batch, queued, retry_delay, retry_failed
from facefold.db import queue
from facefold.db.models import Face, Image
from tests.helpers.fakes import person_photo
from tests.helpers.postgres import both_backends  # noqa: F401  (SQLite and PostgreSQL)


def _queue_inbox(lib: Library) -> int:
    return reconcile(lib, [lib.settings.inbox]).queued


def _rows(lib: Library) -> dict[str, tuple[str, int]]:
    """path → (status, faces) for every stored image."""
    with lib.session() as s:
        return {img.path: (img.status.value, len(img.faces)) for img in s.scalars(select(Image))}


def test_back_off_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 30) for n in range(4)] == [30, 60, 120, 240]
    assert retry_delay(20, 30) == 3600


def test_a_batch_stores_faces_and_thumbnails_once(lib: Library, rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    photos = [person_photo(inbox / f"p{i}.png", i % 3, rng, faces=1 + i % 2) for i in range(6)]
    assert _queue_inbox(lib) == 6
    res = process_batch(lib, 32, set())
    assert (res.claimed, res.processed, res.faces, res.failures) == (6, 6, 9, [])
    assert set(res.stages.seconds) >= {"read", "decode", "detect", "align", "embed", "store"}
    assert _rows(lib) == {str(p): ("done", 1 + i % 2) for i, p in enumerate(photos)}
    with lib.session() as s:
        face_ids = s.scalars(select(Face.id)).all()
        weights = set(s.scalars(select(Face.weights)))
    assert weights == {"fake:0"}
    assert all((lib.settings.state_dir / "thumbs" / "0000" / f"{fid}.jpg").exists()
               for fid in face_ids)
    # nothing changed: a second pass decodes nothing
    assert _queue_inbox(lib) == 0
    os.utime(photos[0])  # touched, same content: read again, recognised, not decoded
    assert _queue_inbox(lib) == 1
    again = process_batch(lib, 32, set())
    assert again.unchanged == 1 and again.processed == 0


def test_copies_and_renames_keep_one_set_of_faces(lib: Library, rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    a = person_photo(inbox / "a.png", 0, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    shutil.copy(a, inbox / "copy.png")
    b = person_photo(inbox / "b.png", 1, rng)
    shutil.copy(b, inbox / "copy-of-b.png")  # the same new content twice in one batch
    _queue_inbox(lib)
    res = process_batch(lib, 32, set())
    assert (res.processed, res.duplicates) == (1, 2)
    with lib.session() as s:
        faces_before = set(s.scalars(select(Face.id)))
    assert len(faces_before) == 2
    c = person_photo(inbox / "c.png", 2, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    os.rename(c, inbox / "renamed.png")  # while facefold was not looking: gone here, new there
    a.unlink()  # gone, with a copy left: the copy takes its faces
    assert _queue_inbox(lib) == 3
    res = process_batch(lib, 32, set())
    assert (res.moved, res.removed, res.processed) == (1, 1, 0)
    rows = _rows(lib)
    assert str(a) not in rows and str(c) not in rows
    assert rows[str(inbox / "renamed.png")] == ("done", 1)  # kept its face: not embedded again
    assert rows[str(inbox / "copy.png")] == ("done", 1)
    with lib.session() as s:
        assert set(s.scalars(select(Face.id))) >= faces_before


def test_bad_files_fail_with_a_reason_and_transient_ones_are_retried(lib: Library,
                                                                    rng: np.random.Generator) -> None:
    lib.settings = lib.settings.model_copy(update={"watch": lib.settings.watch.model_copy(
        update={"max_attempts": 2, "retry_seconds": 0.0})})
    inbox = lib.settings.inbox
    (inbox / "notes.jpg").write_text("not a photo")
    good = person_photo(inbox / "good.png", 0, rng)
    half = inbox / "half.png"
    half.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _queue_inbox(lib)
    first = process_batch(lib, 32, set())
    assert {p for p, _ in first.failures} == {str(inbox / "notes.jpg"), str(half)}
    second = process_batch(lib, 32, set())  # the truncated one again, its last try
    assert [p for p, _ in second.failures] == [str(half)]
    rows = _rows(lib)
    assert rows[str(inbox / "notes.jpg")] == ("failed", 0)
    assert rows[str(half)] == ("failed", 0)
    with lib.session() as s:
        img = queue.image_by_path(s, str(half))
        assert img is not None and img.attempts == 2 and "truncated" in (img.error or "")
    person_photo(half, 1, rng)  # the copy finished after all (another photo than good.png)
    assert retry_failed(lib, [half]) == 1
    process_batch(lib, 32, set())
    assert _rows(lib)[str(half)] == ("done", 1)


def test_a_stop_request_puts_the_rest_back(lib: Library, rng: np.random.Generator) -> None:
    for i in range(5):
        person_photo(lib.settings.inbox / f"p{i}.png", i, rng)
    _queue_inbox(lib)
    calls = iter([False, False, True, True, True, True])
    res = process_batch(lib, 32, set(), should_stop=lambda: next(calls))
    assert (res.processed, res.requeued) == (2, 3) and queued(lib) == 3


def test_a_file_gone_before_its_turn_is_forgotten(lib: Library, rng: np.random.Generator) -> None:
    a = person_photo(lib.settings.inbox / "a.png", 0, rng)
    person_photo(lib.settings.inbox / "b.png", 1, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    a.unlink()
    assert _queue_inbox(lib) == 1
    res = process_batch(lib, 32, set())
    assert res.removed == 1 and set(_rows(lib)) == {str(lib.settings.inbox / "b.png")}


def test_the_finder_sees_the_configured_thresholds(lib: Library, rng: np.random.Generator) -> None:
    settings = lib.settings.model_copy(update={"detection": lib.settings.detection.model_copy(
        update={"min_face_size": 100})})
    lib.apply(settings)
    person_photo(lib.settings.inbox / "a.png", 0, rng)  # an 80 px face
    _queue_inbox(lib)
    assert process_batch(lib, 32, set()).faces == 0
    assert Path(lib.settings.inbox / "a.png").exists()


def test_each_photo_keeps_its_signature_and_each_face_its_place_in_it(
        lib: Library, rng: np.random.Generator) -> None:
    """The photo in small is stored with it (and moves with its file); a face's scene is that
    signature with where the face is, as shares of the photo, so copies are known as copies."""
    from facefold.db import faces as face_store
    from facefold.vision.pixels import PHOTO_BYTES, places

    inbox = lib.settings.inbox
    a = person_photo(inbox / "a.png", 0, rng, faces=2)  # 320 x 240, squares at x 20 and 120
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    os.rename(a, inbox / "renamed.png")
    _queue_inbox(lib)
    assert process_batch(lib, 32, set()).moved == 1
    with lib.session() as s:
        img = s.scalars(select(Image)).one()
        path, signature = img.path, img.pixels or b""
        fm = face_store.face_matrix(s)
        _, scenes = face_store.face_signatures(s, fm.face_ids.tolist())
    assert path == str(inbox / "renamed.png") and len(signature) == PHOTO_BYTES
    assert (scenes[:, :PHOTO_BYTES] == np.frombuffer(signature, np.uint8)).all()
    places = places(scenes)[np.argsort(fm.face_ids)]
    assert np.allclose(places[:, :2], [[60 / 320, 100 / 240], [160 / 320, 100 / 240]], atol=0.02)
    assert np.allclose(places[:, 2], 80 / np.sqrt(320 * 240), atol=0.02)


def test_a_file_that_cannot_be_read_fails_with_the_reason_at_once(
        lib: Library, rng: np.random.Generator) -> None:
    lib.settings = lib.settings.model_copy(update={"decode": lib.settings.decode.model_copy(
        update={"max_file_bytes": 1000})})
    big = person_photo(lib.settings.inbox / "big.png", 0, rng)
    assert big.stat().st_size > 1000
    _queue_inbox(lib)
    res = process_batch(lib, 32, set())
    assert [p for p, _ in res.failures] == [str(big)] and "file too large" in res.failures[0][1]
    with lib.session() as s:
        img = queue.image_by_path(s, str(big))
        assert img is not None and img.status.value == "failed" and img.next_attempt_at is None
        assert "file too large" in (img.error or "")
    assert process_batch(lib, 32, set()).claimed == 0  # not tried again


def test_copies_and_moves_are_recorded_as_the_files_are_now(
        lib: Library, rng: np.random.Generator) -> None:
    """A copy or a move is not looked at again by the next rescan: its size and time are kept."""
    inbox = lib.settings.inbox
    a = person_photo(inbox / "a.png", 0, rng)
    b = person_photo(inbox / "b.png", 1, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    shutil.copy(a, inbox / "copy.png")
    os.rename(b, inbox / "moved.png")
    _queue_inbox(lib)
    res = process_batch(lib, 32, set())
    assert (res.duplicates, res.moved) == (1, 1)
    rec = reconcile(lib, [inbox])
    assert (rec.queued, rec.unchanged) == (0, 3)


def test_a_scan_of_many_batches_lists_every_failure(lib: Library,
                                                    rng: np.random.Generator) -> None:
    from facefold.core.scan import scan

    lib.settings = lib.settings.model_copy(update={"watch": lib.settings.watch.model_copy(
        update={"batch_photos": 2})})
    for k in range(3):
        (lib.settings.inbox / f"broken-{k}.jpg").write_text("not a photo")
        person_photo(lib.settings.inbox / f"p{k}.png", k % 2, rng)
    res = scan(lib)
    assert sorted(os.path.basename(p) for p, _ in res.failures) == \
        ["broken-0.jpg", "broken-1.jpg", "broken-2.jpg"]
    assert res.processed == 3


def test_a_photo_linked_from_elsewhere_is_read_only_when_links_are_followed(
        lib: Library, rng: np.random.Generator, tmp_path: Path) -> None:
    outside = person_photo(tmp_path / "elsewhere" / "a.png", 0, rng)
    (lib.settings.inbox / "a.png").symlink_to(outside)
    lib.settings = lib.settings.model_copy(update={"follow_symlinks": True})
    assert _queue_inbox(lib) == 1
    res = process_batch(lib, 32, set())
    assert res.processed == 1 and not res.failures


def test_photos_this_process_left_half_done_go_back_to_the_queue(
        lib: Library, rng: np.random.Generator) -> None:
    from facefold.core.pipeline import recover_interrupted

    for k in range(2):
        person_photo(lib.settings.inbox / f"p{k}.png", k, rng)
    _queue_inbox(lib)
    with lib.session() as s:  # held by this process when it was killed; another's is not ours
        (ours,) = queue.claim_batch(s, 1, lib.claimer, 3600)
        (theirs,) = queue.claim_batch(s, 1, "elsewhere/watch", 3600)
        s.commit()
    assert recover_interrupted(lib) == 1 and queued(lib) == 1
    res = process_batch(lib, 32, set())
    assert res.processed == 1 and _rows(lib)[ours.path][0] == "done"
    assert _rows(lib)[theirs.path][0] == "processing"


def unpack_vector(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, np.float32)


def _stored(lib: Library) -> dict[str, list[dict[str, object]]]:
    """photo file name → its faces as stored (every column a face is kept with)."""
    with lib.session() as s:
        out: dict[str, list[dict[str, object]]] = {}
        for img in s.scalars(select(Image)):
            out[os.path.basename(img.path)] = [
                {"embedding": unpack_vector(f.embedding), "quality": f.quality,
                 "sharpness": f.sharpness, "yaw": f.yaw, "pixels": f.pixels,
                 "landmarks": f.landmarks} for f in img.faces]
        return out


def test_when_embedding_the_batch_fails_each_photo_is_embedded_alone(
        lib: Library, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The photo that fails alone is failed with its reason; every other photo's faces get
    their own vectors, as a batch would have given them."""
    for k in range(3):
        person_photo(lib.settings.inbox / f"p{k}.png", k, rng, faces=1 + k % 2)
    _queue_inbox(lib)
    embedder = lib.models.embedder
    real = embedder.embed
    calls = [0]

    def flaky(crops: list[np.ndarray]) -> np.ndarray:
        calls[0] += 1
        if calls[0] in (1, 3):  # the whole batch, then the second photo alone
            raise RuntimeError("out of memory")
        return real(crops)

    monkeypatch.setattr(embedder, "embed", flaky)
    res = process_batch(lib, 32, set())
    assert res.processed == 2 and [os.path.basename(p) for p, _ in res.failures] == ["p1.png"]
    assert "RuntimeError: out of memory" in res.failures[0][1]
    stored = _stored(lib)
    assert [len(stored[f"p{k}.png"]) for k in (0, 2)] == [1, 1] and stored["p1.png"] == []
    monkeypatch.setattr(embedder, "embed", real)
    for f in stored["p0.png"] + stored["p2.png"]:  # each face with all it is kept with
        assert None not in (f["quality"], f["sharpness"], f["yaw"], f["pixels"])
        assert len(json.loads(str(f["landmarks"]))) == 5
    vec = {k: stored[f"p{k}.png"][0]["embedding"] for k in (0, 2)}
    assert float(np.dot(vec[0], vec[2])) < 0.99  # not one vector stored twice  # type: ignore


def test_a_photo_another_claimer_took_keeps_its_faces_out_and_the_rest_right(
        lib: Library, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = lib.settings.inbox
    person_photo(inbox / "a.png", 3, rng)
    person_photo(inbox / "b.png", 0, rng, faces=2)  # persons 0 and 1; its lease ends first
    person_photo(inbox / "c.png", 2, rng)
    person_photo(inbox / "c2.png", 4, rng)  # after b: its vector must stay its own too
    _queue_inbox(lib)
    real_holds = queue.holds

    def taken(s: object, path: str, claimer: str) -> bool:
        return not path.endswith("b.png") and real_holds(s, path, claimer)  # type: ignore[arg-type]

    monkeypatch.setattr(queue, "holds", taken)
    res = process_batch(lib, 32, set())
    monkeypatch.setattr(queue, "holds", real_holds)
    assert res.faces == 3
    person_photo(inbox / "d.png", 2, rng)  # c's person again, and b's, stored the plain way
    person_photo(inbox / "e.png", 1, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    stored = _stored(lib)
    assert stored["b.png"] == [] and len(stored["a.png"]) == len(stored["c.png"]) == 1
    c, d, e = (stored[n][0]["embedding"] for n in ("c.png", "d.png", "e.png"))
    assert float(np.dot(c, d)) > float(np.dot(c, e))  # c has its own face's vector, not b's


def _photo_row(lib: Library, path: Path) -> Image:
    with lib.session() as s:
        img = queue.image_by_path(s, str(path))
        assert img is not None
        s.expunge(img)
        return img


def test_a_file_gone_while_other_work_waits_goes_to_the_back_once(
        lib: Library, rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    gone, kept = person_photo(inbox / "a.png", 0, rng), person_photo(inbox / "b.png", 1, rng)
    _queue_inbox(lib)
    gone.unlink()  # renamed, say: its new name may come up later in the queue
    deferred: set[str] = set()
    first = process_batch(lib, 1, deferred)  # a.png, with b.png waiting
    assert (first.requeued, first.removed, first.photos) == (1, 0, 0)
    assert deferred == {str(gone)} and _rows(lib)[str(gone)] == ("queued", 0)
    second = process_batch(lib, 1, deferred)  # b.png first: a.png went to the back
    assert second.processed == 1 and _rows(lib)[str(kept)] == ("done", 1)
    third = process_batch(lib, 1, deferred)  # nothing else waits: it is forgotten
    assert (third.requeued, third.removed) == (0, 1) and deferred == set()
    assert set(_rows(lib)) == {str(kept)}


def test_a_file_gone_while_the_inbox_is_away_is_set_aside_not_forgotten(
        lib: Library, rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    a, b = person_photo(inbox / "a.png", 0, rng), person_photo(inbox / "b.png", 1, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    with lib.session() as s:
        queue.enqueue(s, [str(a), str(b)])  # a rescan queued both, then the disk went
        s.commit()
    shutil.rmtree(inbox)
    res = process_batch(lib, 32, set())
    assert (res.requeued, res.removed) == (2, 0)
    assert _rows(lib) == {str(a): ("done", 1), str(b): ("done", 1)}


def test_a_slow_batch_keeps_every_photo_it_claimed(lib: Library, rng: np.random.Generator) -> None:
    import time

    from facefold.db.models import utcnow

    lib.settings = lib.settings.model_copy(update={"watch": lib.settings.watch.model_copy(
        update={"lease_seconds": 0.6})})
    for i in range(4):
        person_photo(lib.settings.inbox / f"p{i}.png", i, rng)
    _queue_inbox(lib)
    held: list[bool] = []

    def slow() -> None:  # each photo takes longer than half the lease
        if len(held) < 4 * 4:  # not after the last photo
            time.sleep(0.35)
        with lib.session() as s:
            ends = [img.lease_until for img in s.scalars(select(Image))
                    if img.status.value == "processing"]
        now = utcnow().replace(tzinfo=None)
        held.extend(e is not None and e.replace(tzinfo=None) > now for e in ends)

    res = process_batch(lib, 32, set(), heartbeat=slow)
    assert res.processed == 4 and held and all(held)
    assert 1.0 < res.seconds < 60


def test_a_batch_takes_at_most_its_limit_and_sets_aside_what_keeps_stopping_it(
        lib: Library, rng: np.random.Generator) -> None:
    from facefold.core.pipeline import recover_interrupted

    lib.settings = lib.settings.model_copy(update={"watch": lib.settings.watch.model_copy(
        update={"max_attempts": 2})})
    for i in range(3):
        person_photo(lib.settings.inbox / f"p{i}.png", i, rng)
    _queue_inbox(lib)

    def claim(claimer: str = lib.claimer, lease: float = 60) -> None:
        with lib.session() as s:
            queue.claim_batch(s, 1, claimer, lease)
            s.commit()

    for _ in range(2):  # p0 stops the process twice while it is processed
        claim()
        assert recover_interrupted(lib) == 1
    assert _rows(lib)[str(lib.settings.inbox / "p0.png")] == ("failed", 0)
    claim()  # p1 once, then a worker that died holding it
    recover_interrupted(lib)
    claim("gone/worker", -1)
    res = process_batch(lib, 1, set())
    assert res.claimed == 1
    assert _rows(lib) == {str(lib.settings.inbox / "p0.png"): ("failed", 0),
                          str(lib.settings.inbox / "p1.png"): ("failed", 0),
                          str(lib.settings.inbox / "p2.png"): ("done", 1)}


def test_what_a_photo_fails_with_is_recorded_against_its_file(
        lib: Library, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = lib.settings.inbox
    (inbox / "unreadable.png").write_text("x")
    (inbox / "unreadable.png").chmod(0)
    bad = person_photo(inbox / "p0.png", 0, rng)
    good = person_photo(inbox / "p1.png", 1, rng)
    _queue_inbox(lib)
    finder = lib.models.finder
    real = finder.detect

    def boom(pixels: np.ndarray, scale: float = 1.0) -> list[object]:
        if boom.calls == 0:  # type: ignore[attr-defined]
            boom.calls = 1  # type: ignore[attr-defined]
            raise RuntimeError("x" * 2000)
        return real(pixels, scale)  # type: ignore[return-value]

    boom.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(finder, "detect", boom)
    res = process_batch(lib, 32, set())
    reasons = dict(res.failures)
    if os.geteuid() != 0:  # root reads it anyway
        assert "unreadable.png" in " ".join(reasons)
    assert reasons[str(bad)].startswith("cannot process the photo: RuntimeError: xxx")
    assert len(reasons[str(bad)]) == 500
    assert _rows(lib)[str(good)] == ("done", 1)  # the batch went on
    row = _photo_row(lib, bad)
    st = bad.stat()
    assert (row.size, row.mtime, row.status.value) == (st.st_size, st.st_mtime, "failed")
    assert row.sha256 is not None


def test_a_photo_seen_again_unchanged_records_its_file_as_it_is_now(
        lib: Library, rng: np.random.Generator) -> None:
    photos = [person_photo(lib.settings.inbox / f"p{i}.png", i, rng) for i in range(2)]
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    for p in photos:
        os.utime(p, (1_000_000, 1_000_000))
    _queue_inbox(lib)
    res = process_batch(lib, 32, set())
    assert res.unchanged == 2
    row = _photo_row(lib, photos[0])
    assert (row.size, row.mtime) == (photos[0].stat().st_size, 1_000_000)


def test_a_photo_is_known_by_its_file_before_the_work_on_it_starts(
        lib: Library, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    p = person_photo(lib.settings.inbox / "p.png", 0, rng)
    _queue_inbox(lib)
    finder = lib.models.finder
    real = finder.detect
    seen: list[tuple[int | None, float | None]] = []

    def look(pixels: np.ndarray, scale: float = 1.0) -> list[object]:
        row = _photo_row(lib, p)  # as a crash right now would leave it
        seen.append((row.size, row.mtime))
        return real(pixels, scale)  # type: ignore[return-value]

    monkeypatch.setattr(finder, "detect", look)
    process_batch(lib, 32, set())
    assert seen == [(p.stat().st_size, p.stat().st_mtime)]


def test_new_copies_and_moves_in_one_batch_are_each_counted_and_recorded(
        lib: Library, rng: np.random.Generator) -> None:
    inbox = lib.settings.inbox
    a, b = person_photo(inbox / "a.png", 0, rng), person_photo(inbox / "b.png", 1, rng)
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    for src in (a, b):
        shutil.copy(src, inbox / f"copy-{src.name}")
    new = person_photo(inbox / "n.png", 2, rng)
    shutil.copy(new, inbox / "n-copy.png")  # new content twice in one batch
    _queue_inbox(lib)
    res = process_batch(lib, 32, set())
    assert (res.processed, res.duplicates) == (1, 3)
    copy = inbox / "n-copy.png"
    row = _photo_row(lib, copy)
    assert (row.sha256, row.size, row.mtime) == (_photo_row(lib, new).sha256,
                                                 copy.stat().st_size, copy.stat().st_mtime)
    for src in (a, b):
        os.rename(src, inbox / f"moved-{src.name}")
    _queue_inbox(lib)
    assert process_batch(lib, 32, set()).moved == 2


def test_when_every_photo_fails_to_embed_nothing_is_stored(
        lib: Library, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    ps = [person_photo(lib.settings.inbox / f"p{k}.png", k, rng) for k in range(2)]
    _queue_inbox(lib)
    process_batch(lib, 32, set())
    assert "one by one" not in caplog.text  # a healthy batch is embedded together
    for k, p in enumerate(ps):
        person_photo(p, k + 2, rng)  # changed
    _queue_inbox(lib)

    def broken(crops: list[np.ndarray]) -> np.ndarray:
        raise RuntimeError("no memory")

    monkeypatch.setattr(lib.models.embedder, "embed", broken)
    res = process_batch(lib, 32, set())
    assert res.processed == 0 and len(res.failures) == 2
    assert _rows(lib) == {str(p): ("failed", 0) for p in ps}
    row = _photo_row(lib, ps[0])
    assert (row.size, row.mtime) == (ps[0].stat().st_size, ps[0].stat().st_mtime)
