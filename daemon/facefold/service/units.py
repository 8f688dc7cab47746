"""systemd units for the daemon: the templates in `systemd/`, filled in with this install's paths."""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import sys
from pathlib import Path

from facefold.config import Settings, parse_listen
from facefold.web.access import is_loopback

HOME_ROOTS = (Path("/home"), Path("/root"), Path("/run/user"))
TMP_ROOTS = (Path("/tmp"), Path("/var/tmp"))
PRIVATE_NETWORKS = "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7"  # a home's LAN


def templates_dir() -> Path:
    """The unit templates: packaged inside the wheel, or the repository's `systemd/` folder."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_systemd"
    return packaged if packaged.is_dir() else here.parent.parent / "systemd"


def facefold_executable() -> Path:
    found = shutil.which("facefold")
    if found:
        return Path(found).resolve()
    return (Path(sys.executable).parent / "facefold").resolve()


def _under(p: Path, roots: tuple[Path, ...]) -> bool:
    return any(p.is_relative_to(r) for r in roots)


def _quote(p: Path) -> str:
    s = str(p)
    return f'"{s}"' if any(c.isspace() for c in s) else s


def _database_peer(settings: Settings) -> tuple[str | None, Path | None]:
    """Where the database is reached: (TCP host, or None; Unix socket folder, or None)."""
    from sqlalchemy.engine import make_url

    u = make_url(settings.database)
    if u.get_backend_name() == "sqlite":
        return None, None
    host = str(u.query.get("host") or u.host or "")
    if not host or host.startswith("/"):
        return None, Path(host or "/run/postgresql")  # libpq's default socket folder on Debian
    return host, None


def network_lines(settings: Settings, web: bool = True) -> list[str]:
    """No network at all; or only what is needed: binding the web app's port (web.listen, when
    `web`), and talking to peers that may reach it or to a database server on the network
    (loopback, or also a home's private networks)."""
    db_host, _socket = _database_peer(settings)
    listen = settings.web.listen if web else ""
    if not listen and db_host is None:
        return ["PrivateNetwork=yes", "IPAddressDeny=any", "RestrictAddressFamilies=AF_UNIX"]
    hosts = [h for h in (parse_listen(listen)[0] if listen else None, db_host) if h is not None]
    local = all(is_loopback(h) or h == "localhost" for h in hosts)
    peers = "localhost" if local else f"localhost link-local {PRIVATE_NETWORKS}"
    lines = ["# The web app (web.listen) or the database server: widen IPAddressAllow for peers "
             "beyond private networks.",
             "PrivateNetwork=no", "IPAddressDeny=any", f"IPAddressAllow={peers}"]
    if listen:
        lines.append(f"SocketBindAllow=tcp:{parse_listen(listen)[1]}")
    return [*lines, "SocketBindDeny=any", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]


def render_unit(settings: Settings, user_unit: bool, user: str | None = None,
                executable: Path | None = None, worker: bool = False) -> str:
    """Return the unit text for `settings` (system unit unless `user_unit`): the daemon
    (`facefold watch`), or with `worker` a `facefold worker` beside it."""
    if settings.source is None:
        raise ValueError("the unit needs a config file on disk (--config PATH)")
    template = (templates_dir() / ("facefold-user.service" if user_unit else "facefold.service"))
    text = template.read_text(encoding="utf-8")
    exe = executable or facefold_executable()
    user = user or getpass.getuser()
    try:
        group = grp.getgrgid(os.getgid()).gr_name if user == getpass.getuser() else user
    except KeyError:
        group = user
    db = settings.database.removeprefix("sqlite:///")
    write = [settings.state_dir] if worker else [settings.state_dir, settings.people]
    if settings.database.startswith("sqlite:///") and not Path(db).is_relative_to(settings.state_dir):
        write.append(Path(db).parent)
    socket_dir = _database_peer(settings)[1]
    if socket_dir is not None:
        write.append(socket_dir)  # connecting to the server's socket is a write
    read = [settings.inbox, settings.models_dir, exe.parent.parent, Path(sys.base_prefix).resolve(),
            settings.source.parent]
    everything = write + read
    values = {
        "@FACEFOLD@": _quote(exe),
        "@CONFIG@": _quote(settings.source),
        "@USER@": user,
        "@GROUP@": group,
        "@PROTECT_HOME@": "read-only" if any(_under(p, HOME_ROOTS) for p in everything) else "yes",
        "@PRIVATE_TMP@": "no" if any(_under(p, TMP_ROOTS) for p in everything) else "yes",
        "@READ_WRITE@": " ".join(f"-{_quote(p)}" for p in dict.fromkeys(write)),
        "@READ_ONLY@": " ".join(f"-{_quote(p)}" for p in dict.fromkeys(read)),
        "@NETWORK@": "\n".join(network_lines(settings, web=not worker)),
        "@COMMAND@": "worker" if worker else "watch",
        "@NAME@": unit_name(worker),
        "@DESCRIPTION@": ("facefold worker: find and embed the faces of queued photos" if worker
                          else "facefold: sort photos into a folder per person"),
    }
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def unit_name(worker: bool = False) -> str:
    return "facefold-worker" if worker else "facefold"


def unit_path(user_unit: bool, worker: bool = False) -> Path:
    name = f"{unit_name(worker)}.service"
    if user_unit:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        return base / "systemd" / "user" / name
    return Path("/etc/systemd/system") / name
