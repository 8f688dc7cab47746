"""Person names → folder names that are safe: one path component, inside the people folder."""

from __future__ import annotations

import re
import unicodedata
from itertools import chain, count

MAX_NAME_BYTES = 200  # well under the 255-byte file-name limit, leaving room for " (99)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[/\\]+")


class NameRefused(ValueError):
    """The name cannot be used; the message says why."""


def clean_name(name: str) -> str:
    """Return the name a user typed, normalised (NFC, inner whitespace collapsed), or raise
    NameRefused when nothing usable is left. Unicode letters are kept."""
    n = unicodedata.normalize("NFC", name)
    n = " ".join(_CONTROL.sub(" ", n).split())
    if not n:
        raise NameRefused("a name needs at least one visible character")
    if len(n.encode("utf-8")) > MAX_NAME_BYTES:
        raise NameRefused(f"a name can be at most {MAX_NAME_BYTES} bytes of UTF-8")
    return n


def folder_name(name: str) -> str:
    """Return a single, safe path component for a clean name: no separators, never '.' or '..',
    no leading dot (hidden) or dash, no trailing dots or spaces."""
    n = _SEPARATORS.sub("-", clean_name(name))
    n = n.lstrip(" .-").rstrip(" .")  # so never "." or ".." either
    if not n:
        n = "person"
    return n


UNNAMED_FOLDER = "person_{:04d}"  # the folder of an unnamed person: zero-padded, stable with the id


def assign_folders(persons: list[tuple[int, str | None]],
                   default: str = UNNAMED_FOLDER) -> dict[int, str]:
    """Given (person id, name or None) rows, return person id → folder name, unique
    case-insensitively: unnamed persons get `person_0001` (reserved first, so an id's folder never
    changes), named ones their name (a second 'Ana' becomes 'Ana (2)'); lower ids win a clash."""
    taken: set[str] = set()
    out: dict[int, str] = {}
    for pid, name in sorted(persons, key=lambda r: (r[1] is not None, r[0])):
        base = folder_name(name) if name else default.format(pid)
        candidate = next(c for c in chain([base], (f"{base} ({k})" for k in count(2)))
                         if c.casefold() not in taken)
        taken.add(candidate.casefold())
        out[pid] = candidate
    return out
