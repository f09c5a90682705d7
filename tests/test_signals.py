"""SIGINT and SIGTERM, sent for real to real ``python -m sweep`` processes: every process of the
run exits within seconds, unfinished cells are failed as interrupted (never as errors of the
cell), nothing is left RUNNING, the exit code is 128 + the signal, and the same command resumes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from .conftest import REPO, cell_key, poll_trials, run_cli

STOP_WITHIN = 30.0
"""A generous bound for "within seconds" on a loaded 2-core machine (a chunk is about 1 s)."""


_STARTED: list[subprocess.Popen[str]] = []


def popen(*args: str, cwd: Path, new_session: bool = True) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=new_session)
    _STARTED.append(process)
    return process


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test() -> Iterator[None]:
    """A failed test must not leave a 4000-epoch run training on (it would slow every test
    after it): kill what it started, and the worker processes of those."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            for child in children(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            process.kill()
            process.communicate()


def trials(url: str) -> list[optuna.trial.FrozenTrial]:
    return poll_trials(url, "demo") or []


def wait_for(process: subprocess.Popen[str], url: str, ready: object, timeout: float = 240
             ) -> list[optuna.trial.FrozenTrial]:
    """Poll the study until ``ready(trials)`` holds; the process must still be running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = trials(url)
        if found and ready(found):  # type: ignore[operator]
            return found
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError(f"not ready: {Counter(t.state for t in trials(url))}")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def workers_of(pid: int) -> list[int]:
    """A launcher's worker processes (multiprocessing's spawned children; its other child is
    multiprocessing's resource tracker)."""
    return [child for child in children(pid)
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) is not running
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def stop_and_wait(process: subprocess.Popen[str], signum: int) -> tuple[float, str]:
    """Send ``signum``; (seconds until the process exited, its stderr)."""
    sent = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return time.monotonic() - sent, err


def running(found: list[optuna.trial.FrozenTrial]) -> int:
    return sum(t.state == TrialState.RUNNING for t in found)


def assert_stopped_cleanly(process: subprocess.Popen[str], err: str, seconds: float,
                           signum: int, url: str) -> list[optuna.trial.FrozenTrial]:
    assert process.returncode == 128 + signum, err
    assert seconds < STOP_WITHIN, seconds
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert f"stopped by {signal.Signals(signum).name}" in last, err
    assert "run the same command again to resume" in last
    found = trials(url)
    assert running(found) == 0
    reasons = Counter(t.user_attrs.get("fail_reason") for t in found
                      if t.state == TrialState.FAIL)
    assert set(reasons) <= {f"interrupted by {signal.Signals(signum).name}",
                            "interrupted: its worker process exited"}, reasons
    return found


def assert_each_cell_once(url: str, cells: int) -> None:
    found = trials(url)
    complete = Counter(cell_key(t) for t in found if t.state == TrialState.COMPLETE)
    assert len(complete) == cells and set(complete.values()) == {1}, complete
    assert running(found) == 0
    assert not [t for t in found if t.state == TrialState.WAITING]


KERAS_LONG = ("run", "--study", "demo", "--rates", "0,0.4", "--placements", "hidden",
              "--max-norms", "none", "--seeds", "2", "--epochs", "4000", "--engine", "keras",
              "--heartbeat-seconds", "1", "--no-progress")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_a_keras_cell_mid_fit(tmp_path: Path, signum: int) -> None:
    """A 4000-epoch model.fit (about 4 minutes) stops within seconds of the signal."""
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    process = popen(*KERAS_LONG, "--workers", "1", cwd=tmp_path)  # in the launching process
    wait_for(process, url, lambda found: running(found) == 1)
    time.sleep(2)  # inside model.fit
    seconds, err = stop_and_wait(process, signum)
    found = assert_stopped_cleanly(process, err, seconds, signum, url)
    assert sum(t.state == TrialState.FAIL for t in found) == 1
    assert not [t for t in found if t.state == TrialState.COMPLETE]


@pytest.mark.slow
def test_sigint_stops_a_population_run_between_chunks_and_keeps_finished_cells(
    tmp_path: Path,
) -> None:
    """Two populations of one claim; the first is recorded as soon as it finishes, the
    signal arrives during the second: the first's cells stay, the second's are redone."""
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    args = ("run", "--study", "demo", "--rates", "0:0.6:0.1", "--placements",
            "input,hidden,both", "--max-norms", "none", "--seeds", "3", "--epochs", "4000",
            "--no-progress")
    cells = (1 + 6 * 3) * 3
    process = popen(*args, cwd=tmp_path)
    wait_for(process, url,
             lambda found: sum(t.state == TrialState.COMPLETE for t in found) >= 32)
    seconds, err = stop_and_wait(process, signal.SIGINT)
    found = assert_stopped_cleanly(process, err, seconds, signal.SIGINT, url)
    assert sum(t.state == TrialState.COMPLETE for t in found) == 32
    assert sum(t.state == TrialState.FAIL for t in found) == cells - 32
    rerun = run_cli(*args, cwd=tmp_path, check=True)
    assert f"{cells - 32} cell(s) trained now, 32 were complete" in rerun.stdout
    assert_each_cell_once(url, cells)


