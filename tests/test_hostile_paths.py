"""Lines that used to mislead: a device, a FIFO or a symlink loop given as the storage (it was
"does not exist", a FIFO "an empty database"), a damaged database (it was "check that the file
is writable", even for status), a FIFO as the config file (the read blocked), an IPv6 --host
(it passed sweep's check, then crashed inside optuna-dashboard), an optuna-dashboard that cannot
be run (a PermissionError traceback). Real files, real processes where the exit matters."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sweep.storage.synthetic import build_study

from .conftest import assert_error_line, cli_in_process, run_cli

READERS = ("status", "summary", "report")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    build_study(f"sqlite:///{tmp_path / 'studies' / 'demo.db'}", "demo", seeds=2,
                epochs=20).close()
    os.mkfifo(tmp_path / "fifo.db")
    (tmp_path / "loop2.db").symlink_to(tmp_path / "loop.db")
    (tmp_path / "loop.db").symlink_to(tmp_path / "loop2.db")
    return tmp_path


@pytest.mark.parametrize(("storage", "words"), [
    ("sqlite:////dev/zero", "'/dev/zero' is a character device, not an SQLite database file"),
    ("sqlite:///fifo.db", "'fifo.db' is a FIFO (named pipe), not an SQLite database file"),
    ("sqlite:///loop.db", "'loop.db' is a symbolic link loop, not an SQLite database file"),
], ids=["device", "fifo", "loop"])
@pytest.mark.parametrize("command", [*READERS, "run"])
def test_a_storage_that_is_not_a_file_says_what_it_is(folder: Path, storage: str, words: str,
                                                      command: str) -> None:
    extra = ("--rates", "0", "--seeds", "1", "--no-progress") if command == "run" else ()
    result = cli_in_process(command, "--study", "demo", "--storage", storage, *extra,
                            cwd=folder)
    assert_error_line(result, words)
    assert "point --storage at a study file" in result.stderr
    assert (folder / "fifo.db").is_fifo()


@pytest.mark.parametrize("page", [5, 12], ids=["schema-page", "trials-page"])
def test_a_damaged_database_is_called_damaged(folder: Path, page: int) -> None:
    """Pages overwritten with garbage: every reader says the file is damaged and how to save
    what it holds, not that it should be made writable."""
    damaged = folder / "damaged.db"
    damaged.write_bytes((folder / "studies" / "demo.db").read_bytes())
    with damaged.open("r+b") as f:
        f.seek(4096 * page)
        f.write(b"\x13" * 8192)
    before = damaged.read_bytes()
    for command in READERS:
        # real processes: one in this process may keep its connections open, and a write
        # would then stay in damaged.db-wal, unseen by the check of the file's bytes
        result = run_cli(command, "--study", "demo", "--storage", "sqlite:///damaged.db",
                         cwd=folder)
        assert_error_line(result, "database disk image is malformed; the database file is "
                          "damaged: restore it from a copy", code=1)
        assert "writable" not in result.stderr
    assert damaged.read_bytes() == before


def test_a_fifo_config_file_is_refused_without_reading_it(folder: Path) -> None:
    # a real process: a run that read the FIFO would block until run_cli's timeout
    os.mkfifo(folder / "sweep.toml")
    result = run_cli("run", "--config", "sweep.toml", cwd=folder, timeout=60)
    assert_error_line(result, "config file 'sweep.toml' is a FIFO (named pipe), not a regular "
                      "file")


@pytest.mark.parametrize("host", ["::1", "::", "fe80::1"])
def test_dashboard_refuses_ipv6_addresses_before_starting(folder: Path, host: str) -> None:
    result = cli_in_process("dashboard", "--study", "demo", "--host", host, "--port", "1",
                            cwd=folder)
    assert_error_line(result, f"--host {host}: optuna-dashboard serves IPv4 addresses only")


@pytest.mark.parametrize("broken", ["not-executable", "bad-interpreter"])
def test_an_optuna_dashboard_that_cannot_run_is_one_line(folder: Path, broken: str,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """sweep finds optuna-dashboard beside its Python: a copy of that folder whose
    optuna-dashboard lacks the execute bit, or names an interpreter that does not exist."""
    import socket

    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "optuna-dashboard"
    script.write_text("#!/nonexistent/python\nprint('never')\n")
    script.chmod(0o644 if broken == "not-executable" else 0o755)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    result = cli_in_process("dashboard", "--study", "demo", "--port", port, cwd=folder)
    words = ("cannot be run (not an executable file)" if broken == "not-executable"
             else "cannot be started: No such file or directory")
    assert_error_line(result, words, code=1)
    assert "pip install --force-reinstall optuna-dashboard" in result.stderr
