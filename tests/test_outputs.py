"""Where files go and what a failed write leaves: report paths per study and storage, atomic
report writes (unwritable, full, not a file), a full disk while enqueueing. Real files, real
mounts (a small tmpfs as a full disk), real subprocesses."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep.storage.synthetic import build_study

from .conftest import assert_error_line, immutable, run_cli


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
    first = run_cli("report", "--study", "demo", cwd=studies, check=True)
    assert "report: dashboards/demo.html" in first.stdout
    mine = studies / "dashboards" / "demo.html"
    before = digest(mine)
    second = run_cli("report", "--study", "demo", "--storage", "sqlite:///other/x.db",
                     cwd=studies, check=True)
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
        run_cli("report", "--study", "demo", "--storage", "sqlite:///other/x.db", "--out",
                str(target), cwd=studies, check=True)
    else:
        target.write_text(content)
    before = digest(target)
    result = run_cli("report", "--study", "demo", cwd=studies)
    assert_error_line(result, "not replacing it: give --out FILE")
    assert digest(target) == before
    forced = run_cli("report", "--study", "demo", "--out", str(target), cwd=studies)
    assert forced.returncode == 0, forced.stderr
    assert digest(target) != before


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_report_to_a_directory(studies: Path) -> None:
    (studies / "dashboards").mkdir()
    result = run_cli("report", "--study", "demo", "--out", "dashboards", cwd=studies)
    assert_error_line(result, "it is a directory; give a file name", code=1)
    assert list((studies / "dashboards").iterdir()) == []


def test_report_over_an_immutable_file(studies: Path) -> None:
    target = studies / "locked.html"
    target.write_text("keep me\n")
    with immutable(target):
        result = run_cli("report", "--study", "demo", "--out", "locked.html", cwd=studies)
    assert_error_line(result, "cannot write the report to 'locked.html'", code=1)
    assert target.read_text() == "keep me\n"
    assert _leftovers(studies) == []


def test_report_into_an_immutable_directory(studies: Path) -> None:
    folder = studies / "ro"
    folder.mkdir()
    with immutable(folder):
        result = run_cli("report", "--study", "demo", "--out", "ro/r.html", cwd=studies)
    assert_error_line(result, "cannot write the report to 'ro/r.html'", code=1)
    assert list(folder.iterdir()) == []


def test_report_into_proc(studies: Path) -> None:
    result = run_cli("report", "--study", "demo", "--out", "/proc/x", cwd=studies)
    assert_error_line(result, "cannot write the report to '/proc/x'", code=1)


def test_report_onto_a_full_disk(studies: Path) -> None:
    with small_disk(studies / "full", "1m") as disk:
        result = run_cli("report", "--study", "demo", "--out", str(disk / "r.html"),
                         cwd=studies)
        leftovers = list(disk.iterdir())
    assert_error_line(result, "No space left on device; free some space", code=1)
    assert leftovers == []


def test_a_full_disk_while_enqueueing(tmp_path: Path) -> None:
    """The default grid (1,680 cells) does not fit: one line, exit 1, and the queue is not
    half-written (one transaction)."""
    with small_disk(tmp_path / "full", "400k") as disk:
        url = f"sqlite:///{disk}/t.db"
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
    result = run_cli("report", "--study", "a.b_c-1", cwd=tmp_path, check=True)
    assert "report: dashboards/a.b_c-1.html" in result.stdout
    assert (tmp_path / "dashboards" / "a.b_c-1.html").is_file()
