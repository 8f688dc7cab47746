"""Photo files on disk: which files under a folder count as photos, and reading one safely."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class ReadError(Exception):
    """The file cannot be read as a photo file; the message says why. `transient`: the cause may
    pass (permissions fixed, a disk error) and a retry is worth it."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class PhotoFile:
    path: Path
    data: bytes
    sha256: str
    size: int
    mtime: float


def shown(path: str) -> str:
    """A path for people to read: bytes of its name that are not UTF-8 shown as U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~") or name.endswith("~")


def lexists(path: str | Path) -> bool:
    """`os.path.lexists`, but a path longer than the system allows is looked up one folder at
    a time (each opened relative to its parent), so a photo that deep is not taken for gone."""
    try:
        os.lstat(path)
        return True
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            return False
    *folders, name = Path(os.path.abspath(path)).parts
    fd = os.open(folders[0], os.O_RDONLY | os.O_DIRECTORY)
    try:
        for folder in folders[1:]:
            nxt = os.open(folder, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.lstat(name, dir_fd=fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _left_out(exc: OSError) -> None:
    """A folder that cannot be listed is left out, and the log says which and why."""
    reason = ("its path is longer than the system allows" if exc.errno == errno.ENAMETOOLONG
              else exc.strerror or str(exc))
    log.warning("left out: %s: %s", shown(os.fsdecode(exc.filename or "")), reason)


def iter_photos(roots: Iterable[Path], extensions: tuple[str, ...],
                follow_symlinks: bool = False) -> Iterator[Path]:
    """Absolute paths of the photos under each root: `walk_photos` without their stat."""
    return (p for p, _st in walk_photos(roots, extensions, follow_symlinks))


def walk_photos(roots: Iterable[Path], extensions: tuple[str, ...],
                follow_symlinks: bool = False) -> Iterator[tuple[Path, os.stat_result]]:
    """Yield (absolute path, stat) of regular files with a photo extension under each root,
    recursively.

    Hidden files and folders are skipped, roots that are files are yielded as they are (when
    their extension fits). A folder that cannot be listed is left out with a warning in the
    log; a photo in a folder deeper than the system's path limit is yielded (reading it fails,
    and says why). Symlinks (to files or folders) are skipped unless `follow_symlinks`;
    then each folder is visited once, so a symlink loop ends.
    """
    exts = tuple(e.lower() for e in extensions)
    for root in roots:
        root = Path(os.path.abspath(root))
        try:
            st = root.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:  # a path longer than the system allows, say
            _left_out(exc)
            continue
        if stat.S_ISREG(st.st_mode):
            if root.suffix.lower() in exts:
                yield root, st
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        seen: set[tuple[int, int]] = set()
        # each folder is opened relative to its parent (fwalk), so a photo deeper than the
        # system's path limit is still found; reading it then fails with that reason
        for dirpath, dirnames, filenames, dirfd in os.fwalk(root, onerror=_left_out,
                                                            follow_symlinks=follow_symlinks):
            if follow_symlinks:
                st = os.fstat(dirfd)
                if (st.st_dev, st.st_ino) in seen:
                    dirnames[:] = []
                    continue
                seen.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
            for name in sorted(filenames):
                if is_hidden(name) or not name.lower().endswith(exts):
                    continue
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=follow_symlinks)
                except OSError:  # a broken or looping link
                    continue
                if stat.S_ISREG(st.st_mode):
                    yield Path(dirpath) / name, st


def read_photo(path: Path, max_bytes: int, follow_symlinks: bool = False) -> PhotoFile:
    """Read a regular file whole; return its bytes, sha256, size and mtime, or raise ReadError.

    Refuses symlinks unless `follow_symlinks` (they may point outside the inbox), non-regular
    files (FIFOs, devices, folders) without opening them for reading, and files larger than
    `max_bytes`.
    """
    try:
        st = path.stat() if follow_symlinks else path.lstat()
    except FileNotFoundError:
        raise ReadError("a broken symbolic link" if os.path.lexists(path)
                        else "file disappeared before it could be read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ReadError("a symbolic link loop") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise ReadError("its path is longer than the system allows") from None
        raise ReadError(f"cannot stat file: {exc.strerror or exc}", transient=True) from None
    if stat.S_ISLNK(st.st_mode):
        raise ReadError("a symbolic link: not followed")
    if not stat.S_ISREG(st.st_mode):
        raise ReadError("not a regular file")
    if st.st_size > max_bytes:
        raise ReadError(f"file too large: {st.st_size} bytes, limit is {max_bytes}")
    try:
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags if follow_symlinks else flags | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ReadError("not a regular file")
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise ReadError("file disappeared before it could be read") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # swapped for a symlink since the lstat
            raise ReadError("a symbolic link: not followed") from None
        if isinstance(exc, PermissionError):
            raise ReadError("permission denied", transient=True) from None
        raise ReadError(f"cannot read file: {exc.strerror or exc}", transient=True) from None
    if len(data) > max_bytes:
        raise ReadError(f"file too large: more than {max_bytes} bytes")
    return PhotoFile(path=path, data=data, sha256=hashlib.sha256(data).hexdigest(),
                     size=len(data), mtime=st.st_mtime)
