"""The web app served for real (uvicorn on a free loopback port, in a thread) and a raw HTTP
client for it: http.client sends paths exactly as given (`..`, `%2f`), which a browser or a
higher-level client would tidy first."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from facefold.core import Library
from facefold.web.server import WebServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Client:
    """Requests to one server, keeping cookies like a browser (CSRF cookie, token cookie)."""

    host: str
    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    host_header: str | None = None

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None, csrf: bool = True) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        host = f"{self.host}:{self.port}" if self.host_header is None else self.host_header
        h = {"Host": host, **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if method == "POST":
            h["Content-Length"] = str(len(data or b""))
        if csrf and method == "POST" and "csrftoken" in self.cookies:
            h["X-CSRFToken"] = self.cookies["csrftoken"]
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders(data)
        res = conn.getresponse()
        reply = Reply(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
        for raw in res.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(raw).items():
                self.cookies[name] = morsel.value
        conn.close()
        return reply

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        if "csrftoken" not in self.cookies and kw.get("csrf", True):
            self.get("/status")  # a first page hands out the CSRF cookie
        return self.request("POST", path, {} if body is None else body, **kw)


@contextmanager
def served(lib: Library, listen: str = "127.0.0.1:0",
           nodelay: bool = True) -> Iterator[tuple[WebServer, Client]]:
    """The web app for `lib` on a free port, and a client; stopped afterwards. (`nodelay`
    False: Nagle's algorithm left on, as before facefold turned it off; for a benchmark.)"""
    server = WebServer(lib, listen, nodelay)
    server.start()
    try:
        assert server.wait_started(), "the web app did not start"
        host = "127.0.0.1" if server.host in ("0.0.0.0", "") else server.host
        yield server, Client(host, server.port)
    finally:
        server.stop()
