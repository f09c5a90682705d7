"""Storage URLs: validate them before anything is written, then open Optuna's RDBStorage.

How a command opens its storage says what it may do to it (:data:`Access`):

- ``read`` (``status``, ``report``'s reading, ``dashboard``'s reading): never creates tables,
  never changes the journal mode, never writes; an SQLite file is opened read-only (``mode=ro``,
  or ``immutable=1`` when a WAL database lies in a directory this process cannot write, where
  SQLite cannot create its shared-memory file), so it works in a read-only directory.
- ``annotate`` (storing the report's figures in an existing study): writes study attributes
  only; no tables, no journal-mode change.
- ``work`` (``worker``): claims and records trials of an existing study: SQLite in WAL mode.
- ``create`` (``run``): may create the file, Optuna's tables and the study: SQLite in WAL mode.

SQLite workers get WAL journaling, a long busy timeout and ``BEGIN IMMEDIATE`` so that several
workers and readers (optuna-dashboard, ``sweep status``) share one file; PostgreSQL and MySQL
are Optuna's supported multi-machine backends. A file that is not a sweep or Optuna database
(another application's SQLite database, an empty file for a reading command) is refused
unchanged.
"""

from __future__ import annotations

import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..exceptions import StorageError, StorageUnavailableError, StudyNotFoundError

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

Access = Literal["read", "annotate", "work", "create"]

SUPPORTED = ("sqlite", "postgresql", "mysql")
SQLITE_TIMEOUT_SECONDS = 60
_SQLITE_MAGIC = b"SQLite format 3\x00"
_OPTUNA_TABLES = {"studies", "trials", "version_info", "alembic_version"}
_DRIVER_FIXES = {
    ("postgresql", "psycopg"): "pip install 'sweep[postgres]'",
    ("postgresql", "psycopg2"): (
        "pip install psycopg2-binary, or write postgresql://... and pip install 'sweep[postgres]'"
    ),
    ("mysql", "mysqldb"): (
        "pip install mysqlclient, or write mysql+pymysql://... and pip install 'sweep[mysql]'"
    ),
    ("mysql", "pymysql"): "pip install 'sweep[mysql]'",
}
URL_HINT = "use e.g. sqlite:///studies/demo.db or postgresql://USER:PASSWORD@DBHOST/sweep"


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

    @property
    def safe(self) -> str:
        """The URL with its password hidden, for messages and reports."""
        return safe_url(self.url)


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def parse_storage_url(url: str) -> StorageURL:
    """Check the URL's form, its driver, and, for SQLite, what an existing file holds."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError):
        raise StorageError(f"storage URL {url!r} is malformed; {URL_HINT}") from None
    if backend not in SUPPORTED:
        raise StorageError(
            f"storage URL {url!r}: backend {backend!r} is not supported "
            f"(supported: {', '.join(SUPPORTED)}); {URL_HINT}"
        )
    _check_driver(url, parsed)
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
    return StorageURL(url, backend, path)


def _check_driver(url: str, parsed: Any) -> None:
    """A URL whose database driver is not installed: one line naming what to install."""
    from sqlalchemy.exc import NoSuchModuleError

    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise StorageError(
            f"storage URL {url!r}: unknown driver {parsed.drivername!r}; {URL_HINT}"
        ) from None
    try:
        dialect.import_dbapi()
    except ImportError:
        backend = parsed.get_backend_name()
        fix = _DRIVER_FIXES.get((backend, dialect.driver), f"install the {dialect.driver} module")
        raise StorageError(
            f"storage URL {url!r} needs the {dialect.driver!r} driver, which is not installed; "
            f"{fix}"
        ) from None


# ---- SQLite files -------------------------------------------------------------------------------


def _read_only_uri(path: Path) -> str:
    """An SQLite URI that opens ``path`` read-only and changes nothing in or beside it where it
    can: ``mode=ro``, or ``mode=ro&immutable=1`` for a WAL database in a directory this process
    cannot write (SQLite cannot create the -shm file a WAL reader needs; nobody can be writing
    the file there)."""
    from urllib.parse import quote

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


def _sqlite_connect_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(_read_only_uri(path), uri=True, timeout=SQLITE_TIMEOUT_SECONDS,
                           check_same_thread=False)


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


def read_only_url(path: Path) -> str:
    """An SQLAlchemy URL that opens the file read-only (for a program of another project,
    e.g. optuna-dashboard, on a study that cannot be written here)."""
    return f"sqlite:///{_read_only_uri(path)}&uri=true"


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
        connection = _sqlite_connect_read_only(path)
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {str(name) for (name,) in rows}
        finally:
            connection.close()
    except sqlite3.Error as e:
        raise StorageUnavailableError(f"cannot read SQLite file {str(path)!r}: {e}") from e


def _check_sqlite_file(url: StorageURL, access: Access, study_name: str) -> None:
    """Refuse, unchanged, a file that sweep must not touch; say when there is no study."""
    path = url.sqlite_path
    assert path is not None
    if not path.exists():
        if access != "create":
            raise StudyNotFoundError(
                f"no study {study_name!r}: {str(path)!r} does not exist; "
                "start it with 'python -m sweep run'"
            )
        return
    tables = _sqlite_tables(path)
    if tables is None or not tables:
        if access != "create":
            raise StudyNotFoundError(
                f"no study {study_name!r}: {str(path)!r} is an empty database with no studies; "
                "start one with 'python -m sweep run'"
            )
        return
    if not tables >= _OPTUNA_TABLES:
        listed = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise StorageError(
            f"{str(path)!r} is an SQLite database of another application (tables: {listed}), "
            "not a sweep or Optuna study; sweep leaves it unchanged: use another file"
        )


def _prepare_sqlite(path: Path) -> None:
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


# ---- opening ------------------------------------------------------------------------------------


def open_storage(
    url: StorageURL,
    study_name: str,
    access: Access,
    heartbeat_seconds: float | None = None,
) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage for ``access`` (see the module docstring), errors as one line."""
    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

    kwargs = url.engine_kwargs()
    if url.sqlite_path is not None:
        _check_sqlite_file(url, access, study_name)
        if access in ("work", "create"):
            _prepare_sqlite(url.sqlite_path)
        if access == "read":
            uri = _read_only_uri(url.sqlite_path)
            kwargs = {"creator": lambda: sqlite3.connect(
                uri, uri=True, timeout=SQLITE_TIMEOUT_SECONDS, check_same_thread=False)}
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
                f"cannot open storage {url.safe!r}: {first_line(e)}; {url.fix_hint()}"
            ) from e
    if url.sqlite_path is not None and access != "read":
        _begin_immediate(storage.engine)
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
    if "studies" not in tables:
        raise StudyNotFoundError(
            f"no study {study_name!r} in {url.safe!r}: the database holds no Optuna studies; "
            "check --study and --storage"
        )


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
    text = str(error).lower()
    if "full" in text or "no space" in text:
        return "the disk is full: free some space and run the same command again"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only here: make it writable or use another --storage"
    return url.fix_hint()
