"""Seeing the people: the static HTML review page and contact sheets, rendered from what the core
gathered. The page works from file:// with no server and no network: one row per person (name or
id, counts, the most confident faces, a link to the folder, the commands to name, merge or ignore
it), then the faces of nobody. Images load lazily, so a library of 10,000 faces opens quickly.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import cv2
import numpy as np

from facefold.db.people import PersonSummary
from facefold.thumbs import THUMB_SIZE

SHEET_GAP = 4  # pixels between the tiles of a contact sheet
SHEET_BACKGROUND = 245  # grey level behind the tiles

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
.pair{border-left:4px solid #c80}.vs{align-self:center;font-size:28px;color:#c80;padding:0 8px}
"""


@dataclass(frozen=True)
class ReviewPerson:
    person: PersonSummary
    thumbs: list[tuple[int, str]]  # (face id, thumbnail path relative to the page)
    folder: str | None  # the person's folder relative to the page; None: hidden or no photos


def _img(face_id: int, src: str) -> str:
    return (f'<img loading="lazy" decoding="async" src="{html.escape(src)}" '
            f'width="{THUMB_SIZE}" height="{THUMB_SIZE}" alt="face {face_id}" '
            f'title="face {face_id}" data-face="{face_id}">')


def _person_section(row: ReviewPerson) -> str:
    p = row.person
    title = html.escape(p.name) if p.name else f"person {p.id}"
    link = f' · <a href="{html.escape(row.folder)}/">folder</a>' if row.folder else ""
    imgs = "".join(_img(fid, src) for fid, src in row.thumbs)
    return (f'<section class="person{" hidden" if p.hidden else ""}" id="person-{p.id}" '
            f'data-person="{p.id}"><h2>{title} <small>#{p.id} · {p.faces} faces · '
            f'{p.photos} photos{" · ignored" if p.hidden else ""}{link}</small></h2>'
            f'<div class="faces">{imgs}</div><div class="cmds">'
            f'<code>facefold name {p.id} "NAME"</code><code>facefold merge {p.id} OTHER_ID</code>'
            f'<code>facefold ignore {p.id}{" --undo" if p.hidden else ""}</code>'
            f'<code>facefold faces {p.id}</code></div></section>')


@dataclass(frozen=True)
class ReviewPair:
    """Two persons that may be one (`facefold suggest`), with a few faces of each."""

    a: int
    b: int
    title_a: str
    title_b: str
    distance: float  # their centres' distance, noise taken away (people.cluster)
    thumbs_a: list[tuple[int, str]]
    thumbs_b: list[tuple[int, str]]


PAIR_FACES = 4  # faces of each person shown beside a suggestion


def _pair_section(p: ReviewPair) -> str:
    imgs = "".join(_img(fid, src) for fid, src in p.thumbs_a[:PAIR_FACES])
    imgs += '<span class="vs">?</span>'
    imgs += "".join(_img(fid, src) for fid, src in p.thumbs_b[:PAIR_FACES])
    return (f'<section class="pair" data-pair="{p.a}-{p.b}"><h2>Same person? '
            f'{html.escape(p.title_a)} and {html.escape(p.title_b)} <small>'
            f'{p.distance:.2f} apart</small></h2><div class="faces">{imgs}</div>'
            f'<div class="cmds"><code>facefold merge {p.a} {p.b}</code>'
            f'<code>facefold apart {p.a} {p.b}</code></div></section>')


def render_review(rows: list[ReviewPerson], loose: list[tuple[int, str]], loose_total: int,
                  people_dir: str, pairs: list[ReviewPair] | None = None) -> str:
    """The review page: the doubtful pairs, a section per person in the order given, then the
    faces of nobody."""
    parts = [_pair_section(p) for p in pairs or []] + [_person_section(r) for r in rows]
    if loose_total:
        imgs = "".join(_img(fid, src) for fid, src in loose)
        parts.append(
            f'<section class="unassigned" id="unassigned"><h2>Faces of nobody '
            f'<small>{loose_total} shown</small></h2><div class="faces">{imgs}</div>'
            f'<div class="cmds"><code>facefold move FACE_ID PERSON_ID</code>'
            f'<code>facefold recluster</code></div></section>')
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>facefold review</title><style>{CSS}</style></head><body>"
        f"<header><h1>facefold: {len(rows)} people</h1><p>{html.escape(people_dir)}"
        f" · hover a face for its id</p></header><main>{''.join(parts)}</main></body></html>")


def compose_sheet(tiles: list[np.ndarray]) -> np.ndarray:
    """Lay BGR thumbnails out on a near-square grid (each scaled to THUMB_SIZE)."""
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    step = THUMB_SIZE + SHEET_GAP
    sheet = np.full((rows * step + SHEET_GAP, cols * step + SHEET_GAP, 3), SHEET_BACKGROUND,
                    np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = SHEET_GAP + r * step, SHEET_GAP + c * step
        sheet[y:y + THUMB_SIZE, x:x + THUMB_SIZE] = cv2.resize(t, (THUMB_SIZE, THUMB_SIZE))
    return sheet
