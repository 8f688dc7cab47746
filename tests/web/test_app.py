"""The web app over real HTTP (uvicorn on a loopback port), on a library made with the fake
models: every page, every change through the same core use cases as the CLI, and the security
rules (token, CSRF, Host, escaping, files by id only, a read-only inbox)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest

from facefold.config import load_settings
from facefold.core import Library
from facefold.core.reports import faces_of, persons
from facefold.core.scan import scan
from facefold.db import people as people_store
from facefold.web.access import TOKEN_FILE
from tests.helpers.data import write_config
from tests.helpers.fakes import person_photo
from tests.helpers.web import Client, served

PAGES = ["/", "/?hidden=1", "/?q=an", "/unassigned", "/suggestions", "/status", "/api/status",
         "/api/people?q=", "/static/app.js", "/static/app.css"]


def _library(lib: Library, people: int = 3, each: int = 4) -> None:
    rng = np.random.default_rng(6)
    for person in range(people):
        for k in range(each):
            person_photo(lib.settings.inbox / f"p{person}-{k}.png", person, rng)
    person_photo(lib.settings.inbox / "group.png", 0, rng, faces=2)
    scan(lib)


def _pid(lib: Library, fragment: str) -> int:
    with lib.session() as s:
        (pid,) = {p for p, _n, path in people_store.person_photo_rows(s, include_hidden=True)
                  if fragment in path}
    return pid


def _folders(lib: Library) -> dict[str, set[str]]:
    return {d.name: {os.readlink(x) for x in d.iterdir()} for d in lib.settings.people.iterdir()}


def _image_id(lib: Library, name: str) -> int:
    from sqlalchemy import text

    with lib.session() as s:
        return int(s.execute(text("SELECT id FROM images WHERE path LIKE :p"),
                             {"p": f"%/{name}"}).scalar_one())


def test_every_page_answers_and_images_are_served_by_id(lib: Library) -> None:
    _library(lib)
    p0 = _pid(lib, "p0-")
    face = faces_of(lib, p0)[0]
    group = _image_id(lib, "group.png")
    with served(lib) as (_srv, c):
        for path in [*PAGES, f"/person/{p0}", f"/photo/{group}", f"/api/closest?faces={face.id}"]:
            r = c.get(path)
            assert r.status == 200, (path, r.text[:300])
            assert r.headers["x-frame-options"] == "DENY"
            assert "script-src 'self'" in r.headers["content-security-policy"]
        page = c.get(f"/photo/{group}").text
        assert page.count('class="box') == 2  # both faces boxed, each linking to its person
        assert f'href="/person/{p0}"' in page
        assert c.get(f"/face/{face.id}").headers["location"] == f"/photo/{_image_id(lib, Path(face.path).name)}"
        thumb = c.get(f"/media/face/{face.id}.jpg")
        assert thumb.status == 200 and thumb.body[:2] == b"\xff\xd8"
        assert "immutable" in thumb.headers["cache-control"] and "etag" in thumb.headers
        again = c.get(f"/media/face/{face.id}.jpg",
                      headers={"If-None-Match": thumb.headers["etag"]})
        assert again.status == 304
        big = c.get(f"/media/photo/{group}/large.jpg")
        assert big.status == 200 and big.body[:2] == b"\xff\xd8"
        assert "max-age" in big.headers["cache-control"]
        assert list((lib.settings.state_dir / "previews").rglob("*.jpg"))  # cached
        assert c.get(f"/media/photo/{group}/small.jpg").status == 200
        assert c.get(f"/media/photo/{group}/huge.jpg").status == 404
        for missing in ["/person/999", "/photo/999", "/face/999", "/media/face/999.jpg",
                        "/media/photo/999/large.jpg", "/nowhere"]:
            assert c.get(missing).status == 404, missing
        people = c.get("/api/people?q=").json()
        assert [p["faces"] for p in people] == sorted((p["faces"] for p in people), reverse=True)
        status = c.get("/api/status").json()
        assert status["images"]["done"] == 13 and status["persons"] == len(persons(lib))


def test_changes_go_to_the_database_and_the_folders_follow(lib: Library) -> None:
    _library(lib)
    p0, p1, p2 = (_pid(lib, f"p{i}-") for i in range(3))
    with served(lib) as (_srv, c):
        r = c.post(f"/api/person/{p0}/name", {"name": "  Ana\tMaría "})
        assert r.status == 200 and "Ana María" in r.json()["message"]
        assert "Ana María" in _folders(lib)
        assert r.json()["message"] == f"Named person {p0} Ana María."
        assert "Ana María" in c.get("/").text and "Ana María" in c.get("/?q=MAR%C3%8DA").text
        # search folds accents and case both ways
        for q in ("maria", "MARIA", "mar%C3%ADa"):
            assert f'data-person="{p0}"' in c.get(f"/?q={q}").text, q
        r = c.post(f"/api/person/{p2}/name", {"name": "Inacio"})
        assert f'data-person="{p2}"' in c.get("/?q=in%C3%A1cio").text
        assert f'data-person="{p0}"' not in c.get("/?q=in%C3%A1cio").text
        assert c.post(f"/api/person/{p2}/name", {"name": None}).json()["message"] == \
            f"Took the name away: Inacio is person {p2} again."
        # move two faces of p1 to p2 (pinned), then take one out, then make a person of it
        f1 = [f for f in faces_of(lib, p1) if "group" not in f.path]
        r = c.post("/api/faces/move", {"faces": [f1[0].id, f1[1].id], "person": p2})
        assert r.status == 200 and r.json()["message"] == f"Moved 2 faces to person {p2}.", r.text
        moved = {f.id: f for f in faces_of(lib, p2)}
        assert moved[f1[0].id].pinned and f1[1].id in moved
        r = c.post("/api/faces/unassign", {"faces": [f1[0].id]})
        assert r.json()["message"] == f"Took 1 face out of person {p2}."
        assert any(f.id == f1[0].id for f in _unassigned(lib))
        r = c.post("/api/faces/new-person", {"faces": [f1[0].id], "name": "Solo"})
        new = r.json()["person"]
        assert [f.id for f in faces_of(lib, new)] == [f1[0].id] and "Solo" in _folders(lib)
        # hide, show in the hidden filter, show again
        assert c.post(f"/api/person/{new}/hidden", {"hidden": True}).status == 200
        assert "Solo" not in _folders(lib) and "Solo" not in c.get("/").text
        assert "Solo" in c.get("/?hidden=1").text
        # merge, then undo it
        r = c.post("/api/merge", {"target": p1, "others": [p2]})
        assert r.status == 200 and r.json()["person"] == p1
        assert p2 not in {p.id for p in persons(lib)}
        assert r.json()["message"].startswith("Merged into person ")
        assert c.post("/api/undo").json()["message"] == f"Undid merging person {p2} into person {p1}."
        assert p2 in {p.id for p in persons(lib)}
        # keep apart
        assert c.post("/api/apart", {"a": p1, "b": p2}).status == 200
        with lib.session() as s:
            assert (min(p1, p2), max(p1, p2)) in people_store.apart_pairs(s)
        # refused changes say why and change nothing
        before = _folders(lib)
        for path, body, why in [
                ("/api/merge", {"target": p0, "others": [p0]}, "at least one other"),
                ("/api/merge", {"target": p0, "others": []}, "others"),
                ("/api/person/999/name", {"name": "X"}, "no person 999"),
                (f"/api/person/{p0}/name", {"name": "\n\t"}, "visible character"),
                ("/api/faces/move", {"faces": [999], "person": p0}, "no face 999"),
                ("/api/faces/move", {"faces": "1", "person": p0}, "faces"),
                ("/api/merge", {"target": p0, "others": [p1], "drop": 1}, "drop"),
        ]:
            r = c.post(path, body)
            assert r.status == 400 and why in r.json()["error"], (path, r.text)
        bad = c.request("POST", "/api/undo", headers={"Content-Type": "application/json"})
        assert bad.status in (200, 400)  # an empty body is an empty change, never a crash
        assert _folders(lib) == before


def test_not_a_face_from_the_web_app_is_for_good_and_can_be_undone(lib: Library) -> None:
    _library(lib)
    p0 = _pid(lib, "p0-")
    poster = next(f for f in faces_of(lib, p0) if "group" not in f.path)
    with served(lib) as (_srv, c):
        r = c.post("/api/faces/not-a-face", {"faces": [poster.id]})
        assert r.status == 200, r.text
        assert r.json()["message"] == (f"Threw away 1 face as not a face, out of person {p0}. "
                                       "Undo brings them back.")
        gone = {poster.path, os.path.realpath(poster.path)}
        assert not gone & {t for links in _folders(lib).values() for t in links}
        assert poster.id not in {f.id for f in faces_of(lib, p0)} | {f.id for f in _unassigned(lib)}
        assert f"/media/face/{poster.id}.jpg" not in c.get(f"/person/{p0}").text
        assert f"/media/face/{poster.id}.jpg" not in c.get("/unassigned").text
        from facefold.core import people as people_uc

        people_uc.recluster(lib, full=True)  # no recluster brings it back
        assert poster.id not in {f.id for f in faces_of(lib, p0)} | {f.id for f in _unassigned(lib)}
        r = c.post("/api/faces/not-a-face", {"faces": [poster.id], "undo": True})
        assert r.json()["message"] == "1 face count as faces again."
        people_uc.recluster(lib, full=True)
        assert poster.id in {f.id for f in faces_of(lib, p0)}


def test_the_photo_view_steps_through_a_persons_photos_and_fixes_a_face(lib: Library) -> None:
    _library(lib)
    p0 = _pid(lib, "p0-")
    photos = sorted(f.path for f in faces_of(lib, p0))
    ids = [_image_id(lib, Path(p).name) for p in photos]
    with served(lib) as (_srv, c):
        first = c.get(f"/photo/{ids[0]}?person={p0}").text
        assert f'title="{photos[0]}">{Path(photos[0]).name}</h1>' in first  # name, path on hover
        assert f'href="/photo/{ids[1]}?person={p0}"' in first and 'id="prev"' not in first
        assert f": 1 of {len(ids)}</a>" in first
        last = c.get(f"/photo/{ids[-1]}?person={p0}").text
        assert f'href="/photo/{ids[-2]}?person={p0}"' in last and 'id="next"' not in last
        plain = c.get(f"/photo/{ids[0]}").text  # not browsed among a person: no steps
        assert 'id="prev"' not in plain and 'id="next"' not in plain
        # every face is numbered and listed with the fixes for it
        group = c.get(f"/photo/{_image_id(lib, 'group.png')}").text
        assert group.count('class="badge"') == 4  # two on the photo, two in the list
        assert group.count('class="face-not"') == 2 and group.count('class="face-move"') == 2


def _unassigned(lib: Library) -> list:
    from facefold.db import faces as face_store

    with lib.session() as s:
        return face_store.faces_of_person(s, None)


def test_names_are_text_everywhere(lib: Library) -> None:
    _library(lib)
    p0 = _pid(lib, "p0-")
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with served(lib) as (_srv, c):
        assert c.post(f"/api/person/{p0}/name", {"name": evil}).status == 200
        group = _image_id(lib, "group.png")
        for path in ["/", f"/person/{p0}", f"/photo/{group}", "/?q=script", "/suggestions"]:
            page = c.get(path).text
            assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "&lt;script&gt;alert" in c.get(f"/person/{p0}").text
        assert c.get("/api/people?q=script").json()[0]["name"] == evil  # JSON: the script adds it as text


def test_changes_need_a_post_with_the_csrf_token(lib: Library) -> None:
    _library(lib, people=2, each=2)
    p0, p1 = _pid(lib, "p0-"), _pid(lib, "p1-")
    with served(lib) as (_srv, c):
        assert c.get("/api/merge").status == 405  # a GET never changes anything
        c.get("/")
        assert "csrftoken" in c.cookies
        r = c.post("/api/merge", {"target": p0, "others": [p1]}, csrf=False)
        assert r.status == 403
        r = c.post("/api/merge", {"target": p0, "others": [p1]},
                   headers={"X-CSRFToken": "forged"}, csrf=False)
        assert r.status == 403
        fresh = Client(c.host, c.port)  # another site's page: no cookie of ours to copy
        r = fresh.request("POST", "/api/merge", {"target": p0, "others": [p1]},
                          headers={"X-CSRFToken": c.cookies["csrftoken"]}, csrf=False)
        assert r.status == 403
        assert {p.id for p in persons(lib)} >= {p0, p1}
        assert c.post("/api/merge", {"target": p0, "others": [p1]}).status == 200


def test_the_host_header_is_checked(lib: Library) -> None:
    _library(lib, people=1, each=2)
    with served(lib) as (_srv, c):
        for host in ["evil.example", "evil.example:80", "127.0.0.1.evil.example", ""]:
            c.host_header = host
            assert c.get("/").status == 400, host
        for host in [f"127.0.0.1:{c.port}", f"localhost:{c.port}", "localhost"]:
            c.host_header = host
            assert c.get("/").status == 200, host


def test_beyond_loopback_a_token_is_needed(lib: Library, capsys: pytest.CaptureFixture[str]) -> None:
    _library(lib, people=1, each=2)
    with served(lib, "0.0.0.0:0") as (srv, c):
        token_file = lib.settings.state_dir / TOKEN_FILE
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert srv.access.token == token and srv.access.token_is_new
        assert f"?token={token}" in srv.announce()  # printed once, when made
        for path in ["/", "/status", "/api/status", "/media/face/1.jpg", "/static/app.js"]:
            assert c.get(path).status == 401, path
        assert c.post("/api/undo", csrf=False).status == 401
        assert c.get("/?token=wrong").status == 401
        assert c.get("/", headers={"Authorization": "Bearer wrong"}).status == 401
        assert c.get("/", headers={"Authorization": f"Bearer {token}"}).status == 200
        r = c.get(f"/?token={token}")
        assert r.status == 303 and r.headers["location"] == "/"
        assert "httponly" in r.headers["set-cookie"].lower()
        assert c.get("/").status == 200  # the cookie carries it from now on
    with served(lib, "0.0.0.0:0") as (srv, c):
        assert srv.access.token == token and not srv.access.token_is_new
        assert token not in srv.announce()  # not printed again
    # a configured token wins, and is asked for even on loopback
    settings = load_settings(write_config(lib.settings.state_dir.parent,
                                          web={"token": "a-configured-token-123"}))
    other = Library(settings, lib.models)
    with served(other) as (srv, c):
        assert c.get("/").status == 401
        assert c.get("/", headers={"Authorization": "Bearer a-configured-token-123"}).status == 200
    other.close()


def test_files_are_served_by_id_never_by_path(lib: Library, tmp_path: Path) -> None:
    _library(lib, people=2, each=2)
    secret = tmp_path / "secret.png"
    person_photo(secret, 1, np.random.default_rng(9))
    p0_photo = lib.settings.inbox / "p0-0.png"
    p0_id = _image_id(lib, "p0-0.png")
    with served(lib) as (_srv, c):
        for path in ["/media/face/../../config.yaml", "/media/face/..%2f..%2fconfig.yaml",
                     "/media/photo/1/..%2f..%2f..%2fconfig.yaml.jpg",
                     "/static/../config.yaml", "/static/%2e%2e/%2e%2e/config.yaml",
                     "/static/..%2f..%2f..%2fconfig.py", "/static/%2fetc%2fpasswd",
                     "/static//etc/passwd", "/media/face//etc/passwd.jpg",
                     f"/media/photo/{p0_id}/..%2flarge.jpg", "/media/face/-1.jpg",
                     "/media/face/1.jpg%00.png", "/photo/" + str(secret)]:
            r = c.get(path)
            assert r.status in (400, 404), (path, r.status)
            assert b"facefold configuration" not in r.body and b"root:" not in r.body
        # a photo replaced by a symlink to a file outside the inbox: never read through it
        p0_photo.unlink()
        p0_photo.symlink_to(secret)
        for f in (lib.settings.state_dir / "thumbs").rglob("*.jpg"):
            f.unlink()  # so thumbnails would be cut again from the photos
        assert c.get(f"/media/photo/{p0_id}/large.jpg").status == 404
        face = next(f for f in faces_of(lib, _pid(lib, "p0-")) if "p0-0" in f.path)
        assert c.get(f"/media/face/{face.id}.jpg").status == 404
        # a folder of photos replaced by a symlink to a folder outside
        sub = lib.settings.inbox / "sub"
        sub.mkdir()
        person_photo(sub / "x.png", 1, np.random.default_rng(3))
        scan(lib)
        x_id = _image_id(lib, "x.png")
        (tmp_path / "outside").mkdir()
        person_photo(tmp_path / "outside" / "x.png", 0, np.random.default_rng(4))
        (sub / "x.png").unlink()
        sub.rmdir()
        sub.symlink_to(tmp_path / "outside")
        assert c.get(f"/media/photo/{x_id}/large.jpg").status == 404


def test_the_inbox_stays_read_only(lib: Library) -> None:
    _library(lib)
    inbox = lib.settings.inbox

    def snapshot() -> dict[str, tuple[int, int, float]]:
        return {str(p): (p.stat().st_mode, p.stat().st_size, p.stat().st_mtime)
                for p in [inbox, *inbox.rglob("*")]}

    before = snapshot()
    for p in inbox.rglob("*"):
        p.chmod(0o444)
    inbox.chmod(0o555)
    try:
        before = snapshot()
        p0, p1 = _pid(lib, "p0-"), _pid(lib, "p1-")
        with served(lib) as (_srv, c):
            for path in [*PAGES, f"/person/{p0}", f"/photo/{_image_id(lib, 'group.png')}",
                         f"/media/photo/{_image_id(lib, 'group.png')}/large.jpg"]:
                assert c.get(path).status == 200, path
            assert c.post(f"/api/person/{p0}/name", {"name": "Ana"}).status == 200
            assert c.post("/api/merge", {"target": p0, "others": [p1]}).status == 200
            assert c.post("/api/undo").status == 200
        assert snapshot() == before
    finally:
        inbox.chmod(0o755)
        for p in inbox.rglob("*"):
            p.chmod(0o644)


def test_serve_prints_its_address_and_stops_on_ctrl_c(lib: Library) -> None:
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    _library(lib, people=1, each=2)
    proc = subprocess.Popen([sys.executable, "-m", "facefold.cli", "serve", "--config",
                             str(lib.settings.source), "--listen", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.search(r"web app at (http://127\.0\.0\.1:\d+/)", line)
        assert m, line
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(m.group(1), timeout=10) as res:
                    assert res.status == 200 and b"People" in res.read()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()


def test_serve_refuses_a_bad_address(lib: Library) -> None:
    import subprocess
    import sys

    for listen, code in [("nonsense", 2), ("127.0.0.1:99999", 2), ("192.0.2.1:8750", 1)]:
        r = subprocess.run([sys.executable, "-m", "facefold.cli", "serve", "--config",
                            str(lib.settings.source), "--listen", listen],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == code, (listen, r.stdout, r.stderr)
        assert "error" in r.stderr and "Traceback" not in r.stderr
