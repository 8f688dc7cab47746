"""Debian's Chromium, headless, for tests that look at pages the way a user's browser does.
`make test`'s set-up installs it; where it is missing the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

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


def find_chromedriver() -> str:
    if path := shutil.which("chromedriver"):
        return path
    pytest.skip("chromedriver is not installed (`make test` installs Debian's chromium-driver "
                "when root)")


def driver(tmp: Path, width: int = 1280, height: int = 900) -> Any:
    """Selenium driving Debian's Chromium headless through Debian's chromedriver (given by
    path: Selenium never looks for or downloads a browser)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never ask the network for a browser or driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = find_chromium()
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'chromium-profile'}",
                 f"--window-size={width},{height}"]:
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(find_chromedriver()), options=opts)
    d.implicitly_wait(0)
    return d
