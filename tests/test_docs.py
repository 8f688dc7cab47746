"""The README and docs/ as a newcomer reads them: short, every page reachable, no broken link; and
config.yaml's comments short enough to read while editing."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", page.read_text(), re.M)}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # not inside code blocks
    return [a or b for a, b in LINK.findall(text)]


def test_the_readme_reads_in_five_minutes_and_links_every_docs_page() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines"
    assert lines[3].startswith("make run") and lines[5].startswith("make test")  # first
    linked = {(README.parent / t.split("#")[0]).resolve() for t in _links(README)}
    assert DOCS and not [p.name for p in DOCS if p.resolve() not in linked]


def test_no_relative_link_is_broken() -> None:
    broken = []
    for page in [README, *DOCS]:
        for target in _links(page):
            if re.match(r"[a-z]+:", target):  # https:, mailto: …: not ours to check
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_each_config_setting_is_commented_in_two_lines_at_most() -> None:
    long, block = [], 0
    for n, line in enumerate((REPO / "config.yaml").read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("#"):
            block += 1
            continue
        if stripped and block > 2:
            long.append(f"line {n}: {stripped.split(':')[0]} ({block} lines)")
        block = 0
    assert not long, long
