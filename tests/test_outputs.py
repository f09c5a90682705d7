"""Where files go and what a failed write leaves: report paths per study and storage, atomic
report writes (unwritable, full, not a file), a full disk while enqueueing. Real files, real
mounts (a small tmpfs as a full disk); the commands run in this process (``cli_in_process``)
except a run on a full disk, whose connections to the tmpfs must close before it is unmounted."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep.storage.synthetic import build_study

from .conftest import assert_error_line, cli_in_process, immutable, run_cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path``: a disk that fills up (CI runs as root)."""
    assert os.geteuid() == 0, "mounting a small tmpfs needs root (CI runs as root)"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.fixture
def studies(tmp_path: Path) -> Path:
    """Study 'demo' in the default storage and another 'demo' in another file."""
    build_study(f"sqlite:///{tmp_path / 'studies' / 'demo.db'}", "demo", seeds=2, epochs=20)
    build_study(f"sqlite:///{tmp_path / 'other' / 'x.db'}", "demo", seeds=3, epochs=20,
                random_seed=1)
    return tmp_path


def test_each_storage_gets_its_own_default_report(studies: Path) -> None:
    first = cli_in_process("report", "--study", "demo", cwd=studies)
    assert first.returncode == 0, first.stderr
    assert "report: dashboards/demo.html" in first.stdout
    mine = studies / "dashboards" / "demo.html"
    before = digest(mine)
    second = cli_in_process("report", "--study", "demo", "--storage", "sqlite:///other/x.db",
                            cwd=studies)
    assert second.returncode == 0, second.stderr
    written = second.stdout.split("report: ")[1].strip()
    assert written.startswith("dashboards/demo@x-") and written.endswith(".html")
    assert (studies / written).is_file()
    assert digest(mine) == before
    assert "demo in sqlite:///other/x.db" in (studies / written).read_text()[:2000]


@pytest.mark.parametrize("content", ["my own notes\n", None])
def test_the_default_path_never_replaces_another_file(studies: Path,
                                                      content: str | None) -> None:
    target = studies / "dashboards" / "demo.html"
    target.parent.mkdir()
    if content is None:  # a report of another storage sitting at this name
        made = cli_in_process("report", "--study", "demo", "--storage", "sqlite:///other/x.db",
                              "--out", str(target), cwd=studies)
        assert made.returncode == 0, made.stderr
    else:
        target.write_text(content)
    before = digest(target)
    result = cli_in_process("report", "--study", "demo", cwd=studies)
    assert_error_line(result, "not replacing it: give --out FILE")
    assert digest(target) == before
    forced = cli_in_process("report", "--study", "demo", "--out", str(target), cwd=studies)
    assert forced.returncode == 0, forced.stderr
    assert digest(target) != before


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_report_to_a_directory(studies: Path) -> None:
    (studies / "dashboards").mkdir()
    result = cli_in_process("report", "--study", "demo", "--out", "dashboards", cwd=studies)
    assert_error_line(result, "it is a directory; give a file name", code=2)
    assert list((studies / "dashboards").iterdir()) == []


