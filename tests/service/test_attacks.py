"""Single files, names, mounts and databases that once stopped the daemon for good or undid a
person's work, each made here (tests/helpers/hostile.py), through a real `facefold watch` or
`scan`: the daemon goes on, the photo is done or failed with its reason, every other photo is
done and linked, and names, pins and apart-pairs survive."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from facefold.db.types import text_to_path
from tests.helpers.daemon import WORK_TIMEOUT, Daemon, copy_in, wait_for
from tests.helpers.data import photos_of
from tests.helpers.hostile import bad_exif, encoded, heic_over_limits, many_scans_jpeg, png

pytestmark = pytest.mark.models


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, watch={"max_attempts": 3, "retry_seconds": 1.0, "settle_seconds": 0.3,
                                "rescan_interval": 3600})
    yield d
    if d.proc is not None:
        d.proc.kill()
        d.proc.wait()


def _facefold(d: Daemon, *args: str, prefix: list[str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*(prefix or []), sys.executable, "-m", "facefold.cli", *args,
                           "--config", str(d.config)], capture_output=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _status(d: Daemon) -> dict[str, tuple[str, str | None, int]]:
    rows = d.query("SELECT i.path, i.status, i.error, (SELECT COUNT(*) FROM faces f "
                   "WHERE f.image_id = i.id) FROM images i")
    return {text_to_path(p): (s, e, n) for p, s, e, n in rows}  # as facefold reads them


def _folder_of(d: Daemon, path: Path) -> str | None:
    return next((f for f, ts in d.links().items() if str(path) in ts), None)


def _jpeg(src: Path, quality: int) -> bytes:
    """The same photo saved again: new bytes, the same face."""
    return encoded(Image.open(src).convert("RGB"), "JPEG", quality=quality)


def test_single_files_and_names_that_stopped_the_daemon(daemon: Daemon,
                                                        celebrities: Path) -> None:
    d = daemon
    inbox = d.inbox
    inbox.mkdir()
    ben = photos_of(celebrities, "ben_afflek")
    madonna = photos_of(celebrities, "madonna")
    for p in ben[:6] + madonna[:5]:
        shutil.copy(p, inbox / f"{p.parent.name}-{p.name}")
    d.start()
    wait_for(lambda: d.done() == 11 and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)
    ben_folder = _folder_of(d, inbox / f"ben_afflek-{ben[0].name}")
    assert ben_folder is not None

    face = Image.open(ben[0]).convert("RGB")
    quality = iter(range(94, 40, -1))  # each copy of ben's photo gets new bytes
    incoming = inbox / ".incoming.part"
    expect: dict[Path, tuple[str, str]] = {}  # path → ("linked", "") | ("done", "") | ("failed", why)

    def put(rel: str | bytes, data: bytes, want: tuple[str, str]) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(inbox), os.fsencode(rel))))
        path.parent.mkdir(parents=True, exist_ok=True)
        incoming.write_bytes(data)
        os.rename(incoming, path)
        expect[path] = want
        return path

    def ben_again() -> bytes:
        return _jpeg(ben[0], next(quality))

    # 1. EXIF that Pillow's exif_transpose cannot write back (TypeError, struct.error in JPEG
    # and WebP, AttributeError): turned upright and processed
    put("exif-xresolution-text.jpg", bad_exif(face, 0x011A, 2, 4), ("linked", ""))
    put("exif-unit-byte.jpg", bad_exif(face, 0x0128, 1, 1), ("linked", ""))
    put("exif-unit-byte.webp", bad_exif(face, 0x0128, 1, 1, "WEBP"), ("linked", ""))
    put("exif-software-fraction.jpg", bad_exif(face, 0x0131, 5, 1), ("linked", ""))
    heic = heic_over_limits(face)
    if heic is not None:
        put("over-limits.heic", heic, ("failed", "Security limit exceeded"))
    put("one-by-a-million.png", png(1, 1_000_000), ("done", ""))  # the retry once asked 2 TiB
    # 5. small files that cost memory or time
    put("forty-thousand-wide.png", png(40_000, 1), ("done", ""))
    put("twenty-thousand-scans.jpg", many_scans_jpeg(face, 20_000), ("failed", "20000 scans"))
    # 2. a name that is not UTF-8, added while the daemon runs
    put(b"live-\xe9t\xe9.jpg", ben_again(), ("linked", ""))
    # 4. long names, for a person who has a folder already
    put("顔" * 80 + ".jpg", ben_again(), ("linked", ""))
    put("n" * 251 + ".jpg", ben_again(), ("linked", ""))
    # 8. three photos whose link names would collide
    from facefold.people.folders import plan_links

    a, b = inbox / "a" / "x.jpg", inbox / "b" / "x.jpg"
    tagged = next(n for n, t in plan_links([("f", str(a)), ("f", str(b))])["f"].items()
                  if t == str(a))
    put("a/x.jpg", ben_again(), ("linked", ""))
    put("b/x.jpg", ben_again(), ("linked", ""))
    put(f"c/{tagged}", ben_again(), ("linked", ""))
    # 6. a folder whose path is longer than the system allows, made while watching
    fd = os.open(inbox, os.O_RDONLY)
    try:
        for _ in range(40):
            os.mkdir("d" * 203, dir_fd=fd)
            nxt = os.open("d" * 203, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with os.fdopen(os.open("deep.jpg", os.O_CREAT | os.O_WRONLY, dir_fd=fd), "wb") as f:
            f.write(ben_again())
    finally:
        os.close(fd)
    expect[inbox.joinpath(*["d" * 203] * 40, "deep.jpg")] = ("failed", "longer than the system")

    def settled() -> bool:
        st = _status(d)
        return all(str(p) in st and st[str(p)][0] in ("done", "failed") for p in expect) \
            and d.idle()

    wait_for(settled, WORK_TIMEOUT, d.log, d.proc, d.state)
    st = _status(d)
    for path, (want, why) in expect.items():
        status, error, _faces = st[str(path)]
        if want == "failed":
            assert status == "failed" and why in (error or ""), (path, st[str(path)])
        else:
            assert status == "done", (path, st[str(path)])
        if want == "linked":
            assert _folder_of(d, path) == ben_folder, (path, d.links())
    assert len({t for t in d.links()[ben_folder] if "/x.jpg" in t or tagged in t}) == 3
    assert "longer than the system allows" in d.log.read_text(errors="replace")
    # the daemon goes on: a new person's photos are done and linked
    later = [copy_in(p, inbox / f"later-{p.name}") for p in photos_of(celebrities, "elton_john")[:4]]
    wait_for(lambda: all(_status(d).get(str(p), ("",))[0] == "done" for p in later)
             and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)
    assert all(_folder_of(d, p) is not None for p in later)
    assert d.alive()
    out = _facefold(d, "status")
    assert out.returncode == 0 and b"live-\xe9t\xe9.jpg" not in out.stdout  # failed ones only
    assert d.stop() == 0
    # a restart's catch-up and a one-shot scan read every name again
    d.start()
    wait_for(d.idle, WORK_TIMEOUT, d.log, d.proc, d.state)
    assert d.stop() == 0
    scan = _facefold(d, "scan")
    assert scan.returncode == 0, scan.stderr
    assert "Traceback" not in d.log.read_text(errors="replace")


def test_a_photo_that_keeps_stopping_the_process_is_set_aside(daemon: Daemon,
                                                             celebrities: Path) -> None:
    """The process dies (kill -9) while it holds one photo, again and again: after
    watch.max_attempts (3) such ends it is failed, and the others are done."""
    d = daemon
    d.inbox.mkdir()
    # a photo that takes a while to decode (60 MP of noise), so the kill lands on it
    slow = d.inbox / "a-slow.png"
    noise = Image.frombytes("L", (7746, 7746), os.urandom(7746 * 7746))
    noise.save(slow, compress_level=0)
    good = [d.inbox / f"{p.parent.name}-{p.name}" for p in photos_of(celebrities, "madonna")[:4]]
    for p, src in zip(good, photos_of(celebrities, "madonna")[:4], strict=True):
        shutil.copy(src, p)
    for kill in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "facefold.cli", "scan", "--config",
                                 str(d.config)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        try:
            # held by this run (a kill leaves it `processing`: this run first counts that)
            wait_for(lambda k=kill: d.query("SELECT status, interrupted FROM images WHERE "
                                            "path = ?", str(slow)) == [("processing", k)],
                     WORK_TIMEOUT, proc=proc)
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
    out = _facefold(d, "scan")
    assert out.returncode == 0, out.stderr
    st = _status(d)
    assert st[str(slow)][0] == "failed"
    assert "stopped the process 3 times" in (st[str(slow)][1] or "")
    assert all(st[str(p)][0] == "done" for p in good)


def test_a_vanished_inbox_keeps_names_pins_and_apart_pairs(daemon: Daemon,
                                                           celebrities: Path,
                                                           tmp_path: Path) -> None:
    """The inbox unmounted (a tmpfs, as root) or deleted and made again: nothing is forgotten,
    the named folders stay; back, the folders are as they were, and file events work again."""
    d = daemon
    inbox = d.inbox
    inbox.mkdir()
    mounted = False
    if os.geteuid() == 0 and shutil.which("mount"):
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs",
                                  str(inbox)], capture_output=True).returncode == 0
    try:
        photos = photos_of(celebrities, "ben_afflek")[:5] + photos_of(celebrities, "madonna")[:5]
        for p in photos:
            shutil.copy(p, inbox / f"{p.parent.name}-{p.name}")
        d.start()
        wait_for(lambda: d.done() == 10 and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)
        tony = d.query("SELECT person_id FROM faces f JOIN images i ON i.id = f.image_id "
                       "WHERE i.path LIKE '%ben_afflek%' AND person_id IS NOT NULL")[0][0]
        laura = d.query("SELECT person_id FROM faces f JOIN images i ON i.id = f.image_id "
                        "WHERE i.path LIKE '%madonna%' AND person_id IS NOT NULL")[0][0]
        pin = d.query("SELECT f.id FROM faces f WHERE person_id = ?", laura)[0][0]
        for args in (("name", str(tony), "Tony"), ("name", str(laura), "Laura"),
                     ("move", str(pin), str(laura)), ("apart", str(tony), str(laura))):
            assert _facefold(d, *args).returncode == 0
        wait_for(lambda: {"Tony", "Laura"} <= set(d.links()) and d.idle(), WORK_TIMEOUT,
                 d.log, d.proc, d.state)
        before = d.links()
        work = ("SELECT i.path, f.box_x, f.person_id, f.pinned FROM faces f JOIN images i "
                "ON i.id = f.image_id ORDER BY i.path, f.box_x")
        faces_before = d.query(work)

        if mounted:
            assert subprocess.run(["umount", str(inbox)]).returncode == 0
        else:
            shutil.rmtree(inbox)
            inbox.mkdir()
        wait_for(lambda: "inbox unavailable" in d.log.read_text(), WORK_TIMEOUT, d.log, d.proc)
        time.sleep(3)  # what a rescan would forget, it would have by now
        assert d.query(work) == faces_before
        assert d.query("SELECT COUNT(*) FROM person_apart") == [(1,)]
        assert set(d.links()) == {"Tony", "Laura"}
        out = _facefold(d, "status")
        assert b"inbox unavailable" in out.stdout

        if mounted:
            assert subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs",
                                   str(inbox)]).returncode == 0
        for p in photos:
            shutil.copy(p, inbox / f"{p.parent.name}-{p.name}")
        wait_for(lambda: "the inbox is back" in d.log.read_text() and d.idle(), WORK_TIMEOUT,
                 d.log, d.proc, d.state)
        assert d.query(work) == faces_before
        assert d.links() == before
        # the file watch is armed again: a new photo is taken at once, not at the next rescan
        new = copy_in(photos_of(celebrities, "ben_afflek")[6], inbox / "new-ben.jpg")
        wait_for(lambda: _folder_of(d, new) == "Tony", 60, d.log, d.proc, d.state)
        assert d.stop() == 0
        assert "Traceback" not in d.log.read_text()
    finally:
        if mounted:
            subprocess.run(["umount", str(inbox)], capture_output=True)


def test_a_database_deleted_while_running_stops_the_daemon_with_78(daemon: Daemon,
                                                                   celebrities: Path) -> None:
    d = daemon
    d.inbox.mkdir()
    for p in photos_of(celebrities, "madonna")[:3]:
        shutil.copy(p, d.inbox / p.name)
    d.start()
    wait_for(lambda: d.done() == 3 and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{d.db}{suffix}").unlink(missing_ok=True)
    assert d.proc is not None
    assert d.proc.wait(timeout=60) == 78
    assert "was deleted or replaced while facefold was running" in d.log.read_text()


def test_a_read_only_database_at_start_is_exit_78(daemon: Daemon, celebrities: Path) -> None:
    d = daemon
    d.inbox.mkdir()
    shutil.copy(photos_of(celebrities, "madonna")[0], d.inbox / "one.jpg")
    assert _facefold(d, "scan").returncode == 0
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root ignores file permissions and setpriv is missing")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    else:
        prefix = []
    d.db.chmod(0o444)
    try:
        out = _facefold(d, "scan", prefix=prefix)
        assert out.returncode == 78, out.stderr
        assert b"cannot be written" in out.stderr
        d.prefix = prefix
        proc = d.spawn()
        assert proc.wait(timeout=120) == 78
        assert "cannot be written" in d.log.read_text()
    finally:
        d.db.chmod(0o644)


def _slow_photo(path: Path) -> None:
    """A photo that takes a while to decode (60 MP of noise): long enough in `processing` for
    the test to change it under the worker."""
    Image.frombytes("L", (7746, 7746), os.urandom(7746 * 7746)).save(path, compress_level=0)


def test_photos_changed_moved_or_deleted_while_processed_end_right(daemon: Daemon,
                                                                   celebrities: Path) -> None:
    """While the running daemon holds a photo, it is overwritten, renamed or deleted: each
    ends as the file on disk says, with no dangling link and nothing left `processing`."""
    import hashlib

    d = daemon
    d.inbox.mkdir()
    face = photos_of(celebrities, "madonna")
    for p in face[:3]:  # a person, so that the changed photo has someone to join
        shutil.copy(p, d.inbox / f"known-{p.name}")
    d.start()
    wait_for(lambda: d.done() == 3 and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)

    def held(path: Path) -> bool:
        return d.query("SELECT status FROM images WHERE path = ?", str(path)) == [("processing",)]

    # overwritten with another photo while processed: it ends with the new content's faces
    changed = d.inbox / "changed.png"
    _slow_photo(changed)
    wait_for(lambda: held(changed), WORK_TIMEOUT, d.log, d.proc, d.state)
    new = d.inbox / "new.tmp"
    shutil.copy(face[3], new)
    os.replace(new, changed)
    want = hashlib.sha256(changed.read_bytes()).hexdigest()
    wait_for(lambda: d.query("SELECT status, sha256 FROM images WHERE path = ?",
                             str(changed)) == [("done", want)] and d.idle(),
             WORK_TIMEOUT, d.log, d.proc, d.state)
    assert _status(d)[str(changed)][2] >= 1  # the new photo's face, not the noise's none

    # renamed while processed: done under its new name, the old one forgotten
    moved = d.inbox / "moved.png"
    _slow_photo(moved)
    wait_for(lambda: held(moved), WORK_TIMEOUT, d.log, d.proc, d.state)
    renamed = d.inbox / "renamed.png"
    os.rename(moved, renamed)
    wait_for(lambda: str(renamed) in _status(d) and _status(d)[str(renamed)][0] == "done"
             and str(moved) not in _status(d) and d.idle(), WORK_TIMEOUT, d.log, d.proc, d.state)

    # deleted while processed: forgotten, no link left pointing at nothing
    gone = d.inbox / "gone.png"
    _slow_photo(gone)
    wait_for(lambda: held(gone), WORK_TIMEOUT, d.log, d.proc, d.state)
    gone.unlink()
    wait_for(lambda: str(gone) not in _status(d) and d.idle(), WORK_TIMEOUT,
             d.log, d.proc, d.state)
    assert all(os.path.exists(t) for t in d.targets())  # no dangling link
    assert not [p for p, (s, _e, _n) in _status(d).items() if s == "processing"]
    assert d.alive()
