"""Shared fixtures: each test works in its own directory (so ``studies/`` is a tmp dir)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ._postgres import PostgresServer

REPO = Path(__file__).resolve().parents[1]
TINY_EPOCHS = 5


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first (each keeps its place among them): pytest-xdist hands tests out in
    collection order, and a several-minute test started last would run alone at the end while
    the other processes wait (the suite is CPU-bound: the short tests fill in around it)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def _compile_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One XLA compilation cache (``sweep/_keras.py``) for the whole run, every xdist worker and
    subprocess included, as a user's processes share theirs; never the user's own cache."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by its workers
    os.environ["SWEEP_XLA_CACHE"] = str(root / "xla-cache")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    random.seed(0)
    np.random.seed(0)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh working directory; the default storage sqlite:///studies/<study>.db lands here."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session; each test gets its own database."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same behaviour must hold on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'studies' / 'demo.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"sweep_{uuid.uuid4().hex[:12]}")


def run_cli(
    *args: str, cwd: Path, timeout: float = 300, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sweep ARGS`` in a real subprocess."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "sweep", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"sweep {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def cli_in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``sweep.cli.main(ARGS)`` in this process, in ``cwd``, its output captured, as the
    result :func:`run_cli` gives: for tests whose point is what a command says, returns or
    stores (the many checks of one bad flag's error line; a small sweep whose results, study or
    report a test reads), since a real ``python -m sweep run`` costs about 8 s of CPU importing
    TensorFlow before it does anything. Exit codes, signals, worker processes and tracebacks of
    real processes are checked with :func:`run_cli` (``test_cli.py`` keeps both for the same
    lines), and the documentation's commands run as written in real shells.
    """
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from sweep.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse's usage errors, --help
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["sweep", *args], code, out.getvalue(), err.getvalue())


def assert_error_line(
    result: subprocess.CompletedProcess[str], fragment: str, code: int | None = 2
) -> None:
    """A failed command's stderr is one line containing ``fragment``, with no traceback; the
    exit code is ``code`` (``None``: any non-zero code)."""
    if code is None:
        assert result.returncode != 0, result.stderr
    else:
        assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


@contextmanager
def port_held(port: int) -> Iterator[None]:
    """One test at a time serves on ``port``, across pytest-xdist's processes: for the README's
    lines that name their port (optuna-dashboard's 8080); every other server gets a free one."""
    import fcntl

    with open(Path(tempfile.gettempdir()) / f"sweep-tests-port-{port}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sqlite_dump(path: Path) -> list[str]:
    """The logical content of an SQLite file (the bytes change with WAL checkpoints)."""
    import sqlite3

    with sqlite3.connect(path) as connection:
        return list(connection.iterdump())


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Read-only even for root: the immutable attribute (CI runs as root)."""
    assert shutil.which("chattr"), "chattr (e2fsprogs) is needed"
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def poll_trials(url: str, study: str) -> list[Any] | None:
    """The study's trials as another process writes them, or None while it is being created.

    Never creates tables (a plain ``load_study`` would, racing the process that creates them).
    """
    import optuna

    try:
        storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
        return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    except Exception:  # noqa: BLE001 - no tables or study yet (KeyError, SQL errors, wrapped)
        return None


def cell_key(trial: Any) -> str:
    """A trial's cell key, from its params (a waiting trial's: from its fixed params); trials
    no longer store it as a user attribute."""
    from sweep.storage.schema import cell_from_params

    cell = cell_from_params(trial.params or trial.system_attrs.get("fixed_params", {}))
    assert cell is not None, trial
    return cell.key
