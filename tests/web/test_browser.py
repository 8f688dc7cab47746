"""The web app in a real browser (Debian's Chromium through Selenium): a person names, fixes,
merges and hides people by clicking, and after each step the database and the people folders
say the same. Run on real photos with the real models, and on the fake library (whose
screenshots, free of anyone's face, are the README's: `make screenshots`)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from facefold.core import Library
from facefold.core.reports import faces_of
from facefold.core.scan import scan
from tests.helpers.browser import driver as make_driver
from tests.helpers.data import make_collage, photos_of
from tests.helpers.fakes import person_photo
from tests.helpers.web import served

pytestmark = pytest.mark.browser

# the pictures the README and docs/web.md show
README_SHOTS = ("people", "person", "move", "suggestions", "merge", "photo", "phone-person",
                "phone-people", "phone-photo")
PHONE, DESK = (390, 844), (1366, 900)  # CSS pixels
WAIT_SECONDS = 30  # a page reload after a change, on a busy 2-core machine


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    pytest.importorskip("selenium")
    d = make_driver(tmp_path)
    yield d
    d.quit()


class Flow:
    """One browser on one served library, with the checks against the database."""

    def __init__(self, d: Any, base: str, lib: Library, shots: Path) -> None:
        self.d, self.base, self.lib, self.shots = d, base, lib, shots
        shots.mkdir(parents=True, exist_ok=True)

    def q(self, sql: str, **args: object) -> list[Any]:
        with self.lib.session() as s:
            return list(s.execute(text(sql), args).all())

    def go(self, path: str) -> None:
        self.d.get(self.base + path)
        self.until(lambda: self.d.execute_script("return document.readyState") == "complete")

    def until(self, cond: Callable[[], Any], what: str = "") -> Any:
        end = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < end:
            try:
                got = cond()
                if got:
                    return got
            except Exception:  # an element replaced by a reload meanwhile
                pass
            time.sleep(0.05)
        self.shot("timeout")
        raise AssertionError(f"timed out waiting for {what or cond}")

    def changed(self, act: Callable[[], None]) -> None:
        """Do something that POSTs a change; wait for the page it reloads or opens."""
        from selenium.common.exceptions import StaleElementReferenceException

        old = self.d.find_element("tag name", "html")

        def gone() -> bool:
            try:
                old.is_enabled()
                return False
            except StaleElementReferenceException:
                return True

        act()
        self.until(gone, "the page to reload after a change")
        self.until(lambda: self.d.execute_script("return document.readyState") == "complete")
        flash = self.d.find_element("id", "flash")
        assert "error" not in (flash.get_attribute("class") or ""), flash.text

    def css(self, sel: str) -> list[Any]:
        return self.d.find_elements("css selector", sel)

    def one(self, sel: str) -> Any:
        return self.until(lambda: (self.css(sel) or [None])[0], sel)

    def shot(self, name: str) -> None:
        self.d.save_screenshot(str(self.shots / f"{name}.png"))

    def folders(self) -> dict[str, set[str]]:
        people = self.lib.settings.people
        return {d.name: {os.readlink(x) for x in d.iterdir()} for d in people.iterdir()}

    def person_of(self, fid: int) -> tuple[int | None, bool]:
        (row,) = self.q("SELECT person_id, pinned FROM faces WHERE id = :f", f=fid)
        return row[0], bool(row[1])

    def shown(self) -> list[int]:
        return [int(c.get_attribute("data-person")) for c in self.css(".card")]

    def screen(self, size: tuple[int, int]) -> None:
        """Lay pages out as on a screen of this size (a phone's is a touch screen)."""
        w, h = size
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600})
        self.d.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": w < 600})

    def sideways(self) -> int:
        """How far the page scrolls sideways (0: it fits the screen's width)."""
        return int(self.d.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"))

    def overlapping(self, sel: str) -> list[tuple[int, int]]:
        """Pairs of the elements matched (by index) whose boxes on screen overlap."""
        return self.d.execute_script(
            "const r = Array.from(document.querySelectorAll(arguments[0]))"
            ".map(e => e.getBoundingClientRect()); const out = [];"
            "for (let i = 0; i < r.length; i++) for (let j = i + 1; j < r.length; j++)"
            " if (r[i].left < r[j].right - 0.5 && r[j].left < r[i].right - 0.5 &&"
            " r[i].top < r[j].bottom - 0.5 && r[j].top < r[i].bottom - 0.5) out.push([i, j]);"
            "return out;", sel)


def run_flow(lib: Library, d: Any, shots: Path) -> None:
    """People grid → rename → split off and answer the suggestion → move a face and undo →
    merge two → hide one → a photo with its boxes → status."""
    with served(lib) as (srv, _client):
        f = Flow(d, f"http://127.0.0.1:{srv.port}", lib, shots)
        visible = f.q("SELECT p.id FROM persons p WHERE NOT p.hidden AND EXISTS "
                      "(SELECT 1 FROM faces WHERE person_id = p.id)")
        f.go("/")
        assert sorted(f.shown()) == sorted(r[0] for r in visible)
        ana = f.shown()[0]  # largest first
        f.shot("people")

        # rename inline
        f.css(f'.card[data-person="{ana}"] a')[0].click()
        box = f.one("#name")
        box.clear()
        f.changed(lambda: box.send_keys("Ana María\n"))
        assert f.q("SELECT name FROM persons WHERE id = :p", p=ana) == [("Ana María",)]
        assert "Ana María" in f.folders()
        assert f.one("#name").get_attribute("value") == "Ana María"
        f.shot("person")

        # take two faces out, make a person of them on the unassigned page, then answer the
        # "same person?" pair that makes with a keystroke
        split = [int(x.get_attribute("data-face")) for x in f.css(".face")[-2:]]
        for fid in split:
            f.one(f'.face[data-face="{fid}"] input.sel').click()
        f.changed(lambda: f.one("#unassign").click())
        assert all(f.person_of(fid) == (None, True) for fid in split)
        f.go("/unassigned")
        for fid in split:
            f.one(f'.face[data-face="{fid}"] input.sel').click()
        f.one("#new-name").send_keys("Split")
        f.changed(lambda: f.one("#new-person").click())
        new = f.person_of(split[0])[0]
        assert new not in (None, ana) and f.person_of(split[1])[0] == new
        assert "Split" in f.folders()
        f.go("/suggestions")
        pair = f.css(f'.pair[data-a="{min(ana, new)}"][data-b="{max(ana, new)}"]')
        assert pair, "the split-off faces are not offered as the same person"
        f.d.execute_script("arguments[0].focus()", pair[0])
        f.shot("suggestions")
        f.changed(lambda: f.d.find_element("tag name", "body").send_keys("y"))
        assert all(f.person_of(fid)[0] == ana for fid in split)
        assert "Split" not in f.folders()

        # move a face to who it looks like (the picker's first offer), then undo that
        f.go(f"/person/{ana}")
        fid = int(f.css(".face")[-1].get_attribute("data-face"))
        f.one(f'.face[data-face="{fid}"] input.sel').click()
        f.one("#move").click()
        first = f.one("#picker-list li")
        target = int(first.get_attribute("data-person"))
        f.shot("move")
        f.changed(first.click)
        assert f.person_of(fid) == (target, True)
        path = next(x.path for x in faces_of(lib, target) if x.id == fid)
        assert path in f.folders()[f"person_{target:04d}"]
        f.changed(lambda: f.one("#undo").click())
        assert f.person_of(fid)[0] == ana

        # merge the next two people
        f.go("/")
        a, b = [p for p in f.shown() if p != ana][:2]
        for p in (a, b):
            f.one(f'.card[data-person="{p}"] input.sel').click()
        f.one("#merge").click()
        f.one("#merger[open]")
        f.shot("merge")
        f.changed(lambda: f.one("#merger-go").click())
        assert f.q("SELECT id FROM persons WHERE id IN (:a, :b)", a=a, b=b) == [(a,)]
        assert f"person_{b:04d}" not in f.folders() and f"person_{a:04d}" in f.folders()

        # hide the merged person: no folder, not in the grid, in the hidden filter
        f.go(f"/person/{a}")
        f.changed(lambda: f.one("#hide").click())
        assert f.q("SELECT hidden FROM persons WHERE id = :p", p=a) == [(1,)]
        assert f"person_{a:04d}" not in f.folders()
        f.go("/")
        assert a not in f.shown()
        f.go("/?hidden=1")
        assert f.shown() == [a]

        # a photo with several faces: each boxed, on the picture, linking to its person
        (image_id, n), = f.q("SELECT image_id, COUNT(*) FROM faces GROUP BY image_id "
                             "ORDER BY COUNT(*) DESC, image_id LIMIT 1")
        f.go(f"/photo/{image_id}")
        f.until(lambda: f.d.execute_script(
            "const i = document.querySelector('#photo img'); return i.complete && i.naturalWidth"))
        boxes = f.css(".box")
        assert len(boxes) == n >= 2
        assert all(x.size["width"] > 10 and x.size["height"] > 10 for x in boxes)
        f.shot("photo")
        # fix a face where it is: "not a face" from the photo, then undo it
        last = f.css(".who li")[-1]
        fid = int(last.get_attribute("data-face"))
        f.changed(lambda: last.find_element("css selector", ".face-not").click())
        assert f.q("SELECT not_face FROM faces WHERE id = :f", f=fid) == [(1,)]
        assert len(f.css(".box")) == n - 1
        f.changed(lambda: f.one("#undo").click())
        assert f.q("SELECT not_face FROM faces WHERE id = :f", f=fid) == [(0,)]

        # status updates by itself
        f.go("/status")
        f.until(lambda: f.one("#updated").text.startswith("updated"))
        done = f.q("SELECT COUNT(*) FROM images WHERE status = 'done'")[0][0]
        assert f.one("#st-done").text == str(done)
        f.shot("status")

        # every page on a phone and on a desk: nothing scrolls sideways on the phone
        pages = {"people": "/", "person": f"/person/{ana}", "unassigned": "/unassigned",
                 "suggestions": "/suggestions", "photo": f"/photo/{image_id}?person={ana}",
                 "status": "/status", "hidden": "/?hidden=1"}
        for size in (PHONE, DESK):
            f.screen(size)
            for name, path in pages.items():
                f.go(path)
                if name == "photo":
                    f.until(lambda: f.d.execute_script(
                        "const i = document.querySelector('#photo img');"
                        "return i.complete && i.naturalWidth"))
                f.shot(f"{'phone' if size == PHONE else 'desk'}-{name}")
                if size == PHONE:
                    assert f.sideways() <= 0, f"{path} scrolls sideways on a phone"
        # the photo fits the screen, its faces' labels do not overlap
        f.screen(PHONE)
        f.go(f"/photo/{image_id}")
        f.until(lambda: f.d.execute_script(
            "const i = document.querySelector('#photo img'); return i.complete && i.naturalWidth"))
        frame = f.one("#photo").rect
        assert frame["width"] <= PHONE[0] and frame["width"] > PHONE[0] * 0.5
        assert not f.overlapping("#photo .badge")
        f.screen(DESK)
        f.go(f"/photo/{image_id}")
        assert f.one("#photo").rect["y"] + f.one("#photo").rect["height"] <= DESK[1]
        assert not f.overlapping("#photo .badge")

        # on the phone, faces ticked far down the page: what to do next is on the screen
        f.screen(PHONE)
        f.go(f"/person/{ana}")
        last = f.css(".face")[-1]
        f.d.execute_script("arguments[0].scrollIntoView()", last)
        f.one(f'.face[data-face="{last.get_attribute("data-face")}"] input.sel').click()
        bar = f.one("#actions")
        top, bottom = f.d.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom]", bar)
        assert 0 <= top and bottom <= PHONE[1], (top, bottom)
        f.shot("phone-person")
        # by keyboard: Enter on a ticked face goes to the actions
        f.one(f'.face[data-face="{last.get_attribute("data-face")}"] input.sel').send_keys("\n")
        assert f.d.switch_to.active_element.get_attribute("id") == "move"
        f.screen(DESK)


