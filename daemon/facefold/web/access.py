"""Who may talk to the web app: the token a browser needs beyond loopback, the Host names it
answers to, and the secret its CSRF cookies are signed with."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from facefold.config import Settings

TOKEN_FILE = "web-token"  # in the state dir, owner-only: the generated token
SECRET_FILE = "web-secret"  # in the state dir, owner-only: signs the CSRF cookies
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read_or_make(path: Path, nbytes: int) -> tuple[str, bool]:
    """The secret in `path`, made (owner-only) when missing; and whether it was made now."""
    try:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value, False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value + "\n")
    return value, True


@dataclass(frozen=True)
class Access:
    token: str | None  # None: no token asked for (loopback, none configured)
    token_is_new: bool  # generated just now: print it once
    token_from_config: bool
    token_file: Path  # where a generated token is kept
    hosts: tuple[str, ...]  # Host header values accepted (without port)
    csrf_secret: str


def _machine_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        try:
            names |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
        except OSError:
            pass
    return {n for n in names if n}


def access_for(settings: Settings, host: str) -> Access:
    """The rules for an app listening on `host`: a token whenever one is configured or the
    address is beyond loopback (generated into the state dir when none is configured)."""
    web = settings.web
    token: str | None = web.token or None
    new = False
    if token is None and not is_loopback(host):
        token, new = _read_or_make(settings.state_dir / TOKEN_FILE, 24)
    hosts = set(LOOPBACK_NAMES) | set(web.hosts)
    if host in WILDCARDS:
        hosts |= _machine_names()
    else:
        hosts.add(host)
    secret, _ = _read_or_make(settings.state_dir / SECRET_FILE, 32)
    # a Host header writes an IPv6 address in brackets
    return Access(token, new, bool(web.token), settings.state_dir / TOKEN_FILE,
                  tuple(sorted(f"[{h}]" if ":" in h else h for h in hosts)), secret)
