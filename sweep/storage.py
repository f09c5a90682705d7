"""Storage URLs: validate them before anything is written, then open Optuna's RDBStorage.

SQLite files get WAL journaling and a long busy timeout so that several workers and a reader
(optuna-dashboard, ``sweep status``) can share one file; PostgreSQL and MySQL are Optuna's
supported multi-machine backends.
"""

from __future__ import annotations

import sqlite3
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
        return {"pool_pre_ping": True}


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
    from sqlalchemy.exc import SQLAlchemyError

    if url.sqlite_path is not None:
        _prepare_sqlite(url.sqlite_path)
    heartbeat: dict[str, Any] = {}
    if heartbeat_seconds is not None:
        heartbeat = {
            "heartbeat_interval": max(1, round(heartbeat_seconds)),
            "grace_period": max(2, round(3 * heartbeat_seconds)),
        }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url.url, engine_kwargs=url.engine_kwargs(), skip_compatibility_check=False,
                **heartbeat,
            )
    except (SQLAlchemyError, OSError) as e:
        raise StorageUnavailableError(f"cannot open storage {url.url!r}: {_first_line(e)}") from e


def make_engine(url: StorageURL) -> sqlalchemy.engine.Engine:
    """A SQLAlchemy engine on the same database, for sweep's own tables (curves)."""
    import sqlalchemy

    return sqlalchemy.create_engine(url.url, **url.engine_kwargs())


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