def test_fixing_people_in_the_browser_on_real_photos(real_lib: Library, celebrities: Path,
                                                    browser: Any, tmp_path: Path) -> None:
    inbox = real_lib.settings.inbox
    for person in ("elton_john", "madonna", "mindy_kaling"):
        for p in photos_of(celebrities, person, "train")[:6]:
            (inbox / person).mkdir(exist_ok=True)
            shutil.copy(p, inbox / person / p.name)
    make_collage(photos_of(celebrities, "elton_john", "val")[0],
                 photos_of(celebrities, "madonna", "val")[0], inbox / "collage.jpg")
    scan(real_lib)
    run_flow(real_lib, browser, tmp_path / "screenshots")


def test_fixing_people_in_the_browser_on_the_fake_library(lib: Library, browser: Any,
                                                         tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    for person, n in ((0, 6), (1, 4), (2, 4), (3, 3)):
        for k in range(n):
            person_photo(lib.settings.inbox / f"p{person}-{k}.png", person, rng)
    person_photo(lib.settings.inbox / "group.png", 1, rng, faces=3)
    scan(lib)
    shots = tmp_path / "screenshots"
    run_flow(lib, browser, shots)
    if out := os.environ.get("FACEFOLD_SCREENSHOTS"):  # `make screenshots`: the README's
        Path(out).mkdir(parents=True, exist_ok=True)
        for name in README_SHOTS:
            shutil.copy(shots / f"{name}.png", Path(out) / f"web-{name}.png")