def test_sigterm_stops_a_long_population_cell_within_seconds(tmp_path: Path) -> None:
    """500,000 epochs used to be one compiled call (130 s before a signal was seen)."""
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    args = ("run", "--study", "demo", "--rates", "0,0.4", "--placements", "hidden",
            "--max-norms", "none", "--seeds", "2", "--epochs", "500000", "--allow-large",
            "--no-progress")
    process = popen(*args, cwd=tmp_path)
    wait_for(process, url, lambda found: running(found) == 4)
    time.sleep(4)  # compiled and inside the epoch loop
    seconds, err = stop_and_wait(process, signal.SIGTERM)
    found = assert_stopped_cleanly(process, err, seconds, signal.SIGTERM, url)
    assert sum(t.state == TrialState.FAIL for t in found) == 4


def test_sigterm_stops_a_stacked_cnn_population_within_seconds(tmp_path: Path) -> None:
    """The digits CNN on the chain program (3,000 epochs: minutes of training); the signal
    comes once its program is compiled (10-25 s here) and training."""
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    args = ("run", "--study", "demo", "--task", "digits-cnn", "--rates", "0,0.4",
            "--placements", "both", "--seeds", "2", "--epochs", "3000", "--allow-large",
            "--no-progress")
    process = popen(*args, cwd=tmp_path)
    wait_for(process, url, lambda found: running(found) == 4)
    time.sleep(30)  # compiled and inside the epoch loop
    seconds, err = stop_and_wait(process, signal.SIGTERM)
    found = assert_stopped_cleanly(process, err, seconds, signal.SIGTERM, url)
    assert sum(t.state == TrialState.FAIL for t in found) == 4


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_launcher_stops_every_worker(
    tmp_path: Path, storage_url: str, signum: int
) -> None:
    """``run --workers 2``: the signal goes to the launcher only (as from ``timeout`` or
    systemd; a terminal's Ctrl-C reaches it the same way, its workers being in their own
    sessions); it forwards it, and every worker process exits."""
    args = (*KERAS_LONG[:3], "--storage", storage_url, *KERAS_LONG[3:], "--workers", "2")
    process = popen(*args, cwd=tmp_path)
    wait_for(process, storage_url, lambda found: running(found) == 2)
    workers, everyone = workers_of(process.pid), children(process.pid)
    assert len(workers) == 2
    time.sleep(2)
    seconds, err = stop_and_wait(process, signum)
    found = assert_stopped_cleanly(process, err, seconds, signum, storage_url)
    assert sum(t.state == TrialState.FAIL for t in found) == 2
    assert not [pid for pid in everyone if alive(pid)]


def test_sigterm_stops_a_worker_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    leader = popen(*KERAS_LONG, "--workers", "1", cwd=tmp_path)
    wait_for(leader, url, lambda found: running(found) == 1)
    joined = popen("worker", "--study", "demo", "--engine", "keras", "--heartbeat-seconds", "1",
                   "--no-progress", cwd=tmp_path)
    wait_for(leader, url, lambda found: running(found) == 2)
    time.sleep(2)
    seconds, err = stop_and_wait(joined, signal.SIGTERM)
    assert joined.returncode == 143, err
    assert seconds < STOP_WITHIN and "Traceback" not in err
    assert "stopped by SIGTERM" in err.strip().splitlines()[-1]
    assert running(trials(url)) == 1  # the leader's cell runs on
    seconds, err = stop_and_wait(leader, signal.SIGTERM)
    assert_stopped_cleanly(leader, err, seconds, signal.SIGTERM, url)


def test_a_killed_launcher_leaves_no_orphan_worker(tmp_path: Path) -> None:
    """SIGKILL cannot be caught: the workers learn of it from the kernel (parent-death
    signal), stop, and fail their own cells."""
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    process = popen(*KERAS_LONG, "--workers", "2", cwd=tmp_path)
    wait_for(process, url, lambda found: running(found) == 2)
    workers, everyone = workers_of(process.pid), children(process.pid)
    assert len(workers) == 2
    process.kill()
    process.communicate(timeout=60)
    deadline = time.monotonic() + STOP_WITHIN
    while time.monotonic() < deadline and any(alive(pid) for pid in everyone):
        time.sleep(0.2)
    assert not [pid for pid in everyone if alive(pid)]
    found = trials(url)
    assert running(found) == 0
    assert {t.user_attrs.get("fail_reason") for t in found if t.state == TrialState.FAIL} == {
        "interrupted by SIGTERM"}


def test_interrupted_run_resumes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/studies/demo.db"
    args = ("run", "--study", "demo", "--rates", "0,0.4", "--placements", "hidden,input",
            "--max-norms", "none", "--seeds", "2", "--epochs", "12", "--engine", "keras",
            "--no-progress")
    process = popen(*args, cwd=tmp_path)
    wait_for(process, url, lambda found: any(t.state == TrialState.COMPLETE for t in found)
             and running(found) == 1)
    seconds, err = stop_and_wait(process, signal.SIGTERM)
    assert_stopped_cleanly(process, err, seconds, signal.SIGTERM, url)
    run_cli(*args, cwd=tmp_path, check=True)
    assert_each_cell_once(url, 6)
