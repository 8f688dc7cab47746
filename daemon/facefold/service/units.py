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


def network_lines(settings: Settings) -> list[str]:
    """No network at all; or, with the web app on (web.listen), binding only its port and
    talking only to peers that may reach that address: loopback, or the private networks."""
    if not settings.web.listen:
        return ["PrivateNetwork=yes", "IPAddressDeny=any", "RestrictAddressFamilies=AF_UNIX"]
    host, port = parse_listen(settings.web.listen)
    peers = "localhost" if is_loopback(host) else f"localhost link-local {PRIVATE_NETWORKS}"
    return ["# The web app (web.listen): widen IPAddressAllow for clients beyond private networks.",
            "PrivateNetwork=no", "IPAddressDeny=any", f"IPAddressAllow={peers}",
            f"SocketBindAllow=tcp:{port}", "SocketBindDeny=any",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]


def render_unit(settings: Settings, user_unit: bool, user: str | None = None,
                executable: Path | None = None) -> str:
    """Return the unit text for `settings` (system unit unless `user_unit`)."""
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
    write = [settings.state_dir, settings.people]
    if settings.database.startswith("sqlite:///") and not Path(db).is_relative_to(settings.state_dir):
        write.append(Path(db).parent)
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
        "@NETWORK@": "\n".join(network_lines(settings)),
    }
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def unit_path(user_unit: bool) -> Path:
    if user_unit:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        return base / "systemd" / "user" / "facefold.service"
    return Path("/etc/systemd/system/facefold.service")
