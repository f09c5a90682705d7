"""Opening a storage as Optuna's RDBStorage, for what a command may do to it (:data:`Access`):

- ``read`` (``status``, ``report``'s reading, ``dashboard``'s reading): never creates tables,
  never changes the journal mode, never writes; an SQLite file is opened read-only
  (:mod:`sweep.storage.sqlite`), so it works in a read-only directory.
- ``annotate`` (storing the report's figures in an existing study): writes study attributes
  only; no tables, no journal-mode change.
- ``work`` (``worker``): claims and records trials of an existing study: SQLite in WAL mode.
- ``create`` (``run``): may create the file, Optuna's tables and the study: SQLite in WAL mode.

A storage opened for writing (``annotate``, ``work``, ``create``) is first checked against the
Optuna sweep writes through (:func:`sweep.storage._optuna.check_compatible`). Every database or
file-system error becomes one line naming what was being done and the fix
(:func:`storage_errors`).
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from ..exceptions import StorageUnavailableError, StudyNotFoundError
from . import _optuna
from .sqlite import (
    DAMAGED,
    begin_immediate,
    check_sqlite_file,
    prepare_for_writers,
    read_only_connector,
)
from .url import StorageURL

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

Access = Literal["read", "annotate", "work", "create"]
WRITING: tuple[Access, ...] = ("annotate", "work", "create")


def open_storage(
    url: StorageURL,
    study_name: str,
    access: Access,
    heartbeat_seconds: float | None = None,
) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage for ``access`` (see the module docstring), errors as one line."""
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

    if access in WRITING:
        _optuna.check_version()
    kwargs = url.engine_kwargs()
    if url.sqlite_path is not None:
        check_sqlite_file(url.sqlite_path, study_name, creating=access == "create")
        if access in ("work", "create"):
            prepare_for_writers(url.sqlite_path)
        if access == "read":
            kwargs = {"creator": read_only_connector(url.sqlite_path)}
    elif access != "create":
        _check_server_tables(url, study_name)
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
                    url.url, engine_kwargs=kwargs, skip_compatibility_check=False,
                    skip_table_creation=access != "create", **heartbeat,
                )
            break
        except (SQLAlchemyError, OSError, RuntimeError, optuna.exceptions.StorageInternalError
                ) as e:
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
                f"cannot open storage {url.safe!r}: {first_line(e)}; {_fault_hint(e, url)}"
            ) from e
    if access in WRITING:
        with storage_errors(url, "checking Optuna's tables"):
            _optuna.check_compatible(storage.engine, url.safe)
    if url.sqlite_path is not None and access != "read":
        begin_immediate(storage.engine)
    return storage


def _check_server_tables(url: StorageURL, study_name: str) -> None:
    """On a server, a command that needs an existing study must not create Optuna's tables."""
    import sqlalchemy
    from sqlalchemy.exc import SQLAlchemyError

    engine = sqlalchemy.create_engine(url.url, **url.engine_kwargs())
    try:
        tables = set(sqlalchemy.inspect(engine).get_table_names())
    except SQLAlchemyError as e:
        raise StorageUnavailableError(
            f"cannot open storage {url.safe!r}: {first_line(e)}; {url.fix_hint()}"
        ) from e
    finally:
        engine.dispose()
    if not _optuna.holds_studies(tables):
        raise StudyNotFoundError(
            f"no study {study_name!r} in {url.safe!r}: the database holds no Optuna studies; "
            "check --study and --storage"
        )


def make_engine(url: StorageURL) -> sqlalchemy.engine.Engine:
    """A SQLAlchemy engine on the same database, for sweep's own tables (curves)."""
    import sqlalchemy

    return sqlalchemy.create_engine(url.url, **url.engine_kwargs())


def first_line(error: BaseException) -> str:
    """The error's first line; for Optuna's wrapper ("An exception is raised during the
    commit ..."), the database's own error beneath it."""
    from optuna.exceptions import StorageInternalError

    while isinstance(error, StorageInternalError) and error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@contextmanager
def storage_errors(url: StorageURL, doing: str) -> Iterator[None]:
    """Turn a database or file-system error inside the block into one line (exit 1):
    what was being done, on which storage, the driver's first line, and the fix."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, OSError, sqlite3.Error, StorageInternalError) as e:
        raise StorageUnavailableError(
            f"{doing} failed on {url.safe!r}: {first_line(e)}; {_fault_hint(e, url)}"
        ) from e


def _fault_hint(error: BaseException, url: StorageURL) -> str:
    text = first_line(error).lower()
    if "malformed" in text or "not a database" in text:
        return DAMAGED
    if "full" in text or "no space" in text:
        return "the disk is full: free some space and run the same command again"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only here: make it writable or use another --storage"
    return url.fix_hint()
