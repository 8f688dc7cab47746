"""Seeing the people: a static HTML review page and contact sheets of face thumbnails.

The page works from file:// with no server and no network: one row per person (name or id,
counts, the most confident faces, a link to the folder, the commands to name, merge or ignore it),
then the faces of nobody. Images load lazily, so a library of 10,000 faces opens quickly.
"""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy.orm import Session

from facefold.config import Settings
from facefold.db import store
from facefold.service.recluster import person_folders
from facefold.thumbs import THUMB_SIZE, ensure_thumb

FACES_PER_PERSON = 12  # thumbnails in a person's row
UNASSIGNED_SHOWN = 400  # faces of nobody shown at the end
SHEET_MAX_FACES = 100  # faces on a contact sheet

CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
header{padding:16px 24px;background:#233;color:#fff}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.8}
main{padding:8px 24px}
section{background:#fff;border-radius:8px;margin:12px 0;padding:12px 16px;box-shadow:0 1px 2px #0002}
h2{font-size:17px;margin:0 0 4px}h2 small{font-weight:normal;color:#666}
.hidden h2{color:#888}
.faces{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.faces img{width:96px;height:96px;border-radius:6px;object-fit:cover;background:#ddd}
code{background:#eef;padding:2px 5px;border-radius:4px;font-size:13px;user-select:all}
.cmds{display:flex;flex-wrap:wrap;gap:8px;font-size:13px;color:#555}
a{color:#236}
"""


@dataclass(frozen=True)
class ReviewResult:
    path: Path
    persons: int
    faces_shown: int
    unassigned_shown: int


def _thumb(settings: Settings, f: store.ReviewFace) -> Path | None:
    return ensure_thumb(settings.state_dir, f.id, f.path, f.landmarks,
                        settings.decode.max_file_bytes, settings.decode.max_pixels,
                        settings.embedding.margin, settings.follow_symlinks)


def _img(src: Path, out_dir: Path, face_id: int) -> str:
    rel = os.path.relpath(src, out_dir)
    return (f'<img loading="lazy" decoding="async" src="{html.escape(Path(rel).as_posix())}" '
            f'width="{THUMB_SIZE}" height="{THUMB_SIZE}" alt="face {face_id}" '
            f'title="face {face_id}" data-face="{face_id}">')


def write_review(s: Session, settings: Settings, out_dir: Path) -> ReviewResult:
    """Write `out_dir/index.html` for the people in the store; return what it shows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = store.person_summaries(s)
    faces = store.review_faces(s, FACES_PER_PERSON, UNASSIGNED_SHOWN)
    folders = person_folders(store.person_photo_rows(s))
    by_person: dict[int | None, list[store.ReviewFace]] = {}
    for f in faces:
        by_person.setdefault(f.person_id, []).append(f)

    def thumbs(items: list[store.ReviewFace]) -> tuple[str, int]:
        parts = []
        for f in items:
            p = _thumb(settings, f)
            if p is not None:
                parts.append(_img(p, out_dir, f.id))
        return "".join(parts), len(parts)

    rows = []
    shown = 0
    visible = [p for p in summaries if p.faces > 0]
    for p in sorted(visible, key=lambda p: (p.hidden, -p.faces, p.id)):
        imgs, n = thumbs(by_person.get(p.id, []))
        shown += n
        title = html.escape(p.name) if p.name else f"person {p.id}"
        folder = folders.get(p.id)
        link = ""
        if folder and not p.hidden:
            href = Path(os.path.relpath(settings.people / folder, out_dir)).as_posix()
            link = f' · <a href="{html.escape(href)}/">folder</a>'
        rows.append(
            f'<section class="person{" hidden" if p.hidden else ""}" id="person-{p.id}" '
            f'data-person="{p.id}"><h2>{title} <small>#{p.id} · {p.faces} faces · '
            f'{p.photos} photos{" · ignored" if p.hidden else ""}{link}</small></h2>'
            f'<div class="faces">{imgs}</div><div class="cmds">'
            f'<code>facefold name {p.id} "NAME"</code><code>facefold merge {p.id} OTHER_ID</code>'
            f'<code>facefold ignore {p.id}{" --undo" if p.hidden else ""}</code>'
            f'<code>facefold faces {p.id}</code></div></section>')
    loose, n_loose = thumbs(by_person.get(None, []))
    total_loose = sum(1 for f in faces if f.person_id is None)
    if total_loose:
        rows.append(
            f'<section class="unassigned" id="unassigned"><h2>Faces of nobody '
            f'<small>{total_loose} shown</small></h2><div class="faces">{loose}</div>'
            f'<div class="cmds"><code>facefold move FACE_ID PERSON_ID</code>'
            f'<code>facefold recluster</code></div></section>')
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>facefold review</title><style>{CSS}</style></head><body>"
        f"<header><h1>facefold: {len(visible)} people</h1><p>{html.escape(str(settings.people))}"
        f" · hover a face for its id</p></header><main>{''.join(rows)}</main></body></html>")
    path = out_dir / "index.html"
    tmp = path.with_name("index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return ReviewResult(path, len(visible), shown, n_loose)


def write_sheet(s: Session, settings: Settings, person_id: int, out: Path) -> int:
    """Write a contact sheet PNG of a person's faces (most confident first); return how many."""
    faces = [f for f in store.review_faces(s, SHEET_MAX_FACES, 0) if f.person_id == person_id]
    if not faces:
        store.faces_of(s, person_id)  # raises PeopleError for an unknown person
    tiles = []
    for f in faces:
        p = _thumb(settings, f)
        if p is not None:
            img = cv2.imread(str(p))
            if img is not None:
                tiles.append(cv2.resize(img, (THUMB_SIZE, THUMB_SIZE)))
    if not tiles:
        raise store.PeopleError(f"person {person_id} has no faces to show")
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    gap = 4
    sheet = np.full((rows * (THUMB_SIZE + gap) + gap, cols * (THUMB_SIZE + gap) + gap, 3), 245,
                    np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gap + r * (THUMB_SIZE + gap), gap + c * (THUMB_SIZE + gap)
        sheet[y:y + THUMB_SIZE, x:x + THUMB_SIZE] = t
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet):
        raise OSError(f"cannot write {out}")
    return len(tiles)
