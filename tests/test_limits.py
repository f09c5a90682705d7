"""Everything is checked before anything is written, and work is bounded: real subprocesses,
one line, exit 2, no file created. Also the worker cap and a failed fork."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sweep.config import build_config
from sweep.runner import run_sweep
from sweep.storage import open_study

from .conftest import (
    REPO,
    TINY_EPOCHS,
    assert_error_line,
    cli_in_process,
    poll_trials,
    run_cli,
)

SMALL = ("--study", "demo", "--rates", "0,0.4", "--placements", "hidden", "--max-norms", "none",
         "--seeds", "1", "--epochs", "3", "--no-progress")


def _with(flag: str, value: str) -> list[str]:
    args = list(SMALL)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [
        ("--rates", "0:0.9:1e-12", "gives 900,000,000,001 rates, more than 1,000"),
        ("--rates", "0.9:0:0.1", "the range '0.9:0:0.1' is reversed"),
        ("--rates", "0,0.9999999", "0.9999999 rounds to 1"),
        ("--rates", "0,0.0000001", "1e-07 rounds to 0"),
        ("--seeds", "100000000", "seeds: 100,000,000 is more than 100,000 seeds per group"),
        ("--seeds", "1099511627776", "is more than 100,000 seeds per group"),
        ("--seeds", "0,4294967296", "4294967296 is above 2147483647"),
        ("--seeds", "2147483648,1", "2147483648 is above 2147483647"),
        ("--epochs", "2147483648", "2,147,483,648 is more than 1,000,000"),
        ("--heartbeat-seconds", "1e300", "heartbeat_seconds: 1e+300 is outside [1, 3600]"),
        ("--heartbeat-seconds", "nan", "is not a finite number"),
        ("--cells-per-claim", "100000", "cells_per_claim: 100,000 is more than 4,096"),
        ("--study", "../../x", "study: '../../x' is not a valid study name"),
        ("--study", "a?b", "study: 'a?b' is not a valid study name"),
        ("--study", "a%2Fb", "study: 'a%2Fb' is not a valid study name"),
        ("--study", "x" * 500, "is not a valid study name; use up to 100"),
        ("--study", "tab\there", "is not a valid study name"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(
    tmp_path: Path, flag: str, value: str, fragment: str
) -> None:
    result = cli_in_process("run", *_with(flag, value), cwd=tmp_path)
    assert_error_line(result, fragment)
    assert list(tmp_path.iterdir()) == []


def test_a_grid_beyond_the_hard_bound_is_refused_even_when_allowed(tmp_path: Path) -> None:
    result = cli_in_process("run", "--study", "huge", "--seeds", "100000", "--allow-large",
                            cwd=tmp_path)
    assert_error_line(result, "the grid has 16,800,000 cells, more than the 1,000,000")
    assert list(tmp_path.iterdir()) == []


def test_memory_beyond_the_machine_is_refused(tmp_path: Path) -> None:
    result = cli_in_process("run", *_with("--epochs", "1000000"), "--seeds", "4096",
                            "--cells-per-claim", "4096", "--allow-large", cwd=tmp_path)
    assert_error_line(result, "GiB available; use fewer epochs or a smaller --cells-per-claim")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--rates", "0:0.9:0.01", "--seeds", "200"),
         "this sweep is large: 216,800 cells + 60 confirmation cells x 4,000 epochs"),
        (("--engine", "keras", "--epochs", "100000", "--seeds", "20", "--workers", "1"),
         "this sweep is large: 40 cells x 100,000 epochs, about 4.2 days on the keras engine "
         "with 1 worker"),
    ],
)
def test_a_large_sweep_needs_allow_large(tmp_path: Path, extra: tuple[str, ...],
                                         fragment: str) -> None:
    args = ["run", "--study", "big", "--placements", "input,hidden,both", "--max-norms",
            "none,1,2,3", "--rates", "0,0.4", "--no-progress", *extra]
    if "--engine" in extra:
        args[args.index("--placements") + 1] = "hidden"
        args[args.index("--max-norms") + 1] = "none"
    result = cli_in_process(*args, cwd=tmp_path)
    assert_error_line(result, fragment)
    assert "pass --allow-large (TOML: allow_large = true)" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_allow_large_runs_it_and_prints_the_estimate(tmp_path: Path) -> None:
    args = ("run", "--study", "big", "--rates", "0,0.4", "--placements", "hidden",
            "--max-norms", "none", "--seeds", "20", "--epochs", "100000", "--engine", "keras",
            "--allow-large", "--no-progress", "--workers", "1")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"sqlite:///{tmp_path}/studies/big.db"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = poll_trials(url, "big") or []
        if any(t.state == TrialState.RUNNING for t in found):
            break
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143, err
    assert "40 cells x 100,000 epochs, about 4.2 days on the keras engine" in err


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("placements = 3\n", "placements: 3 is not a list of names"),
        ("max_norms = true\n", "max_norms: True is not a number"),
        ("seeds = []\n", "seeds: no seeds given"),
        ("rates = [[0.1]]\n", "rates: [0.1] is not a number"),
        ("allow_large = \"yes\"\n", "allow_large: 'yes' is not true or false"),
        ("epochs = 1.5\n", "epochs: 1.5 is not a whole number"),
        ("study = 7\n", "study: 7 is not a name"),
    ],
)
def test_toml_types_are_checked(tmp_path: Path, toml: str, fragment: str) -> None:
    (tmp_path / "sweep.toml").write_text(toml + "epochs = 3\n" * ("epochs" not in toml))
    result = cli_in_process("run", "--config", "sweep.toml", cwd=tmp_path)
    assert_error_line(result, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.toml"]


def test_toml_scalars_are_one_element_lists(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text('rates = 0.4\nplacements = "hidden"\nmax_norms = 3\nseeds = 2\n')
    from sweep.config import read_config_file

    config = build_config(read_config_file(path))
    assert (config.rates, config.placements, config.max_norms, config.seeds) == (
        (0.4,), ("hidden",), (3.0,), (0, 1))


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin.toml").write_bytes("# d\xe9j\xe0 vu\nseeds = 2\n".encode("latin-1"))
    result = cli_in_process("run", "--config", "latin.toml", cwd=tmp_path)
    assert_error_line(result, "is not UTF-8 text (byte 3); save it as UTF-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin.toml"]


def test_a_config_file_name_that_is_no_study_name(tmp_path: Path) -> None:
    (tmp_path / "my sweep.toml").write_text("seeds = 2\n")
    result = cli_in_process("run", "--config", "my sweep.toml", cwd=tmp_path)
    assert_error_line(result, "set study = \"...\" in the file or pass --study NAME")


def test_a_run_that_trained_nothing_does_not_pin_the_study(workdir: Path) -> None:
    """The first run queued cells with 3 epochs and trained none (all failed, or stopped before
    any finished): a run with other settings takes the study over instead of being refused."""
    flags = {"study": "demo", "rates": "0,0.4", "placements": "hidden", "max_norms": "none",
             "seeds": "2"}
    first = build_config(None, {**flags, "epochs": "3"})
    sweep_study = open_study(study_name="demo", storage_url=first.storage_url, access="create",
                             settings={"task": "circles", "epochs": 3, "batch_size": 32,
                                       "optimizer": "adam"})
    sweep_study.enqueue_missing(first.cells())
    sweep_study.record_failure(sweep_study.claim(2), "simulated failure")
    outcome = run_sweep(build_config(None, {**flags, "epochs": str(TINY_EPOCHS)}),
                        show_progress=False)
    assert outcome.completed_now == 4
    study = optuna.load_study(study_name="demo", storage=first.storage_url)
    assert study.user_attrs["sweep_settings"]["epochs"] == TINY_EPOCHS
    reasons = [t.user_attrs.get("fail_reason") for t in study.trials
               if t.state == TrialState.FAIL]
    assert sorted(reasons) == ["simulated failure"] * 2 + [
        "superseded: the study's settings changed"] * 2
    # now a cell completed: the settings are pinned
    result = cli_in_process("run", "--study", "demo", "--rates", "0,0.4", "--placements",
                            "hidden", "--max-norms", "none", "--seeds", "2", "--epochs", "3",
                            cwd=workdir)
    assert_error_line(result, f"epochs: study has {TINY_EPOCHS}, this run has 3")


def test_workers_are_capped_at_what_the_machine_runs(tmp_path: Path) -> None:
    result = run_cli("run", *SMALL, "--engine", "keras", "--workers", "1000", cwd=tmp_path,
                     timeout=300, check=True)
    cores = len(os.sched_getaffinity(0))
    assert f"--workers 1000 capped to {cores}: this machine has {cores} core(s)" in result.stderr
    assert "2 cell(s) trained now" in result.stdout


@contextmanager
def pids_cgroup(limit: int) -> Iterator[Path]:
    """A cgroup allowing ``limit`` tasks (processes and threads): past it, fork fails with
    EAGAIN as on a machine out of processes (cgroup v1's or v2's pids controller; CI runs as
    root)."""
    name = f"sweep-test-{os.getpid()}"
    for root in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if (root / "cgroup.procs").exists() and os.access(root, os.W_OK):
            group = root / name
            try:
                group.mkdir()
            except OSError:
                continue
            if (group / "pids.max").exists():
                break
            group.rmdir()
    else:
        raise AssertionError("no writable pids cgroup (needs root and cgroup's pids controller)")
    (group / "pids.max").write_text(f"{limit}\n")
    try:
        yield group
    finally:
        deadline = time.monotonic() + 30
        while (group / "cgroup.procs").read_text().split() and time.monotonic() < deadline:
            time.sleep(0.2)
        group.rmdir()


def test_a_failed_fork_is_one_line_and_leaves_no_orphan(tmp_path: Path) -> None:
    """The system refuses a process after the first worker started: one line, exit 1, the
    started worker is stopped, nothing is left RUNNING or running."""
    url = f"sqlite:///{tmp_path}/demo.db"
    args = (*SMALL, "--storage", url, "--engine", "keras")
    first = cli_in_process("run", *args, cwd=tmp_path)  # the study exists: the launcher
    assert first.returncode == 0, first.stderr  # starts fast
    args = (*args, "--seeds", "8")
    # one thread per process (OpenBLAS raises SIGINT when it cannot start its threads)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    # two tasks: the launcher and either multiprocessing's resource tracker or worker 1, so
    # worker 1 or 2 cannot fork
    with pids_cgroup(2) as group:
        command = ["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"', "sh",
                   sys.executable, "-m", "sweep", "run", *args, "--workers", "2"]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=300)
        # within seconds: multiprocessing's resource tracker exits just after the launcher
        deadline = time.monotonic() + 5
        while (left := (group / "cgroup.procs").read_text().split()) and (
                time.monotonic() < deadline):
            time.sleep(0.1)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "could not start worker" in last and "run again with fewer --workers" in last, last
    assert left == []
    found = poll_trials(url, "demo") or []
    assert not [t for t in found if t.state == TrialState.RUNNING]