def _special_files(root: Path) -> dict[str, Path]:
    """Copies of /dev/null and /dev/full (mknod, as root), a FIFO, a socket, a symlink loop."""
    import socket

    made = {"null": root / "devnull", "full": root / "devfull", "fifo": root / "fifo",
            "socket": root / "sock", "loop": root / "loop"}
    os.mknod(made["null"], 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(made["full"], 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    os.mkfifo(made["fifo"])
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(made["socket"]))
    server.close()
    (root / "loop2").symlink_to(made["loop"])
    made["loop"].symlink_to(root / "loop2")
    return made


SPECIAL = {"null": "is a character device", "full": "is a character device",
           "fifo": "is a FIFO (named pipe)", "socket": "is a socket",
           "loop": "is a symbolic link loop"}


@pytest.mark.parametrize("command", ["report", "summary"])
def test_out_refuses_what_is_not_a_regular_file(studies: Path, command: str) -> None:
    """A rename over a device would replace it (as root, even /dev/null): refused, the device
    still a device, nothing else written."""
    special = _special_files(studies)
    before = sorted(p.name for p in studies.iterdir())
    for kind, path in special.items():
        result = cli_in_process(command, "--study", "demo", "--out", path.name, cwd=studies)
        assert_error_line(result, f"it {SPECIAL[kind]}, and sweep writes only regular files")
        assert result.stdout == ""
    assert sorted(p.name for p in studies.iterdir()) == before
    assert special["null"].is_char_device() and special["full"].is_char_device()
    assert special["fifo"].is_fifo() and special["socket"].is_socket()
    real = cli_in_process(command, "--study", "demo", "--out", "/dev/null", cwd=studies)
    assert_error_line(real, "'/dev/null': it is a character device")
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("command", ["report", "summary"])
@pytest.mark.parametrize("own", ["studies/demo.db", "studies/demo.db-wal",
                                 "studies/demo.db-shm", "studies/demo.db-journal",
                                 "other/x.db", "studies/../studies/demo.db"])
def test_out_refuses_the_studys_database_and_its_journals(studies: Path, command: str,
                                                          own: str) -> None:
    """The study's own database (by any path), its journal files, and any SQLite file."""
    from .conftest import sqlite_dump

    database = studies / "studies" / "demo.db"
    dump = sqlite_dump(database)
    journal = studies / own
    existed = journal.exists()
    result = cli_in_process(command, "--study", "demo", "--out", own, cwd=studies)
    words = ("it holds an SQLite database" if own == "other/x.db" else
             "it is the study's own database" if own.endswith(".db") else
             f"it is the study's own {own.rsplit('-', 1)[1]} file")
    assert_error_line(result, words)
    assert sqlite_dump(database) == dump
    assert journal.exists() == existed


def test_out_with_a_name_too_long_and_through_a_symlink(studies: Path) -> None:
    long_name = "r" * 300 + ".html"
    for command in ("report", "summary"):
        result = cli_in_process(command, "--study", "demo", "--out", long_name, cwd=studies)
        assert_error_line(result, "has a name too long for the file system (305 characters")
    target = studies / "kept.html"
    target.write_text("old\n")
    (studies / "link.html").symlink_to(target)
    result = cli_in_process("report", "--study", "demo", "--out", "link.html", cwd=studies)
    assert result.returncode == 0, result.stderr
    assert (studies / "link.html").is_symlink()
    assert "<html" in target.read_text()[:200].lower()


def test_report_over_an_immutable_file(studies: Path) -> None:
    target = studies / "locked.html"
    target.write_text("keep me\n")
    with immutable(target):
        result = cli_in_process("report", "--study", "demo", "--out", "locked.html",
                                cwd=studies)
    assert_error_line(result, "cannot write the report to 'locked.html'", code=1)
    assert target.read_text() == "keep me\n"
    assert _leftovers(studies) == []


def test_report_into_an_immutable_directory(studies: Path) -> None:
    folder = studies / "ro"
    folder.mkdir()
    with immutable(folder):
        result = cli_in_process("report", "--study", "demo", "--out", "ro/r.html", cwd=studies)
    assert_error_line(result, "cannot write the report to 'ro/r.html'", code=1)
    assert list(folder.iterdir()) == []


def test_report_into_proc(studies: Path) -> None:
    result = cli_in_process("report", "--study", "demo", "--out", "/proc/x", cwd=studies)
    assert_error_line(result, "cannot write the report to '/proc/x'", code=1)


def test_report_onto_a_full_disk(studies: Path) -> None:
    with small_disk(studies / "full", "1m") as disk:
        result = cli_in_process("report", "--study", "demo", "--out", str(disk / "r.html"),
                                cwd=studies)
        leftovers = list(disk.iterdir())
    assert_error_line(result, "No space left on device; free some space", code=1)
    assert leftovers == []


def test_a_full_disk_while_enqueueing(tmp_path: Path) -> None:
    """The default grid (1,680 cells) does not fit: one line, exit 1, and the queue is not
    half-written (one transaction)."""
    with small_disk(tmp_path / "full", "400k") as disk:
        url = f"sqlite:///{disk}/t.db"
        # a real process: its connections to the tmpfs close when it exits (a failed run in
        # this process may keep one open, and the tmpfs could not be unmounted)
        result = run_cli("run", "--study", "t", "--storage", url, "--no-progress",
                         cwd=tmp_path)
        assert_error_line(result, "the disk is full: free some space", code=1)
        storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
        try:
            study = optuna.load_study(study_name="t", storage=storage)
            assert not study.get_trials(states=(TrialState.WAITING, TrialState.RUNNING))
        finally:
            storage.engine.dispose()


def test_the_printed_study_path_is_the_written_one(tmp_path: Path) -> None:
    build_study(f"sqlite:///{tmp_path / 'studies' / 'a.b_c-1.db'}", "a.b_c-1", seeds=2,
                epochs=20)
    result = cli_in_process("report", "--study", "a.b_c-1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "report: dashboards/a.b_c-1.html" in result.stdout
    assert (tmp_path / "dashboards" / "a.b_c-1.html").is_file()
