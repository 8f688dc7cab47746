import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facefold.config import Settings, load_settings
from facefold.service.units import render_unit


def _settings(tmp: Path, base: str, config_dir: str = "/etc/facefold") -> Settings:
    """Settings for a library under `base`, as if read from `config_dir/config.yaml`."""
    cfg = tmp / "config.yaml"
    cfg.write_text(f"inbox: {base}/photos\npeople: {base}/people\nstate_dir: {base}/state\n"
                   f"database: sqlite:///{base}/state/facefold.db\nmodels_dir: {base}/models\n")
    return load_settings(cfg).model_copy(update={"source": Path(config_dir) / "config.yaml"})


def test_system_unit_has_the_paths_and_hardening(tmp_path: Path) -> None:
    s = _settings(tmp_path, "/srv/ff")
    text = render_unit(s, user_unit=False, user="facefold", executable=Path("/opt/ff/bin/facefold"))
    assert not re.search(r"@[A-Z_]+@", text)
    lines = set(text.splitlines())
    for want in ("Type=notify", "User=facefold", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "RestartPreventExitStatus=78",
                 "ReadWritePaths=-/srv/ff/state -/srv/ff/people",
                 "ExecStart=/opt/ff/bin/facefold watch --config /etc/facefold/config.yaml"):
        assert want in lines, want
    assert any(line.startswith("WatchdogSec=") for line in lines)
    ro = next(line for line in lines if line.startswith("ReadOnlyPaths="))
    assert "-/srv/ff/photos" in ro and "-/srv/ff/models" in ro and "-/etc/facefold" in ro


@pytest.mark.parametrize(("base", "python", "private_tmp", "protect_home"), [
    ("/srv/ff", "/usr", "yes", "yes"), ("/tmp/ff", "/usr", "no", "yes"),
    ("/home/ana/ff", "/usr", "yes", "read-only"), ("/srv/ff", "/root/.pyenv/versions/3.11", "yes",
                                                   "read-only"),
    ("/srv/ff", "/tmp/python", "no", "yes")])
def test_paths_in_tmp_or_home_relax_only_what_they_need(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base: str, python: str,
        private_tmp: str, protect_home: str) -> None:
    # the Python the unit runs must be readable by the service: where it lives counts too
    monkeypatch.setattr(sys, "base_prefix", python)
    lines = render_unit(_settings(tmp_path, base), user_unit=False, user="facefold",
                        executable=Path("/opt/ff/bin/facefold")).splitlines()
    assert f"PrivateTmp={private_tmp}" in lines and f"ProtectHome={protect_home}" in lines


@pytest.mark.parametrize("user_unit", [False, True])
def test_systemd_analyze_accepts_the_unit(tmp_path: Path, user_unit: bool) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here")
    s = _settings(tmp_path, "/srv/ff", str(tmp_path))
    unit = tmp_path / "facefold.service"
    unit.write_text(render_unit(s, user_unit=user_unit, user="root"))
    args = [tool, "verify"] + (["--user"] if user_unit else []) + [str(unit)]
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "facefold.service" not in r.stderr, r.stderr  # no warnings about our unit
    if user_unit:
        return
    r = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True,
                       text=True)
    if "exposure level for facefold.service:" not in r.stdout:
        pytest.skip(f"this systemd-analyze cannot rate a unit offline: {r.stderr.strip()[-200:]}")
    score = float(r.stdout.split("exposure level for facefold.service:")[1].split()[0])
    assert score <= 2.0, r.stdout[-500:]


@pytest.mark.parametrize(("listen", "peers"), [
    ("", None), ("127.0.0.1:8750", "localhost"),
    ("0.0.0.0:9000", "localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7")])
def test_the_network_is_opened_only_for_the_web_app(tmp_path: Path, listen: str,
                                                    peers: str | None) -> None:
    s = _settings(tmp_path, "/srv/ff")
    s = s.model_copy(update={"web": s.web.model_copy(update={"listen": listen})})
    lines = render_unit(s, user_unit=False, user="facefold",
                        executable=Path("/opt/ff/bin/facefold")).splitlines()
    assert "IPAddressDeny=any" in lines and "NoNewPrivileges=yes" in lines
    if peers is None:
        assert "PrivateNetwork=yes" in lines and "RestrictAddressFamilies=AF_UNIX" in lines
        assert not any(x.startswith("IPAddressAllow") for x in lines)
    else:
        port = listen.rsplit(":", 1)[1]
        assert "PrivateNetwork=no" in lines and f"IPAddressAllow={peers}" in lines
        assert f"SocketBindAllow=tcp:{port}" in lines and "SocketBindDeny=any" in lines
    tool = shutil.which("systemd-analyze")
    if tool is not None:
        unit = tmp_path / "facefold.service"
        unit.write_text(render_unit(s, user_unit=False, user="root"))
        runtime = tmp_path / "run"
        runtime.mkdir(mode=0o700)
        r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                           env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
        assert r.returncode == 0 and "facefold.service" not in r.stderr, r.stderr


@pytest.mark.parametrize(("database", "peers", "socket_dir"), [
    ("postgresql+psycopg://ff@/facefold", None, "/run/postgresql"),
    ("postgresql+psycopg://ff@/facefold?host=/srv/pg", None, "/srv/pg"),
    ("postgresql+psycopg://ff:pw@localhost/facefold", "localhost", None),
    ("postgresql+psycopg://ff:pw@nas.lan:5432/facefold", "localhost link-local 10.0.0.0/8",
     None)])
def test_a_worker_unit_reaches_its_database_and_writes_no_people(
        tmp_path: Path, database: str, peers: str | None, socket_dir: str | None) -> None:
    s = _settings(tmp_path, "/srv/ff").model_copy(update={"database": database})
    text = render_unit(s, user_unit=False, user="facefold",
                       executable=Path("/opt/ff/bin/facefold"), worker=True)
    assert not re.search(r"@[A-Z_]+@", text)
    lines = set(text.splitlines())
    assert "ExecStart=/opt/ff/bin/facefold worker --config /etc/facefold/config.yaml" in lines
    assert "SyslogIdentifier=facefold-worker" in lines
    rw = next(line for line in lines if line.startswith("ReadWritePaths="))
    assert "/srv/ff/people" not in rw and "-/srv/ff/state" in rw
    if socket_dir is not None:
        assert f"-{socket_dir}" in rw
    if peers is None:
        assert "PrivateNetwork=yes" in lines and "RestrictAddressFamilies=AF_UNIX" in lines
    else:
        allow = next(line for line in lines if line.startswith("IPAddressAllow="))
        assert allow.startswith(f"IPAddressAllow={peers}") and "PrivateNetwork=no" in lines
        assert "SocketBindDeny=any" in lines and not any(
            line.startswith("SocketBindAllow") for line in lines)  # a worker listens nowhere
    tool = shutil.which("systemd-analyze")
    if tool is not None:
        unit = tmp_path / "facefold-worker.service"
        unit.write_text(render_unit(s, user_unit=False, user="root", worker=True))
        runtime = tmp_path / "run"
        runtime.mkdir(mode=0o700)
        r = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                           env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
        assert r.returncode == 0 and "facefold-worker.service" not in r.stderr, r.stderr
