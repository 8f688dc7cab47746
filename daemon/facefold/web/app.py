"""The web app: routes → core use cases → Jinja2 templates (pages) or JSON (changes). No logic of
its own beyond reading requests: every change is a core.people use case, written to the database
first with the folders following, exactly as from the CLI.

Pages are GET and change nothing. Changes are POSTs of JSON with the CSRF header that the page's
script copies from its cookie. Images are addressed by face or photo id only.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette_csrf import CSRFMiddleware

from facefold.core import browse
from facefold.core import people as people_uc
from facefold.core.library import Library
from facefold.db.people import PeopleError
from facefold.files import shown
from facefold.people.names import NameRefused
from facefold.web.access import Access

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PEOPLE_PER_PAGE = 60  # cards on a page of the people grid
FACES_PER_PAGE = 120  # face tiles on a page of a person or of the unassigned faces
PHOTOS_PER_PAGE = 60  # photos on a page of a person
SUGGESTIONS_SHOWN = 30  # "same person?" pairs on their page
FACES_PER_SUGGESTION = 5  # faces shown of each person of a pair
CANDIDATES_SHOWN = 6  # persons offered when moving faces
MAX_QUERY = 200  # characters of a search kept
MAX_IDS = 10_000  # faces or persons in one change
TOKEN_COOKIE = "facefold_token"
THUMB_CACHE = "private, max-age=604800, immutable"  # a face id's thumbnail never changes
PREVIEW_CACHE = "private, max-age=3600"  # a photo id may be edited in place: revalidate hourly
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self'; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
}

templates = Jinja2Templates(directory=HERE / "templates")


def _printable(value: object) -> object:
    """A file name that is not UTF-8 shows its stray bytes as U+FFFD (a page must be UTF-8);
    everything else, Markup included, is left as it is."""
    if not isinstance(value, str) or value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return type(value)(shown(value))
    return value


templates.env.finalize = _printable


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def _same(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


class TokenGate:
    """When a token is set, every request needs it: in the cookie a first visit to
    `/?token=…` sets, or as `Authorization: Bearer …`. Anything else gets 401."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        bearer = request.headers.get("authorization", "")
        if _same(request.cookies.get(TOKEN_COOKIE), self.token) or (
                bearer.startswith("Bearer ") and _same(bearer[7:], self.token)):
            await self.app(scope, receive, send)
            return
        response: Response
        if request.method == "GET" and _same(request.query_params.get("token"), self.token):
            clean = URL(scope=scope).remove_query_params("token")
            response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""),
                                        303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict",
                                max_age=400 * 86400)
        else:
            response = PlainTextResponse(
                "facefold asks for its token: open the address it printed at start-up "
                "(http://HOST:PORT/?token=…), or see web.token in its config.\n", 401,
                headers={"www-authenticate": 'Bearer realm="facefold"'})
        await response(scope, receive, send)


# Request bodies of the changes.

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameBody(_Body):
    name: str | None = Field(None, max_length=1000)


class HiddenBody(_Body):
    hidden: bool


class MergeBody(_Body):
    target: int
    others: list[int] = Field(min_length=1, max_length=MAX_IDS)


class FacesBody(_Body):
    faces: list[int] = Field(min_length=1, max_length=MAX_IDS)


class MoveBody(FacesBody):
    person: int


class NewPersonBody(FacesBody):
    name: str | None = Field(None, max_length=1000)


class ApartBody(_Body):
    a: int
    b: int


class NotFaceBody(FacesBody):
    undo: bool = False


def _int(request: Request, key: str, default: int = 1, least: int = 1) -> int:
    try:
        return max(least, int(request.query_params.get(key, default)))
    except ValueError:
        return default


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


def _image(request: Request, path: Path, cache: str) -> Response:
    """A cached JPEG, or 304 when the browser's copy (If-None-Match) is this one."""
    response = FileResponse(path, media_type="image/jpeg", headers={"cache-control": cache},
                            stat_result=os.stat(path))
    etag = response.headers.get("etag", "")
    seen = request.headers.get("if-none-match", "")
    if etag and etag in {t.strip().removeprefix("W/") for t in seen.split(",")}:
        return Response(status_code=304, headers={"etag": etag, "cache-control": cache})
    return response


