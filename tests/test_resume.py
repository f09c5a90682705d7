"""Kill or interrupt a real ``python -m sweep run`` and run it again: every cell exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
from optuna.trial import TrialState

from .conftest import REPO, cell_key, poll_trials, run_cli

ARGS = ("run", "--study", "demo", "--rates", "0,0.4", "--placements", "hidden,input",
        "--max-norms", "none", "--seeds", "2", "--epochs", "12", "--engine", "keras",
        "--heartbeat-seconds", "1",
        "--no-progress")
URL = "sqlite:///studies/demo.db"


def _states(cwd: Path) -> Counter[TrialState]:
    if not (cwd / "studies" / "demo.db").exists():
        return Counter()
    trials = poll_trials(f"sqlite:///{cwd}/studies/demo.db", "demo")
    return Counter(t.state for t in trials or [])


def _start(cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "sweep", *ARGS], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_completed(cwd: Path, process: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = _states(cwd)
        if states[TrialState.COMPLETE] >= count and states[TrialState.RUNNING] == 1:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError(f"no progress: {_states(cwd)}")


def _assert_each_cell_once(cwd: Path) -> None:
    study = optuna.load_study(study_name="demo", storage=f"sqlite:///{cwd}/studies/demo.db")
    trials = study.get_trials(deepcopy=False)
    complete = Counter(cell_key(t) for t in trials if t.state == TrialState.COMPLETE)
    assert len(complete) == 6 and set(complete.values()) == {1}
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def test_sigkill_midway_then_rerun_completes_remaining(tmp_path: Path) -> None:
    process = _start(tmp_path)
    _wait_for_completed(tmp_path, process, 2)
    process.kill()
    process.wait()
    before = _states(tmp_path)
    assert before[TrialState.RUNNING] == 1  # the killed worker's zombie

    rerun = run_cli(*ARGS, cwd=tmp_path, check=True)
    after = _states(tmp_path)
    assert after[TrialState.FAIL] == 1  # the zombie, failed as stale by its missed heartbeats
    _assert_each_cell_once(tmp_path)
    assert f"{6 - before[TrialState.COMPLETE]} cell(s) trained now" in rerun.stdout


def test_ctrl_c_marks_running_cells_failed_and_says_how_to_resume(tmp_path: Path) -> None:
    process = _start(tmp_path)
    _wait_for_completed(tmp_path, process, 1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert "run the same command again to resume" in stderr.strip().splitlines()[-1]
    states = _states(tmp_path)
    assert states[TrialState.RUNNING] == 0 and states[TrialState.FAIL] >= 1

    run_cli(*ARGS, cwd=tmp_path, check=True)
    _assert_each_cell_once(tmp_path)
