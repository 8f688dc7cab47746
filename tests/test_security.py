"""Nobody gets out: names, paths and planted links cannot make facefold write or delete outside
its people folder and state dir, and nothing it reads can run code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facefold.config import load_settings
from facefold.core import Library
from facefold.core.people import recluster
from facefold.db import queue
from facefold.db.faces import NewFace
from tests.helpers.data import write_config

PACKAGE = Path(__file__).resolve().parents[1] / "daemon" / "facefold"
CLI = [sys.executable, "-m", "facefold.cli"]

# Loaders that can execute code from what they read. `pickle.dump` (the `encode` output) is fine.
UNSAFE = [
    r"pickle\.loads?\(", r"\bUnpickler\b", r"yaml\.(unsafe_)?load\(", r"yaml\.full_load",
    r"allow_pickle\s*=\s*True", r"\beval\(", r"\bexec\(", r"\bmarshal\.", r"\bshelve\.",
    r"load_model\(", r"torch\.load", r"joblib\.load", r"dill\.", r"shell\s*=\s*True",
    r"os\.system\(",
]


def test_nothing_loads_an_executable_format_or_runs_a_shell() -> None:
    hits = []
    for path in PACKAGE.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(re.search(p, line) for p in UNSAFE):
                hits.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert hits == []
    npz_loads = [line for p in PACKAGE.rglob("*.py")
                 for line in p.read_text(encoding="utf-8").splitlines() if "np.load(" in line]
    assert all("allow_pickle=False" in line for line in npz_loads), npz_loads


def _library(tmp: Path) -> tuple[Path, Path]:
    """A database with two people (vectors made up, photos real files) and their folders."""
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = write_config(tmp)
    settings = load_settings(cfg)
    settings.inbox.mkdir(parents=True)
    lib = Library(settings)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2, 128))
    with lib.session() as s:
        for i in range(8):
            photo = settings.inbox / f"p{i}.jpg"
            photo.write_bytes(b"x%d" % i)
            v = centres[i % 2] + rng.normal(scale=0.5, size=128)  # photos ~0.6 apart
            face = NewFace((1, 1, 50, 50), [[0.0, 0.0]] * 5, 0.99,
                           (v / np.linalg.norm(v)).astype(np.float32))
            queue.record_processed(s, str(photo), f"{i:064x}", 2, 0.0, 100, 100, [face])
        s.commit()
    assert recluster(lib, full=True).persons == 2  # and the folders synced
    lib.close()
    return cfg, settings.people


def _all_paths(root: Path) -> set[Path]:
    return {Path(d) / f for d, dirs, files in os.walk(root) for f in [*dirs, *files]}


USABLE = ["../../outside", "/etc/cron.d/facefold", "..", ".", "a/../../b", "~root", "-rf"]
REFUSED = {"\n": "at least one visible character", "x" * 300: "at most 200 bytes"}


@pytest.mark.parametrize("name", USABLE + list(REFUSED))
def test_a_person_name_never_leaves_the_people_folder(tmp_path: Path, name: str) -> None:
    cfg, people = _library(tmp_path / "lib")
    before = _all_paths(tmp_path)
    r = subprocess.run([*CLI, "name", "--config", str(cfg), "1", "--", name], capture_output=True,
                       text=True, timeout=120)
    created = _all_paths(tmp_path) - before
    state = tmp_path / "lib" / "state"
    outside = [p for p in created if not (p.is_relative_to(people) or p.is_relative_to(state))]
    assert outside == []
    assert "Traceback" not in r.stderr
    if name in REFUSED:
        assert r.returncode == 1 and r.stderr.startswith("error: ") and REFUSED[name] in r.stderr
        assert {p for p in created if p.parent == people} == set()
    else:  # a usable name: one new folder, directly in the people folder
        assert r.returncode == 0, r.stderr
        folders = {p for p in created if p.parent == people}
        assert len(folders) == 1 and not next(iter(folders)).is_symlink()


def test_planted_symlinks_are_never_followed_or_deleted(tmp_path: Path) -> None:
    cfg, people = _library(tmp_path / "lib")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "diary.txt").write_text("private")
    folders = sorted(p for p in people.iterdir())
    # another user swaps a person folder for a symlink to their own folder, and plants a
    # symlinked folder under a name a person is about to take
    for link in os.listdir(folders[0]):
        os.unlink(folders[0] / link)
    folders[0].rmdir()
    os.symlink(victim, folders[0])
    os.symlink(victim, people / "Ana")
    for args in (["name", "2", "Ana"], ["merge", "2", "1"], ["recluster", "--full"]):
        r = subprocess.run([*CLI, *args, "--config", str(cfg)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0 and "Traceback" not in r.stderr, (args, r.stderr)
    assert sorted(os.listdir(victim)) == ["diary.txt"]
    assert (victim / "diary.txt").read_text() == "private"
    assert os.path.islink(folders[0]) and os.path.islink(people / "Ana")