def _ids(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise HTTPException(400, "ids must be numbers separated by commas") from None
    return out[:MAX_IDS]


def create_app(lib: Library, access: Access) -> Starlette:
    """The ASGI app for one library, behind the access rules."""

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"people_dir": lib.settings.people,
                                                          **context}, status_code=status)

    async def people_page(request: Request) -> Response:
        q = request.query_params.get("q", "")[:MAX_QUERY]
        hidden = request.query_params.get("hidden") == "1"
        n = _int(request, "page")
        found = await run_in_threadpool(browse.people, lib, q, hidden,
                                        (n - 1) * PEOPLE_PER_PAGE, PEOPLE_PER_PAGE)
        return page(request, "people.html", cards=found.rows, total=found.total, q=q,
                    hidden=hidden, page_no=n, pages=_pages(found.total, PEOPLE_PER_PAGE),
                    title="Hidden people" if hidden else "People")

    async def person_page(request: Request) -> Response:
        pid = request.path_params["pid"]
        fn, pn = _int(request, "faces"), _int(request, "photos")
        view = await run_in_threadpool(browse.person, lib, pid, (fn - 1) * FACES_PER_PAGE,
                                       (pn - 1) * PHOTOS_PER_PAGE, FACES_PER_PAGE)
        return page(request, "person.html", view=view, card=view.card,
                    title=view.card.name or f"Person {pid}", faces_no=fn, photos_no=pn,
                    face_pages=_pages(view.faces.total, FACES_PER_PAGE),
                    photo_pages=_pages(view.photos.total, PHOTOS_PER_PAGE))

    async def unassigned_page(request: Request) -> Response:
        n = _int(request, "page")
        found = await run_in_threadpool(browse.unassigned, lib, n, FACES_PER_PAGE)
        return page(request, "unassigned.html", runs=found.runs, total=found.total,
                    page_no=min(n, found.pages), pages=found.pages, title="Faces of nobody")

    async def suggestions_page(request: Request) -> Response:
        found = await run_in_threadpool(browse.doubts, lib, SUGGESTIONS_SHOWN,
                                        FACES_PER_SUGGESTION)
        return page(request, "suggestions.html", pairs=found.shown, left=found.total,
                    title="Same person?")

    async def photo_page(request: Request) -> Response:
        among = request.query_params.get("person", "")
        view = await run_in_threadpool(browse.photo, lib, request.path_params["image_id"],
                                       int(among) if among.isdigit() else None)
        return page(request, "photo.html", view=view, filename=Path(view.photo.path).name,
                    title=Path(view.photo.path).name)

    async def face_page(request: Request) -> Response:
        image_id = await run_in_threadpool(browse.photo_of_face, lib, request.path_params["fid"])
        return RedirectResponse(f"/photo/{image_id}", 303)

    async def status_page(request: Request) -> Response:
        view = await run_in_threadpool(browse.queue, lib)
        return page(request, "status.html", view=view, title="Status")

    async def status_json(request: Request) -> Response:
        view = await run_in_threadpool(browse.queue, lib)
        s = view.summary
        recent = [b for b in view.batches if b.seconds > 0]
        rate = (sum(b.photos for b in recent) / sum(b.seconds for b in recent)) if recent else 0.0
        queued = s.images_by_status.get("queued", 0) + s.images_by_status.get("processing", 0)
        return JSONResponse({
            "images": s.images_by_status, "faces": s.faces, "assigned_faces": s.assigned_faces,
            "persons": s.persons, "retrying": s.retrying, "processing": view.processing,
            "failures": [{"path": f.path, "error": f.error} for f in s.failures],
            "batches": [b.__dict__ for b in view.batches],
            "photos_per_second": round(rate, 2),
            "eta_seconds": round(queued / rate) if rate > 0 and queued else None})

    async def people_json(request: Request) -> Response:
        q = request.query_params.get("q", "")[:MAX_QUERY]
        cards = await run_in_threadpool(browse.pick_person, lib, q, CANDIDATES_SHOWN * 2)
        return JSONResponse([{"id": c.id, "name": c.name, "faces": c.faces, "face": c.face_id}
                             for c in cards])

    async def closest_json(request: Request) -> Response:
        fids = _ids(request.query_params.get("faces", ""))
        found = await run_in_threadpool(browse.closest, lib, fids, CANDIDATES_SHOWN)
        return JSONResponse([{"id": c.card.id, "name": c.card.name, "faces": c.card.faces,
                              "face": c.card.face_id, "distance": c.distance} for c in found])

    async def face_image(request: Request) -> Response:
        path = await run_in_threadpool(browse.face_thumbnail, lib, request.path_params["fid"])
        if path is None:
            raise HTTPException(404, "no such face")
        return _image(request, path, THUMB_CACHE)

    async def photo_image(request: Request) -> Response:
        size = request.path_params["size"]
        if size not in browse.PREVIEW_SIDES:
            raise HTTPException(404, "no such size")
        path = await run_in_threadpool(browse.photo_preview, lib,
                                       request.path_params["image_id"], size)
        if path is None:
            raise HTTPException(404, "no such photo")
        return _image(request, path, PREVIEW_CACHE)

    def change(model: type[_Body], run: Callable[[Any, Request], str | dict[str, Any]],
               ) -> Callable[[Request], Awaitable[Response]]:
        """A POST endpoint: parse the JSON body as `model`, run the use case in a thread,
        answer {"message": …} (plus what `run` adds), or 400 with the reason."""
        async def endpoint(request: Request) -> Response:
            try:
                raw = await request.body()
                body = model.model_validate_json(raw or b"{}")
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first["loc"]) or "body"
                return JSONResponse({"error": f"{where}: {first['msg']}"}, 400)
            try:
                out = await run_in_threadpool(run, body, request)
            except (PeopleError, NameRefused) as exc:
                return JSONResponse({"error": str(exc)}, 400)
            return JSONResponse(out if isinstance(out, dict) else {"message": out})
        return endpoint

    def who(pid: int) -> str:
        return browse.names(lib, [pid])[pid]

    def faces(n: int) -> str:
        return f"{n} face" if n == 1 else f"{n} faces"

    def of_whom(fids: list[int]) -> str:
        """ "Ana", "Ana and person 12", "3 people" or "nobody": whose faces these are now."""
        pids = sorted({p for p in browse.owners(lib, fids).values() if p is not None})
        if not pids:
            return "nobody"
        if len(pids) > 2:
            return f"{len(pids)} people"
        return " and ".join(browse.names(lib, pids).values())

    def do_name(b: NameBody, r: Request) -> str:
        pid = r.path_params["pid"]
        before = who(pid)
        stored = people_uc.name(lib, pid, b.name or None)
        if stored is None:
            return f"Took the name away: {before} is person {pid} again."
        return f"Named person {pid} {stored}." if before == f"person {pid}" else \
            f"Renamed {before} to {stored}."

    def do_hidden(b: HiddenBody, r: Request) -> str:
        pid = r.path_params["pid"]
        people_uc.ignore(lib, pid, b.hidden)
        if b.hidden:
            return f"Hid {who(pid)}: no folder, and faces like theirs go to them quietly."
        return f"{who(pid)} is shown again, with a folder."

    def do_merge(b: MergeBody, _r: Request) -> dict[str, Any]:
        people_uc.merge(lib, b.target, b.others)
        card = browse.card(lib, b.target)
        photos = card.photos if card else 0
        return {"message": f"Merged into {who(b.target)}: {photos} photo"
                           f"{'' if photos == 1 else 's'} now.", "person": b.target}

    def do_move(b: MoveBody, _r: Request) -> str:
        people_uc.move_faces(lib, b.faces, b.person)
        return f"Moved {faces(len(b.faces))} to {who(b.person)}."

    def do_unassign(b: FacesBody, _r: Request) -> str:
        owner = of_whom(b.faces)
        people_uc.unassign_faces(lib, b.faces)
        return f"Took {faces(len(b.faces))} out of {owner}."

    def do_not_face(b: NotFaceBody, _r: Request) -> str:
        owner = of_whom(b.faces)
        people_uc.not_a_face(lib, b.faces, b.undo)
        if b.undo:
            return f"{faces(len(b.faces))} count as faces again."
        gone = "" if owner == "nobody" else f", out of {owner}"
        return f"Threw away {faces(len(b.faces))} as not a face{gone}. Undo brings them back."

    def do_new(b: NewPersonBody, _r: Request) -> dict[str, Any]:
        pid = people_uc.new_person(lib, b.faces, b.name or None)
        return {"message": f"Made {who(pid)} of {faces(len(b.faces))}.", "person": pid}

    def do_apart(b: ApartBody, _r: Request) -> str:
        people_uc.apart(lib, b.a, b.b)
        return f"{who(b.a)} and {who(b.b)} are different people: they stay apart."

    def do_undo(_b: _Body, _r: Request) -> str:
        action = people_uc.undo(lib)
        return f"Undid {action}." if action else "Nothing left to undo."

    async def not_found(request: Request, exc: Exception) -> Response:
        detail = getattr(exc, "detail", None) or str(exc)
        status = getattr(exc, "status_code", 404)
        if request.url.path.startswith(("/api/", "/media/")):
            return JSONResponse({"error": detail}, status)
        return page(request, "error.html", status, title="Not here", message=detail)

    async def people_error(request: Request, exc: Exception) -> Response:
        return await not_found(request, HTTPException(404, str(exc)))

    routes = [
        Route("/", people_page),
        Route("/person/{pid:int}", person_page),
        Route("/unassigned", unassigned_page),
        Route("/suggestions", suggestions_page),
        Route("/photo/{image_id:int}", photo_page),
        Route("/face/{fid:int}", face_page),
        Route("/status", status_page),
        Route("/api/status", status_json),
        Route("/api/people", people_json),
        Route("/api/closest", closest_json),
        Route("/media/face/{fid:int}.jpg", face_image),
        Route("/media/photo/{image_id:int}/{size:str}.jpg", photo_image),
        Route("/api/person/{pid:int}/name", change(NameBody, do_name), methods=["POST"]),
        Route("/api/person/{pid:int}/hidden", change(HiddenBody, do_hidden), methods=["POST"]),
        Route("/api/merge", change(MergeBody, do_merge), methods=["POST"]),
        Route("/api/faces/move", change(MoveBody, do_move), methods=["POST"]),
        Route("/api/faces/unassign", change(FacesBody, do_unassign), methods=["POST"]),
        Route("/api/faces/new-person", change(NewPersonBody, do_new), methods=["POST"]),
        Route("/api/faces/not-a-face", change(NotFaceBody, do_not_face), methods=["POST"]),
        Route("/api/apart", change(ApartBody, do_apart), methods=["POST"]),
        Route("/api/undo", change(_Body, do_undo), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(access.hosts), www_redirect=False),
        Middleware(TokenGate, token=access.token),
        Middleware(CSRFMiddleware, secret=access.csrf_secret, cookie_samesite="strict"),
    ]
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={404: not_found, 400: not_found, 405: not_found,
                                         PeopleError: people_error})
