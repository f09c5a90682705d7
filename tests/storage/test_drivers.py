"""Database URLs as users type them: the documented PostgreSQL commands
(docs/how-to/workers-and-postgres.md) run as written against a real server, and a missing
driver is one line naming what to install."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from optuna.trial import TrialState
from packaging.requirements import Requirement

from sweep.grid import CONFIRM_SEED_BASE

from .._blocks import WORKERS
from .._blocks import block as docs_block
from .._postgres import PASSWORD, USER, PostgresServer
from ..conftest import REPO, assert_error_line, cell_key, cli_in_process, poll_trials, run_cli


def readme_postgres_block() -> list[str]:
    """The multi-machine block (docs/how-to/workers-and-postgres.md): its command lines,
    continuations joined."""
    block = docs_block(WORKERS, "## Several machines: PostgreSQL or MySQL")
    assert "postgresql://USER:PASSWORD@DBHOST/sweep" in block
    lines = []
    for line in block.replace("\\\n", " ").splitlines():
        command = line.split("#")[0].strip() if not line.lstrip().startswith("#") else ""
        if command:
            lines.append(re.sub(r"\s+", " ", command))
    return lines


def test_the_readme_postgres_extra_installs_the_driver_of_its_url_form() -> None:
    lines = readme_postgres_block()
    assert lines[0] == "pip install 'sweep[postgres]'"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for requirement in map(Requirement, extras["postgres"]):
        assert metadata.version(requirement.name)  # installed here, as the extra says
    from sqlalchemy.engine import make_url

    url = lines[1].split("--storage ")[1].split()[0]
    dialect = make_url(url).get_dialect()
    dialect.import_dbapi()  # the driver postgresql:// maps to is the one the extra installs
    assert dialect.driver == "psycopg"


@pytest.mark.slow
def test_the_readme_postgres_commands_as_written(tmp_path: Path, postgres: PostgresServer
                                                 ) -> None:
    """``run`` (the tutorial's whole grid) on one 'machine', ``worker`` on another, then
    ``status``: the documented lines with USER, PASSWORD and DBHOST filled in, nothing else."""
    postgres.create_database("sweep")
    commands = [line.replace("USER", USER).replace("PASSWORD", PASSWORD)
                .replace("DBHOST", postgres.host) for line in readme_postgres_block()[1:]]
    assert [c.split()[:4] for c in commands] == [
        ["python", "-m", "sweep", "run"], ["python", "-m", "sweep", "worker"],
        ["python", "-m", "sweep", "status"]]
    argv = [[sys.executable, *shlex.split(c)[1:]] for c in commands]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "tutorial.toml").write_text(
        (REPO / "studies" / "tutorial.toml").read_text())
    leader = subprocess.Popen(argv[0], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    url = postgres.url("sweep")
    deadline = time.monotonic() + 300
    while len(poll_trials(url, "tutorial") or []) < 1680:
        assert leader.poll() is None and time.monotonic() < deadline, leader.communicate()
        time.sleep(0.5)
    other = subprocess.run(argv[1], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=1200)
    out, err = leader.communicate(timeout=1200)
    assert leader.returncode == 0, err
    assert other.returncode == 0, other.stderr
    trained = int(out.split(" cell(s) trained now")[0].split()[-1])
    joined = int(other.stdout.split("worker done: ")[1].split()[0])
    assert trained + joined == 1680 + 60  # the grid, then its confirmation on 30 fresh seeds
    status = subprocess.run(argv[2], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert status.returncode == 0, status.stderr
    assert "1740 cells: 1740 complete, 0 running, 0 pending, 0 failed" in status.stdout
    trials = poll_trials(url, "tutorial") or []
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 1740
    confirmed = [t for t in trials if t.state == TrialState.COMPLETE
                 and int(cell_key(t).rsplit("seed=", 1)[1]) >= CONFIRM_SEED_BASE]
    assert len({cell_key(t) for t in confirmed}) == len(confirmed) == 60  # each exactly once


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://u:p@127.0.0.1/sweep",
         "needs the 'mysqldb' driver, which is not installed; pip install mysqlclient, or "
         "write mysql+pymysql://... and pip install 'sweep[mysql]'"),
        ("postgresql+pg8000://u:p@127.0.0.1/sweep",
         "needs the 'pg8000' driver, which is not installed; install the pg8000 module"),
        ("postgresql+nosuch://u:p@127.0.0.1/sweep", "unknown driver 'postgresql+nosuch'"),
    ],
)
@pytest.mark.parametrize("command", ["run", "status"])
def test_a_missing_driver_is_one_line(tmp_path: Path, url: str, fragment: str,
                                      command: str) -> None:
    # each line from a real process once (``run``: its exit code, all it writes to stderr);
    # ``status`` in this process
    call = run_cli if command == "run" else cli_in_process
    result = call(command, "--study", "demo", "--storage", url, cwd=tmp_path)
    assert_error_line(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_the_password_never_shows_in_errors(tmp_path: Path, postgres: PostgresServer) -> None:
    url = postgres.url("no_such_database")
    result = cli_in_process("status", "--study", "demo", "--storage", url, cwd=tmp_path)
    assert_error_line(result, "no_such_database", code=1)
    assert PASSWORD not in result.stderr
