"""Read-only means read-only: ``status``, ``report``'s reading and ``dashboard``'s reading never
create tables, never change the journal mode, and work in a read-only directory; a file that is
not a sweep or Optuna database is refused unchanged."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import optuna
import pytest

from sweep.storage.synthetic import build_study

from ..conftest import REPO, assert_error_line, cli_in_process, immutable, run_cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def journal_mode(path: Path) -> str:
    """From the file's header (bytes 18-19: 2 for WAL), without opening it: a connection,
    even a read-only one, would leave -wal and -shm files beside a WAL database."""
    return "wal" if path.read_bytes()[18:20] == b"\x02\x02" else "delete"


@pytest.fixture
def plain_optuna_db(tmp_path: Path) -> Path:
    """A sweep study in a database that is in SQLite's default journal mode (as a study
    written by plain Optuna, or copied, is)."""
    db = tmp_path / "db" / "plain.db"
    db.parent.mkdir()
    build_study(f"sqlite:///{db}", "plain", seeds=2, epochs=20).close()
    with closing(sqlite3.connect(db)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    assert journal_mode(db) == "delete"
    return db


@pytest.mark.parametrize("command", [("status",), ("status", "--json"), ("report", "--out",
                                                                            "r.html")])
def test_reading_commands_change_nothing(tmp_path: Path, plain_optuna_db: Path,
                                         command: tuple[str, ...]) -> None:
    before, files = digest(plain_optuna_db), side_files(plain_optuna_db)
    url = f"sqlite:///{plain_optuna_db}"
    result = cli_in_process(command[0], "--study", "plain", "--storage", url, *command[1:],
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    if command[0] == "status":
        assert digest(plain_optuna_db) == before
    assert journal_mode(plain_optuna_db) == "delete"
    assert side_files(plain_optuna_db) == files


@pytest.mark.parametrize("command", ["status", "summary"])
def test_what_a_reader_creates_beside_a_wal_database_is_what_the_readme_says(
        tmp_path: Path, command: str) -> None:
    """The documentation's words (docs/explanation/storage.md): a reader of a WAL study no
    process has open makes SQLite create x.db-shm (32 KB) and an empty x.db-wal, the database's
    bytes unchanged; the next writer uses them and SQLite removes both when it closes the
    file."""
    readme = " ".join((REPO / "docs" / "explanation" / "storage.md").read_text().split())
    assert ("makes SQLite create `studies/x.db-shm` (32 KB) and an empty `studies/x.db-wal`; "
            "the database's own bytes are unchanged") in readme
    assert "SQLite removes both when the last writer closes the file" in readme
    db = tmp_path / "studies" / "x.db"
    build_study(f"sqlite:///{db}", "x", seeds=2, epochs=20).close()
    assert journal_mode(db) == "wal" and side_files(db) == []
    before = digest(db)
    # a real process: the reader's connections close when it exits (in this process a
    # reader's pooled connection could stay open, and SQLite would keep both files)
    result = run_cli(command, "--study", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert digest(db) == before
    assert side_files(db) == ["x.db-shm", "x.db-wal"]
    assert (db.parent / "x.db-shm").stat().st_size == 32768
    assert (db.parent / "x.db-wal").stat().st_size == 0
    from sweep.storage import open_study

    open_study(study_name="x", storage_url=f"sqlite:///{db}", access="work").close()
    assert side_files(db) == []


@pytest.mark.parametrize("locked", ["directory", "file"])
def test_status_and_report_on_a_read_only_database(tmp_path: Path, locked: str) -> None:
    """A WAL database (as sweep leaves it) in a directory nobody may write, or a database
    file nobody may write."""
    db = tmp_path / "db" / "wal.db"
    db.parent.mkdir()
    build_study(f"sqlite:///{db}", "wal", seeds=2, epochs=20).close()
    if locked == "file":  # a WAL reader needs to write the -shm file: a plain file here
        with closing(sqlite3.connect(db)) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
    assert journal_mode(db) == ("wal" if locked == "directory" else "delete")
    assert side_files(db) == []
    before = digest(db)
    url = f"sqlite:///{db}"
    with immutable(db.parent if locked == "directory" else db):
        status = cli_in_process("status", "--study", "wal", "--storage", url, cwd=tmp_path)
        report = cli_in_process("report", "--study", "wal", "--storage", url, "--out",
                                "wal.html", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "40 cells: 40 complete" in status.stdout
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "wal.html").stat().st_size > 1_000_000
    assert "the report's figures were not stored in the study" in report.stderr
    assert "Traceback" not in report.stderr
    assert digest(db) == before


def test_dashboard_serves_a_study_in_a_read_only_directory(tmp_path: Path) -> None:
    db = tmp_path / "db" / "wal.db"
    db.parent.mkdir()
    build_study(f"sqlite:///{db}", "wal", seeds=2, epochs=20).close()
    before = digest(db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with immutable(db.parent):
        server = subprocess.Popen(
            [sys.executable, "-m", "sweep", "dashboard", "--study", "wal", "--storage",
             f"sqlite:///{db}", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            body = _get(f"http://127.0.0.1:{port}/api/studies", server)
        finally:
            server.terminate()
            _, err = server.communicate(timeout=30)
    assert '"study_name": "wal"' in body, err
    assert "not writable here" in err and "Traceback" not in err
    assert digest(db) == before


def _get(url: str, server: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


@pytest.mark.parametrize("command", ["status", "report", "worker", "dashboard"])
def test_an_empty_file_is_refused_unchanged(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    # a dashboard that failed to refuse it would serve until killed: a real process, with
    # run_cli's timeout; the other commands run in this process
    call = run_cli if command == "dashboard" else cli_in_process
    result = call(command, "--study", "demo", "--storage", f"sqlite:///{empty}", cwd=tmp_path)
    assert_error_line(result, "is an empty database with no studies")
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


@pytest.mark.parametrize("command", ["status", "report", "worker", "dashboard", "run"])
def test_another_applications_database_is_refused_unchanged(tmp_path: Path,
                                                            command: str) -> None:
    other = tmp_path / "app.db"
    with closing(sqlite3.connect(other)) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        connection.execute("INSERT INTO invoices VALUES (1, 9.5)")
        connection.commit()
    before = digest(other)
    args = ["--rates", "0", "--max-norms", "none", "--seeds", "1", "--epochs", "2"]
    call = run_cli if command == "dashboard" else cli_in_process  # as for an empty file
    result = call(command, "--study", "demo", "--storage", f"sqlite:///{other}",
                  *(args if command == "run" else []), cwd=tmp_path)
    assert_error_line(result, "is an SQLite database of another application (tables: invoices)")
    assert digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_a_schema_another_process_is_creating_is_no_study_yet(tmp_path: Path) -> None:
    """Optuna creates its tables one by one: a reader that comes in between (seen in the
    stress test) finds some of them, and that is a study file being created, not another
    application's database."""
    partial = tmp_path / "partial.db"
    with closing(sqlite3.connect(partial)) as connection:
        for table in ("studies", "study_directions", "trial_heartbeats"):
            connection.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
        connection.commit()
    before = digest(partial)
    result = cli_in_process("status", "--study", "demo", "--storage", f"sqlite:///{partial}",
                            cwd=tmp_path)
    assert_error_line(result, "no study 'demo'")
    assert "is being created by another sweep process" in result.stderr
    assert digest(partial) == before


def test_status_on_a_server_database_without_studies_creates_no_tables(
    tmp_path: Path, postgres: object
) -> None:
    import sqlalchemy

    url = postgres.create_database("empty_db")  # type: ignore[attr-defined]
    result = cli_in_process("status", "--study", "demo", "--storage", url, cwd=tmp_path)
    assert_error_line(result, "the database holds no Optuna studies")
    engine = sqlalchemy.create_engine(url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_study_is_still_readable_by_optuna(plain_optuna_db: Path, tmp_path: Path) -> None:
    status = cli_in_process("status", "--study", "plain", "--storage",
                            f"sqlite:///{plain_optuna_db}", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    study = optuna.load_study(study_name="plain", storage=f"sqlite:///{plain_optuna_db}")
    assert len(study.trials) == 40
