"""Storage URLs: validate them before anything is written, then open Optuna's RDBStorage.

SQLite files get WAL journaling and a long busy timeout so that several workers and a reader
(optuna-dashboard, ``sweep status``) can share one file; PostgreSQL and MySQL are Optuna's
supported multi-machine backends.
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import StorageError, StorageUnavailableError

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

SUPPORTED = ("sqlite", "postgresql", "mysql")
SQLITE_TIMEOUT_SECONDS = 60
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class StorageURL:
    url: str
    backend: str
    sqlite_path: Path | None

    def engine_kwargs(self) -> dict[str, Any]:
        if self.backend == "sqlite":
            return {"connect_args": {"timeout": SQLITE_TIMEOUT_SECONDS}}
        if self.backend == "postgresql":
            return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
        return {"pool_pre_ping": True}

    def fix_hint(self) -> str:
        if self.sqlite_path is not None:
            return "check that the file and its directory exist and are writable"
        return "check that the server is running and reachable, and the user and password"


def parse_storage_url(url: str) -> StorageURL:
    """Check the URL's form and, for SQLite, that an existing file is an SQLite database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    hint = "use e.g. sqlite:///studies/demo.db or postgresql://user:pass@host/db"
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"storage URL {url!r} is malformed; {hint}") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise StorageError(
            f"storage URL {url!r}: backend {backend!r} is not supported "
            f"(supported: {', '.join(SUPPORTED)}); {hint}"
        )
    if backend != "sqlite":
        return StorageURL(url, backend, None)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise StorageError(
            f"storage URL {url!r}: an SQLite study needs a file path, e.g. sqlite:///studies/demo.db"
        )
    path = Path(database)
    if path.is_dir():
        raise StorageError(
            f"storage URL {url!r}: {str(path)!r} is a directory, not a database file"
        )
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as f:
            if f.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                raise StorageError(
                    f"storage URL {url!r}: {str(path)!r} exists but is not an SQLite database; "
                    "point --storage at a new or existing study file"
                )
    return StorageURL(url, backend, path)


def _prepare_sqlite(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path, timeout=SQLITE_TIMEOUT_SECONDS) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as e:
        raise StorageUnavailableError(f"cannot open SQLite study file {str(path)!r}: {e}") from e


def open_storage(
    url: StorageURL, heartbeat_seconds: float | None = None
) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage (with heartbeats when asked), mapping connection errors to ours."""
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

    if url.sqlite_path is not None:
        _prepare_sqlite(url.sqlite_path)
    heartbeat: dict[str, Any] = {}
    if heartbeat_seconds is not None:
        heartbeat = {
            "heartbeat_interval": max(1, round(heartbeat_seconds)),
            "grace_period": max(2, round(3 * heartbeat_seconds)),
        }
    for attempt in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url.url, engine_kwargs=url.engine_kwargs(), skip_compatibility_check=False,
                    **heartbeat,
                )
            break
        except (SQLAlchemyError, OSError) as e:
            # Two processes created Optuna's tables in a new database at the same moment
            # ("UNIQUE constraint failed", "table ... already exists"); the tables exist now,
            # so opening again succeeds.
            racing = isinstance(e, IntegrityError) or (
                isinstance(e, OperationalError) and "already exists" in str(e)
            )
            if racing and attempt < 2:
                time.sleep(0.5)
                continue
            raise StorageUnavailableError(
                f"cannot open storage {url.url!r}: {first_line(e)}; {url.fix_hint()}"
            ) from e
    if url.sqlite_path is not None:
        _begin_immediate(storage.engine)
    return storage


def _begin_immediate(engine: sqlalchemy.engine.Engine) -> None:
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


def make_engine(url: StorageURL) -> sqlalchemy.engine.Engine:
    """A SQLAlchemy engine on the same database, for sweep's own tables (curves)."""
    import sqlalchemy

    return sqlalchemy.create_engine(url.url, **url.engine_kwargs())


def first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
