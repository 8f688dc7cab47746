"""Serving the web app with uvicorn: on its own (`facefold serve`, in the foreground) or beside the
daemon (`facefold watch` with web.listen, in a thread started and stopped by the daemon)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from facefold.config import parse_listen
from facefold.core.library import Library
from facefold.web.access import Access, access_for
from facefold.web.app import create_app

log = logging.getLogger(__name__)

STOP_JOIN_SECONDS = 10.0  # longest wait for open requests when the server stops


class WebListenError(OSError):
    """The web app cannot listen where it was asked to (address in use, not this machine's)."""


def _bind(host: str, port: int, nodelay: bool = True) -> socket.socket:
    """A listening socket (port 0: any free port); raise WebListenError. Made as a TCP socket by
    name (IPPROTO_TCP), so that asyncio turns Nagle's algorithm off on every connection it
    accepts: else each response on a reused connection waits ~40 ms for the client's delayed
    ACK. `nodelay` False leaves Nagle on (a benchmark's before)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP if nodelay else 0)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WebListenError(f"the web app cannot listen on {host}:{port}: "
                             f"{exc.strerror or exc}") from None
    return sock


class WebServer:
    """The web app for one library at one address. `start()`/`stop()` run it in a thread;
    `run()` in the foreground until SIGINT/SIGTERM."""

    def __init__(self, lib: Library, listen: str, nodelay: bool = True) -> None:
        host, port = parse_listen(listen)
        self.access: Access = access_for(lib.settings, host)
        self._sock = _bind(host, port, nodelay)
        self.host, self.port = host, int(self._sock.getsockname()[1])
        config = uvicorn.Config(create_app(lib, self.access), lifespan="off", log_level="warning",
                                access_log=False, server_header=False, proxy_headers=False,
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open (with the token, when one is asked for)."""
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else (
            "::1" if self.host == "::" else self.host)
        netloc = f"[{shown}]" if ":" in shown else shown
        query = f"?token={self.access.token}" if self.access.token else ""
        return f"http://{netloc}:{self.port}/{query}"

    def announce(self) -> str:
        """The line that tells the user where to go. A generated token is printed with the
        address once, when it is made; after that it is read from the state dir."""
        if self.access.token and not self.access.token_is_new:
            where = ("web.token in the config" if self.access.token_from_config
                     else f"{self.access.token_file}")
            return f"web app at {self.url.split('?')[0]} (open it with ?token= from {where})"
        return f"web app at {self.url}"

    def run(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM."""
        self._server.run(sockets=[self._sock])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]},
                                        name="facefold-web", daemon=True)
        self._thread.start()

    def wait_started(self, timeout: float = 10.0) -> bool:
        """Wait until the server accepts requests; False when it failed or took too long."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._server.started:
                return True
            if self._thread is None or not self._thread.is_alive():
                return False
            time.sleep(0.02)
        return bool(self._server.started)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_JOIN_SECONDS)
            if self._thread.is_alive():
                log.warning("web app did not stop within %.0fs", STOP_JOIN_SECONDS)
        self._sock.close()
