"""Several workers on one study, on SQLite and on a real PostgreSQL server: each cell once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep.grid import CONFIRM_SEED_BASE

from .conftest import REPO, cell_key, poll_trials, run_cli

GRID = ("--rates", "0,0.4", "--placements", "hidden,input", "--max-norms", "none,2",
        "--seeds", "2", "--epochs", "3", "--engine", "keras")
CELLS = 2 * 2 + 2 * 2 * 2  # baseline x norms x seeds + rate x placements x norms x seeds


def _trials(url: str, study: str = "demo") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)


def assert_each_cell_once(url: str, cells: int = CELLS) -> None:
    trials = _trials(url)
    complete = Counter(cell_key(t) for t in trials if t.state == TrialState.COMPLETE)
    assert len(complete) == cells, complete
    assert set(complete.values()) == {1}, [k for k, v in complete.items() if v > 1]
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def _popen(*args: str, cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_run_with_two_workers(tmp_path: Path, storage_url: str) -> None:
    result = run_cli("run", "--study", "demo", "--storage", storage_url, *GRID, "--workers", "2",
                     "--no-progress", cwd=tmp_path, check=True)
    assert f"{CELLS} cell(s) trained now" in result.stdout
    assert_each_cell_once(storage_url)
    status = run_cli("status", "--study", "demo", "--storage", storage_url, "--json",
                     cwd=tmp_path, check=True)
    assert f'"complete": {CELLS}' in status.stdout


def test_worker_joins_a_running_sweep(tmp_path: Path, storage_url: str) -> None:
    leader = _popen("run", "--study", "demo", "--storage", storage_url, *GRID, "--no-progress",
                    cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the leader has created and queued the sweep
        assert leader.poll() is None, leader.communicate()
        if storage_url.startswith("sqlite") and not Path(storage_url[10:]).exists():
            time.sleep(0.2)
            continue
        if len(poll_trials(storage_url, "demo") or []) == CELLS:
            break
        time.sleep(0.2)
    joined = run_cli("worker", "--study", "demo", "--storage", storage_url, "--engine", "keras",
                     "--no-progress", cwd=tmp_path, check=True)
    out, err = leader.communicate(timeout=300)
    assert leader.returncode == 0, err
    by_worker = int(joined.stdout.split("worker done: ")[1].split()[0])
    by_leader = int(out.split("cell(s) trained now")[0].split(":")[-1])
    assert by_worker + by_leader == CELLS
    assert_each_cell_once(storage_url)


def test_worker_needs_an_existing_study(tmp_path: Path, storage_url: str) -> None:
    result = run_cli("worker", "--study", "nope", "--storage", storage_url, cwd=tmp_path)
    assert result.returncode == 2
    assert "no study 'nope'" in result.stderr and "Traceback" not in result.stderr


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
def test_sigkill_of_one_worker_is_recovered(tmp_path: Path, storage_url: str) -> None:
    args = ("run", "--study", "demo", "--storage", storage_url, "--rates", "0,0.4",
            "--placements", "hidden,input", "--max-norms", "none", "--seeds", "3",
            "--epochs", "30", "--engine", "keras", "--workers", "2", "--heartbeat-seconds", "1",
            "--no-progress")
    leader = _popen(*args, cwd=tmp_path)
    deadline = time.monotonic() + 240
    victim = None
    while time.monotonic() < deadline and victim is None:
        time.sleep(0.3)
        trials = poll_trials(storage_url, "demo") or []
        if not any(t.state == TrialState.COMPLETE for t in trials):
            continue
        workers = set(_children(leader.pid))
        recent = datetime.now() - timedelta(seconds=1.0)  # a cell takes ~3 s: far from done
        holders = {int(t.user_attrs["worker"].split(":")[1]) for t in trials
                   if t.state == TrialState.RUNNING and "worker" in t.user_attrs
                   and t.datetime_start is not None and t.datetime_start > recent}
        victim = next(iter(workers & holders), None)  # a worker in the middle of a cell
    assert victim is not None, "the workers never got going"
    os.kill(victim, signal.SIGKILL)
    out, err = leader.communicate(timeout=300)
    # the survivor fails the victim's stale trial and redoes its cell
    assert_each_cell_once(storage_url, cells=3 + 2 * 3)
    assert any(t.state == TrialState.FAIL for t in _trials(storage_url))
    rerun = run_cli(*args, cwd=tmp_path, check=True)
    assert "0 cell(s) trained now" in rerun.stdout


@pytest.mark.slow
def test_ctrl_c_stops_all_workers_cleanly(tmp_path: Path, storage_url: str) -> None:
    args = ("run", "--study", "demo", "--storage", storage_url, *GRID[:-4], "--epochs", "15",
            "--engine", "keras", "--workers", "2", "--no-progress")
    leader = _popen(*args, cwd=tmp_path)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        time.sleep(0.3)
        if any(t.state == TrialState.COMPLETE for t in poll_trials(storage_url, "demo") or []):
            break
    os.killpg(leader.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = leader.communicate(timeout=120)
    assert leader.returncode == 130, err
    assert "Traceback" not in err
    assert "run the same command again to resume" in err.strip().splitlines()[-1]
    assert not [t for t in _trials(storage_url) if t.state == TrialState.RUNNING]
    run_cli(*args, cwd=tmp_path, check=True)
    assert_each_cell_once(storage_url)


@pytest.mark.slow
def test_sqlite_stress_four_workers_and_a_reader(tmp_path: Path) -> None:
    """Several hundred cells, 4 workers claiming small batches, readers polling all along:
    no "database is locked", every cell exactly once."""
    url = f"sqlite:///{tmp_path / 'studies' / 'stress.db'}"
    seeds = 20  # (1 + 3 x 3 x ... ) cells below: 1 baseline + 5 rates x 3 placements, per seed
    args = ("run", "--study", "stress", "--storage", url, "--rates", "0:0.5:0.1",
            "--max-norms", "none", "--seeds", str(seeds), "--epochs", "5",
            "--engine", "population", "--cells-per-claim", "4", "--workers", "4",
            "--heartbeat-seconds", "2", "--no-progress")
    cells = (1 + 5 * 3) * seeds + 2 * 30  # and the confirmation (30 fresh seeds), on by default
    leader = _popen(*args, cwd=tmp_path)
    polls = 0
    while leader.poll() is None:
        status = run_cli("status", "--study", "stress", "--storage", url, "--json",
                         cwd=tmp_path)
        if status.returncode == 0:
            polls += 1
        else:
            assert "no study" in status.stderr, status.stderr  # only before the run created it
        time.sleep(0.5)
    out, err = leader.communicate()
    assert leader.returncode == 0, err
    assert "locked" not in err and "locked" not in out
    assert polls >= 3
    trials = optuna.load_study(study_name="stress", storage=url).get_trials(deepcopy=False)
    complete = Counter(cell_key(t) for t in trials if t.state == TrialState.COMPLETE)
    assert len(complete) == cells and set(complete.values()) == {1}
    # Workers that find the grid done at the same moment all go to enqueue its confirmation:
    # each looks again under the enqueue lock, so its cells are enqueued once, and no trial is
    # left over as a duplicate (before, a second copy was enqueued and failed, or trained).
    assert not [t for t in trials if t.state != TrialState.COMPLETE]
    assert sum(int(cell_key(t).rsplit("seed=", 1)[1]) >= CONFIRM_SEED_BASE for t in trials) == 60
