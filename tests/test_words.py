"""The right words: failed cells are called failed, silent workers' cells stale, a port out of
range is a usage error, a dashboard on every interface comes with a warning; the terminal's
progress bar moves while a claim trains and the closing table is short."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from sweep.config import build_config
from sweep.storage import open_study

from .conftest import REPO, assert_error_line, cli_in_process, poll_trials, run_cli

FLAGS = {"study": "demo", "rates": "0,0.4", "placements": "hidden", "max_norms": "none",
         "seeds": "2", "epochs": "3"}


def test_a_study_whose_cells_all_failed_says_failed(workdir: Path) -> None:
    config = build_config(None, FLAGS)
    sweep_study = open_study(study_name="demo", storage_url=config.storage_url, access="create",
                             settings={"task": "circles", "epochs": 3, "batch_size": 32,
                                       "optimizer": "adam"})
    sweep_study.enqueue_missing(config.cells())
    sweep_study.record_failure(sweep_study.claim(4), "simulated failure")
    result = cli_in_process("report", "--study", "demo", cwd=workdir)
    assert_error_line(result, "has no completed cells: all 4 failed", code=1)
    assert "queued or running" not in result.stderr


def test_status_calls_a_silent_workers_cells_stale(tmp_path: Path) -> None:
    args = ("run", "--study", "demo", "--rates", "0", "--max-norms", "none", "--seeds", "1",
            "--epochs", "4000", "--engine", "keras", "--heartbeat-seconds", "1",
            "--no-progress")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    deadline = time.monotonic() + 240
    while not any(t.state == TrialState.RUNNING for t in poll_trials(url, "demo") or []):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    live = cli_in_process("status", "--study", "demo", cwd=tmp_path)
    assert live.returncode == 0, live.stderr
    assert "1 cells: 0 complete, 1 running, 0 pending, 0 failed, 0 stale" in live.stdout
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(5)  # past 3 missed 1 s heartbeats
    dead = cli_in_process("status", "--study", "demo", cwd=tmp_path)
    assert dead.returncode == 0, dead.stderr
    assert "1 cells: 0 complete, 0 running, 0 pending, 0 failed, 1 stale" in dead.stdout
    assert "stale: their worker stopped sending heartbeats" in dead.stdout


@pytest.mark.parametrize(("port", "fragment"), [("70000", "--port 70000 is not a TCP port"),
                                                ("http", "--port 'http' is not a number")])
def test_a_bad_port_is_a_usage_error(tmp_path: Path, port: str, fragment: str) -> None:
    result = cli_in_process("dashboard", "--study", "demo", "--port", port, cwd=tmp_path)
    assert_error_line(result, fragment, code=2)


def test_serving_every_interface_comes_with_a_warning(tmp_path: Path) -> None:
    from sweep.storage.synthetic import build_study

    build_study(f"sqlite:///{tmp_path / 'studies' / 'demo.db'}", "demo", seeds=2, epochs=10)
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen(
        [sys.executable, "-m", "sweep", "dashboard", "--study", "demo", "--host", "0.0.0.0",
         "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        first = server.stderr.readline()
    finally:
        server.terminate()
        server.communicate(timeout=30)
    assert first.startswith("sweep: warning: serving on 0.0.0.0: optuna-dashboard has no "
                            "authentication"), first


def test_the_progress_bar_moves_while_a_claim_trains(tmp_path: Path) -> None:
    """One claim, one population of 8 cells, many epochs: the bar moves chunk by chunk
    (about every second), long before the claim is recorded."""
    result = run_cli("run", "--study", "demo", "--rates", "0,0.4", "--placements",
                     "input,hidden,both", "--max-norms", "none", "--seeds", "2",
                     "--epochs", "20000", cwd=tmp_path, timeout=600, check=True)
    shown = [int(m) for m in re.findall(r"\|\s*(\d+)/8 cells", result.stderr)]
    percents = {int(m) for m in re.findall(r"(\d+)%\|", result.stderr)}
    assert shown and shown[-1] == 8
    assert len({p for p in percents if 0 < p < 100}) >= 3, result.stderr[-2000:]


RATES = [f"{r / 10:g}" for r in range(10)]
NORMS = ["none", "2"]


def _values(cell: str, order: list[str]) -> set[str]:
    """The settings a row's cell names: ``0.4``, ``0.4,0.6`` or a run ``0.4-0.8``."""
    named: set[str] = set()
    for part in cell.split(","):
        first, _, last = part.partition("-")
        named.update(order[order.index(first):order.index(last or first) + 1])
    return named


def _stands_for(row: str, rate: str, placement: str, norm: str) -> bool:
    cells = row.split()
    return (rate in _values(cells[0], RATES) and placement in cells[1].split(",")
            and norm in _values(cells[2], NORMS))


def test_run_ends_with_a_short_table_and_says_where_the_full_one_is(tmp_path: Path) -> None:
    result = cli_in_process("run", "--study", "demo", "--rates", "0:0.9:0.1", "--placements",
                            "input,hidden,both", "--max-norms", "none,2", "--seeds", "2",
                            "--epochs", "30", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\n")
    rows = [line for line in table
            if re.match(r"\s*0[\d.,-]*\s+(none|input|hidden|both)[\s,]", line)]
    assert 5 <= len(rows) <= 8, result.stdout
    # the tutorial's group and the baseline; a row may stand for identical groups, its cells
    # naming every setting ("0.4-0.8", "none,2")
    assert any(_stands_for(row, "0.4", "hidden", "none") for row in rows), result.stdout
    assert any(_stands_for(row, "0", "none", "none") for row in rows), result.stdout
    assert ("56 group(s) in all: the full table is in the report and in "
            "'sweep status --study demo'\nreport: dashboards/demo.html") in result.stdout
