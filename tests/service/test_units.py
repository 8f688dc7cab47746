import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from facefold.config import load_settings
from facefold.service.units import render_unit


def _config(tmp: Path, base: str) -> Path:
    cfg = tmp / "config.yaml"
    cfg.write_text(f"inbox: {base}/photos\npeople: {base}/people\nstate_dir: {base}/state\n"
                   f"database: sqlite:///{base}/state/facefold.db\nmodels_dir: {base}/models\n")
    return cfg


def test_system_unit_has_the_paths_and_hardening(tmp_path: Path) -> None:
    s = load_settings(_config(tmp_path, "/srv/ff"))
    text = render_unit(s, user_unit=False, user="facefold", executable=Path("/opt/ff/bin/facefold"))
    assert not re.search(r"@[A-Z_]+@", text)
    lines = set(text.splitlines())
    for want in ("Type=notify", "User=facefold", "Restart=on-failure", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "RestartPreventExitStatus=78",
                 # the config file itself lives in the test's tmp folder
                 "PrivateTmp=no" if str(tmp_path).startswith("/tmp") else "PrivateTmp=yes",
                 "ReadWritePaths=-/srv/ff/state -/srv/ff/people",
                 f"ExecStart=/opt/ff/bin/facefold watch --config {tmp_path / 'config.yaml'}"):
        assert want in lines, want
    assert any(line.startswith("WatchdogSec=") for line in lines)
    ro = next(line for line in lines if line.startswith("ReadOnlyPaths="))
    assert "-/srv/ff/photos" in ro and "-/srv/ff/models" in ro


def test_paths_in_tmp_or_home_relax_only_what_they_need(tmp_path: Path) -> None:
    s = load_settings(_config(tmp_path, str(tmp_path)))
    text = render_unit(s, user_unit=False, user="facefold")
    if str(tmp_path).startswith("/tmp"):
        assert "PrivateTmp=no" in text


@pytest.mark.parametrize("user_unit", [False, True])
def test_systemd_analyze_accepts_the_unit(tmp_path: Path, user_unit: bool) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed here")
    s = load_settings(_config(tmp_path, "/srv/ff"))
    unit = tmp_path / "facefold.service"
    unit.write_text(render_unit(s, user_unit=user_unit, user="root"))
    args = [tool, "verify"] + (["--user"] if user_unit else []) + [str(unit)]
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "facefold.service" not in r.stderr, r.stderr  # no warnings about our unit
    if not user_unit:
        r = subprocess.run([tool, "security", "--offline=true", str(unit)], capture_output=True,
                           text=True)
        if r.returncode == 0 or "exposure level" in r.stdout:
            score = float(r.stdout.split("exposure level for facefold.service:")[1].split()[0])
            assert score <= 2.0, r.stdout[-500:]
