"""Per-person folders of symlinks: a pure plan from (person, photo) rows, and a sync that applies it.

Only what facefold created is ever changed or removed: the manifest in the state dir records every
folder and link it made. A new folder is built under a hidden temporary name and renamed into
place, so nobody sees it half-built; links in an existing folder are each replaced atomically.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain, count
from pathlib import Path

log = logging.getLogger(__name__)

TMP_PREFIX = ".facefold-tmp-"

Plan = dict[str, dict[str, str]]  # folder name → link name → absolute target path


NAME_MAX = 255  # bytes in one file name (Linux, and most file systems)
TAG_SIZES = (8, 16, 40)  # hex digits of a link's tag, longer only when a shorter one collides


def _bytes(name: str) -> int:
    return len(name.encode("utf-8", "surrogateescape"))


def _fitted(stem: str, tail: str) -> str:
    """`stem + tail`, the stem cut (at a character) so that the name fits NAME_MAX bytes."""
    room = NAME_MAX - _bytes(tail)
    while _bytes(stem) > room:
        stem = stem[:-1]
    return stem + tail


def _tagged(path: str, size: int) -> str:
    """The link name of a photo whose file name another photo of the folder has too: its stem,
    `~`, the first `size` hex digits of a hash of its full path, its suffix."""
    p = Path(path)
    tag = hashlib.sha1(os.fsencode(path)).hexdigest()[:size]  # any name: its bytes
    return _fitted(p.stem, f"~{tag}{p.suffix}")


def plan_links(rows: Iterable[tuple[str, str]]) -> Plan:
    """Given (folder name, absolute photo path) rows, return the links each folder should hold.

    A link is named like its photo; photos with the same file name in one folder get a short hash
    of their full path in the name, so both keep a link and names are stable for a given set. A
    tagged name that another photo already has as its own takes a longer hash: no two photos of
    a folder ever share a link name, and no name is longer than NAME_MAX bytes.
    """
    by_folder: dict[str, set[str]] = {}
    for folder, path in rows:
        by_folder.setdefault(folder, set()).add(path)
    plan: Plan = {}
    for folder, paths in by_folder.items():
        names: dict[str, list[str]] = {}
        for path in paths:
            names.setdefault(Path(path).name, []).append(path)
        links = {name: group[0] for name, group in names.items() if len(group) == 1}
        for _name, group in sorted(names.items()):
            if len(group) == 1:
                continue
            for path in sorted(group):
                p = Path(path)
                tried = chain((_tagged(path, n) for n in TAG_SIZES),
                              (_fitted(p.stem, f"~{k}{p.suffix}") for k in count(2)))
                links[next(t for t in tried if t not in links)] = path
        plan[folder] = links
    return plan


@dataclass
class SyncResult:
    links_created: int = 0
    links_removed: int = 0
    folders_created: int = 0
    folders_removed: int = 0
    skipped: list[str] = field(default_factory=list)  # paths left alone, with the reason


def _load_manifest(path: Path) -> dict[str, list[str]]:
    try:
        # names that are not UTF-8 were written as their bytes by earlier releases
        data = json.loads(path.read_bytes().decode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("link manifest %s unreadable (%s); starting a new one", path, exc)
        return {}
    folders = data.get("folders") if isinstance(data, dict) else None
    if not isinstance(folders, dict):
        log.warning("link manifest %s holds no folders; starting a new one", path)
        return {}
    return {str(k): [str(x) for x in v] for k, v in folders.items() if isinstance(v, list)}


def _save_manifest(path: Path, folders: dict[str, list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(TMP_PREFIX + path.name)
    # JSON escapes every name (those that are not UTF-8 too): the file is plain ASCII
    tmp.write_bytes(json.dumps({"folders": folders}).encode())
    os.replace(tmp, path)


def _check_name(name: str) -> None:
    """A folder or link name is one plain name: never empty, `.`, `..`, a path, or with NUL."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"unsafe name {name!r}")


