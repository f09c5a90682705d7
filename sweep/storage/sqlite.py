"""SQLite study files: what an existing file holds, WAL for writers, read-only opening.

Writers get WAL journaling, a long busy timeout and ``BEGIN IMMEDIATE`` so that several
workers and readers (optuna-dashboard, ``sweep status``) share one file. Readers open the file
read-only (``mode=ro``, or ``immutable=1`` when a WAL database lies in a directory this process
cannot write, where SQLite cannot create its shared-memory file), so they change nothing in or
beside it and work in a read-only directory. A file that is not a sweep or Optuna database
(another application's, or an empty one for a reading command) is refused unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..exceptions import StorageError, StorageUnavailableError, StudyNotFoundError
from ..files import MISSING, REGULAR, what_is
from ._optuna import being_created, holds_studies
from .url import SQLITE_TIMEOUT_SECONDS

if TYPE_CHECKING:
    import sqlalchemy

_SQLITE_MAGIC = b"SQLite format 3\x00"
DAMAGED = ("the database file is damaged: restore it from a copy, or save what it holds with "
           "'sqlite3 FILE .recover | sqlite3 NEW.db'")


def _read_only_uri(path: Path) -> str:
    """An SQLite URI that opens ``path`` read-only and changes nothing in or beside it where it
    can: ``mode=ro``, or ``mode=ro&immutable=1`` for a WAL database in a directory this process
    cannot write (SQLite cannot create the -shm file a WAL reader needs; nobody can be writing
    the file there)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_SECONDS)
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            connection.close()
    except sqlite3.OperationalError:
        return uri + "&immutable=1"
    return uri


def read_only_connector(path: Path) -> Callable[[], sqlite3.Connection]:
    """A connection factory (SQLAlchemy's ``creator``) that opens the file read-only."""
    uri = _read_only_uri(path)
    return lambda: sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_SECONDS,
                                   check_same_thread=False)


def checkpoint(path: Path) -> None:
    """Copy what the write-ahead log holds into the database file (a passive checkpoint: it
    waits for nobody), so that a command that wrote leaves the whole study in the ``.db`` file
    whichever of its connections closed last (a read-only one cannot checkpoint). Opened
    ``mode=rw``: a missing file is never created; a file that cannot be written is left as
    it is."""
    try:
        connection = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=rw", uri=True,
                                     timeout=1.0)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()
    except sqlite3.Error:
        return


def read_only_url(path: Path) -> str:
    """An SQLAlchemy URL that opens the file read-only (for a program of another project,
    e.g. optuna-dashboard, on a study that cannot be written here)."""
    return f"sqlite:///{_read_only_uri(path)}&uri=true"


def sqlite_writable(path: Path) -> bool:
    """Whether this process can write the SQLite file (takes and drops the write lock)."""
    try:
        connection = sqlite3.connect(path, timeout=5)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return True


def _sqlite_tables(path: Path) -> set[str] | None:
    """The tables of an existing SQLite file; None for an empty (0-byte) file."""
    if path.stat().st_size == 0:
        return None
    with path.open("rb") as f:
        if f.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
            raise StorageError(
                f"{str(path)!r} exists but is not an SQLite database; point --storage at a new "
                "or existing study file"
            )
    try:
        connection = read_only_connector(path)()
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {str(name) for (name,) in rows}
        finally:
            connection.close()
    except sqlite3.Error as e:
        hint = DAMAGED if "malformed" in str(e) or "not a database" in str(e) else (
            "check that the file is readable")
        raise StorageUnavailableError(f"cannot read SQLite file {str(path)!r}: {e}; {hint}"
                                      ) from e


def check_sqlite_file(path: Path, study_name: str, creating: bool) -> None:
    """Refuse, unchanged, a file that sweep must not touch; say when there is no study
    (unless ``creating`` it)."""
    kind = what_is(path)
    if kind not in (REGULAR, MISSING):  # a device, a FIFO (it would block), a link loop ...
        raise StorageError(f"{str(path)!r} {kind}, not an SQLite database file; point "
                           "--storage at a study file, e.g. sqlite:///studies/demo.db")
    if kind == MISSING:
        if not creating:
            raise StudyNotFoundError(
                f"no study {study_name!r}: {str(path)!r} does not exist; "
                "start it with 'python -m sweep run'"
            )
        return
    tables = _sqlite_tables(path)
    if tables is None or not tables:
        if not creating:
            raise StudyNotFoundError(
                f"no study {study_name!r}: {str(path)!r} is an empty database with no studies; "
                "start one with 'python -m sweep run'"
            )
        return
    if not holds_studies(tables):
        if being_created(tables):
            if not creating:
                raise StudyNotFoundError(
                    f"no study {study_name!r}: {str(path)!r} is being created by another sweep "
                    "process; try again in a moment"
                )
            return
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StorageError(
            f"{str(path)!r} is an SQLite database of another application (tables: {listed}), "
            "not a sweep or Optuna study; sweep leaves it unchanged: use another file"
        )


def prepare_for_writers(path: Path) -> None:
    """Create the directory and switch the file to WAL (workers and readers at once)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_SECONDS) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as e:
        raise StorageUnavailableError(
            f"cannot open SQLite study file {str(path)!r}: {e}; check that the file and its "
            "directory exist and are writable"
        ) from e


def begin_immediate(engine: sqlalchemy.engine.Engine) -> None:
    """Make every SQLite transaction take the write lock up front (``BEGIN IMMEDIATE``).

    Optuna reads then writes in one transaction (e.g. WAITING -> RUNNING); under WAL, a deferred
    transaction that read an older snapshot fails at once with "database is locked" when it
    tries to write, and the busy timeout cannot help. Taking the lock first makes writers wait
    their turn (up to the busy timeout) instead. Readers outside sweep (optuna-dashboard) keep
    WAL's non-blocking reads.
    """
    import sqlalchemy

    @sqlalchemy.event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()
