"""Writing an output file (the HTML report, ``summary --out``): atomically, and only where it
destroys nothing.

The text goes to a temporary file beside the target, which is then renamed over it, so a
reader never sees half a file and a failed write leaves nothing behind. The rename replaces
whatever the path names, so the target is checked first (:func:`check_target`): only a regular
file or a new path is written; a directory, a device, a FIFO, a socket, an SQLite database (the
study's own among them) and the study's journal files are refused with one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from ..exceptions import OutputPathError, ReportWriteError
from ..files import DIRECTORY, MISSING, REGULAR, is_database, same_file, what_is

JOURNALS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database ``x.db``: ``x.db-wal``, ``x.db-shm``,
``x.db-journal``."""


def check_target(path: Path, what: str, example: str, database: Path | None = None) -> Path:
    """The path to write for ``--out path``: ``path`` itself, or the file a symbolic link to
    a regular file names (the link stays). Refused, with :class:`OutputPathError`: anything
    but a regular file or a new path, the study's SQLite ``database`` and its journal files,
    and any other SQLite database."""
    def refuse(reason: str) -> OutputPathError:
        return OutputPathError(f"cannot write the {what} to {str(path)!r}: {reason}; give "
                               f"another file name, e.g. --out {example}")

    kind = what_is(path)
    if kind == DIRECTORY:
        raise OutputPathError(f"cannot write the {what} to {str(path)!r}: it is a directory; "
                              f"give a file name, e.g. --out {path / example}")
    if kind not in (REGULAR, MISSING) and kind.startswith(("is ", "has ")) and \
            not kind.startswith("is a symbolic link to a m"):  # else: the write says why
        raise refuse(f"it {kind}, and sweep writes only regular files")
    if database is not None:
        if same_file(path, database):
            raise refuse("it is the study's own database")
        for end in JOURNALS:
            if same_file(path, database.with_name(database.name + end)):
                raise refuse(f"it is the study's own {end[1:]} file, beside its database")
    if kind == REGULAR and is_database(path):
        raise refuse("it holds an SQLite database, which the file written would replace")
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def write_atomically(path: Path, text: str, what: str = "report",
                     example: str = "report.html", database: Path | None = None) -> Path:
    """Write ``text`` to :func:`check_target`'s path through a temporary file renamed over
    it; on any failure the temporary file is removed and :class:`ReportWriteError` says why
    (naming ``what`` is written). Returns the path written."""
    target = check_target(path, what, example, database)
    partial = target.with_name(f".{target.name[:200]}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8") as f:
            f.write(text)
        partial.replace(target)
    except OSError as e:
        _remove(partial)
        reason = e.strerror or str(e)
        hint = ("free some space" if e.errno == errno.ENOSPC
                else "choose another --out or make the directory writable")
        raise ReportWriteError(
            f"cannot write the {what} to {str(path)!r}: {reason}; {hint}"
        ) from e
    except BaseException:
        _remove(partial)
        raise
    return target


def _remove(partial: Path) -> None:
    """Remove a temporary file, if any (its directory may not even exist or be a file)."""
    with contextlib.suppress(OSError):
        partial.unlink(missing_ok=True)