def _tmp_name() -> str:
    """The name a folder or link is built under before it is renamed into place: one at a time
    per process, and short whatever name it becomes."""
    return f"{TMP_PREFIX}{os.getpid()}"


def _replace_link(path: Path, target: str) -> None:
    tmp = path.with_name(_tmp_name())
    if os.path.lexists(tmp):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, path)


# what a file system says of a name it will not take (too long, not valid for it): that link
# is left out; any other error (a full disk, a read-only folder) stops the sync
NAME_REFUSED = (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL)


def _linked(res: SyncResult, path: Path, target: str,
            link: Callable[[str, Path], None], shown: Path) -> bool:
    """Make one link at `path` (to be `shown` once in place); False (and why in `res.skipped`
    and the log) when the file system refuses its name."""
    try:
        link(target, path)
    except OSError as exc:
        if exc.errno not in NAME_REFUSED:
            raise
        res.skipped.append(f"{shown}: cannot be made: {exc.strerror}")
        log.warning("link %s not made: %s", shown, exc.strerror)
        return False
    return True


def _remove_leftover(path: Path) -> None:
    """Remove a half-built folder (or link) of ours from a crash: only links inside it, the way
    we build them; anything else in there is someone else's and keeps the folder."""
    if path.is_symlink():
        path.unlink()
        return
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_symlink():
            child.unlink()
    try:
        path.rmdir()
    except OSError:
        log.warning("%s holds files facefold did not make; left alone", path)


def sync_folders(people_dir: Path, plan: Plan, manifest_path: Path) -> SyncResult:
    """Make `people_dir` hold exactly the planned links among what facefold manages.

    Foreign files, and links facefold did not make, are never touched; a person folder that is a
    symlink is refused. Returns what changed.
    """
    res = SyncResult()
    for folder, links in plan.items():  # refused before anything changes
        for name in (folder, *links):
            _check_name(name)
    people_dir.mkdir(parents=True, exist_ok=True)
    old = _load_manifest(manifest_path)
    new: dict[str, list[str]] = {}

    for leftover in people_dir.glob(TMP_PREFIX + "*"):
        _remove_leftover(leftover)

    for folder, links in sorted(plan.items()):
        fpath = people_dir / folder
        if fpath.is_symlink() or (fpath.exists() and not fpath.is_dir()):
            res.skipped.append(f"{fpath}: not a real folder; left alone")
            log.warning("people folder %s is not a real folder; left alone", fpath)
            continue
        owned = set(old.get(folder, []))
        if not fpath.exists():
            tmp = people_dir / _tmp_name()
            tmp.mkdir()
            made = []
            for name, target in sorted(links.items()):
                if _linked(res, tmp / name, target, os.symlink, fpath / name):
                    made.append(name)
            os.rename(tmp, fpath)
            res.folders_created += 1
            res.links_created += len(made)
            new[folder] = made
            continue
        kept: list[str] = []
        for name, target in sorted(links.items()):
            lpath = fpath / name
            if os.path.lexists(lpath):
                if lpath.is_symlink() and os.readlink(lpath) == target:
                    kept.append(name)
                    continue
                if name not in owned or not lpath.is_symlink():
                    res.skipped.append(f"{lpath}: exists and is not facefold's; left alone")
                    continue
            if _linked(res, lpath, target, lambda t, p: _replace_link(p, t), lpath):
                res.links_created += 1
                kept.append(name)
        for name in sorted(owned - set(links)):
            lpath = fpath / name
            if lpath.is_symlink():
                lpath.unlink()
                res.links_removed += 1
        new[folder] = kept

    for folder in sorted(set(old) - set(plan)):
        fpath = people_dir / folder
        if fpath.is_symlink():  # never followed: what it points to is not ours
            continue
        for name in old[folder]:
            lpath = fpath / name
            if lpath.is_symlink():
                lpath.unlink()
                res.links_removed += 1
        try:
            fpath.rmdir()  # only when empty: foreign files keep the folder
            res.folders_removed += 1
        except OSError:
            pass
    _save_manifest(manifest_path, new)
    return res
