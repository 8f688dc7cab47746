"""Debian's Chromium, headless, for tests that look at pages the way a user's browser does.
`make test`'s set-up installs it; where it is missing the test is skipped with the reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.skip("chromium is not installed (`make test` installs Debian's chromium when root)")


def chromium(args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}"]
    return subprocess.run([find_chromium(), *flags, *args], capture_output=True, text=True,
                          timeout=180)
