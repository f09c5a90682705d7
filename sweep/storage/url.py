"""Storage URLs as users type them: their form, backend and driver, checked before anything is
written (:func:`parse_storage_url`), and shown with the password hidden (:func:`safe_url`).

Supported backends are SQLite (one file, several workers and readers on one machine) and
Optuna's multi-machine backends, PostgreSQL and MySQL. How a storage is then opened is
:mod:`sweep.storage.opening`; SQLite files, :mod:`sweep.storage.sqlite`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import StorageError

SUPPORTED = ("sqlite", "postgresql", "mysql")
SQLITE_TIMEOUT_SECONDS = 60
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
