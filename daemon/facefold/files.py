"""Photo files on disk: which files under a folder count as photos, and reading one safely."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


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


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~") or name.endswith("~")


def iter_photos(roots: Iterable[Path], extensions: tuple[str, ...]) -> Iterator[Path]:
    """Yield absolute paths of regular files with a photo extension under each root, recursively.

    Hidden files and folders are skipped, symlinks are not followed, roots that are files are
    yielded as they are (when their extension fits).
    """
    exts = tuple(e.lower() for e in extensions)
    for root in roots:
        root = Path(os.path.abspath(root))
        if root.is_file():
            if root.suffix.lower() in exts:
                yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
            for name in sorted(filenames):
                if is_hidden(name) or not name.lower().endswith(exts):
                    continue
                p = Path(dirpath) / name
                try:
                    if stat.S_ISREG(p.lstat().st_mode):
                        yield p
                except OSError:
                    continue


def read_photo(path: Path, max_bytes: int) -> PhotoFile:
    """Read a regular file whole; return its bytes, sha256, size and mtime, or raise ReadError.

    Refuses symlinks (never followed: they may point outside the inbox) and other non-regular
    files (FIFOs, devices, folders) without opening them for reading, and files larger than
    `max_bytes`.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise ReadError("file disappeared before it could be read") from None
    except OSError as exc:
        raise ReadError(f"cannot stat file: {exc.strerror or exc}", transient=True) from None
    if stat.S_ISLNK(st.st_mode):
        raise ReadError("a symbolic link: not followed")
    if not stat.S_ISREG(st.st_mode):
        raise ReadError("not a regular file")
    if st.st_size > max_bytes:
        raise ReadError(f"file too large: {st.st_size} bytes, limit is {max_bytes}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
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
