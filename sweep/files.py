"""What a path is, in words: sweep reads and replaces regular files only.

A task file, a table, a study database or an ``--out`` path that is a device, a FIFO, a socket
or a symbolic-link loop is refused with what it is (:func:`what_is`), before anything reads it
(a FIFO would block the reader) or replaces it (a rename over ``/dev/null`` replaces the device).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

REGULAR = "is a regular file"
MISSING = "does not exist"
DIRECTORY = "is a directory"
_KINDS = (
    (stat.S_ISDIR, DIRECTORY),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISFIFO, "is a FIFO (named pipe)"),
    (stat.S_ISSOCK, "is a socket"),
)
SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")


def what_is(path: str | os.PathLike[str]) -> str:
    """:data:`REGULAR`, :data:`MISSING`, :data:`DIRECTORY`, or what else the path is, as a
    phrase ("is a FIFO (named pipe)", "is a symbolic link loop" ...); symbolic links are
    followed."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "is a symbolic link to a missing file" if os.path.islink(path) else MISSING
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if e.errno == errno.ENAMETOOLONG:
            return (f"has a name too long for the file system ({len(Path(path).name)} "
                    "characters; most allow 255 bytes)")
        if e.errno == errno.ENOTDIR:
            return "lies below a path that is not a directory"
        return f"cannot be examined ({e.strerror or e})"
    if stat.S_ISREG(mode):
        return REGULAR
    for test, words in _KINDS:
        if test(mode):
            return words
    return "is not a regular file"


def is_database(path: Path) -> bool:
    """Whether an existing regular file starts as an SQLite database or its WAL journal does."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError:
        return False
    return head == SQLITE_MAGIC or head[:4] in _WAL_MAGIC


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (the same resolved path, or one existing file)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
