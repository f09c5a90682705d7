"""Storage faults: a clear one-line error, a non-zero exit, and the study left intact."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .._postgres import PostgresServer, free_port
from ..conftest import assert_error_line, cli_in_process, immutable, run_cli, sqlite_dump

GRID = ("--rates", "0", "--max-norms", "none", "--seeds", "1", "--epochs", "2",
        "--engine", "keras", "--no-progress")


def test_unreachable_postgresql(tmp_path: Path) -> None:
    url = f"postgresql://sweep:pw@127.0.0.1:{free_port()}/sweep"
    result = cli_in_process("run", "--study", "demo", "--storage", url, *GRID, cwd=tmp_path)
    assert_error_line(result, "check that the server is running", code=None)
    assert result.returncode == 1


def test_wrong_postgresql_password(tmp_path: Path, postgres: PostgresServer) -> None:
    postgres.create_database("wrong_pw")
    url = postgres.url("wrong_pw", password="not-the-password")
    result = cli_in_process("run", "--study", "demo", "--storage", url, *GRID, cwd=tmp_path)
    assert_error_line(result, "password authentication failed", code=None)


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """Read-only for this user; as root (whom permissions do not stop) the immutable flag."""
    if os.geteuid() == 0:
        with immutable(path):
            yield
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def test_read_only_sqlite_file(tmp_path: Path) -> None:
    # a real process: one in this process could leave the file open for writing, and SQLite
    # reuses such a descriptor for the next connection, so the locked file would be written
    run_cli("run", "--study", "demo", *GRID, cwd=tmp_path, check=True)
    db = tmp_path / "studies" / "demo.db"
    before = sqlite_dump(db)
    with _read_only(db):
        result = cli_in_process("run", "--study", "demo", *GRID[:5], "2", *GRID[6:],
                                cwd=tmp_path)
    assert_error_line(result, "readonly database", code=None)
    assert "writable" in result.stderr
    assert sqlite_dump(db) == before


def test_read_only_directory(tmp_path: Path) -> None:
    studies = tmp_path / "studies"
    studies.mkdir()
    with _read_only(studies):
        result = cli_in_process("run", "--study", "demo", *GRID, cwd=tmp_path)
    assert_error_line(result, "unable to open database file", code=None)
    assert list(studies.iterdir()) == []


@pytest.mark.parametrize("command", ["worker", "status"])
def test_missing_study(tmp_path: Path, command: str, storage_url: str) -> None:
    result = cli_in_process(command, "--study", "nope", "--storage", storage_url, cwd=tmp_path)
    assert result.returncode == 2
    assert_error_line(result, "no study 'nope'", code=None)
