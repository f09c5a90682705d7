"""A user's task that stops the process or will not return: ``sys.exit()`` (any code) and other
``BaseException``s at import, in ``load_data`` and in ``build_model``; a ``load_data`` that
sleeps or loops when SIGTERM or Ctrl-C comes; a FIFO named ``*.py``; a ``build_model`` that
fails only for a later group. Real subprocesses, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sweep
from sweep.exceptions import ConfigError, TaskError

from ..conftest import REPO, assert_error_line, run_cli
from .test_user_tasks import SMALL, line_of, write_task

EXITS = {
    "exit0": ("import sys; sys.exit(0)", "it called sys.exit(0)"),
    "exit3": ("import sys; sys.exit(3)", "it called sys.exit(3)"),
    "exit-text": ("raise SystemExit('bye')", "it called sys.exit('bye')"),
    "base": ("raise type('Halt', (BaseException,), {})()", "it raised Halt, a BaseException"),
}


def _nothing_written(folder: Path) -> None:
    assert not (folder / "studies").exists()
    assert not (folder / "dashboards").exists()


@pytest.mark.parametrize("where", ["top", "load", "build"])
@pytest.mark.parametrize("kind", list(EXITS))
def test_a_task_that_exits_is_one_line_and_exit_2(tmp_path: Path, where: str,
                                                  kind: str) -> None:
    """In process (the many cases), the CLI's exit code and line, and nothing written."""
    from ..conftest import cli_in_process

    code, words = EXITS[kind]
    path = write_task(tmp_path, f"exits_{where}_{kind.replace('-', '_')}.py", **{where: code})
    result = cli_in_process("run", "--task", path.name, *SMALL, cwd=tmp_path)
    assert_error_line(result, words)
    assert f"{path.name}:{line_of(path, code)}" in result.stderr
    assert "raise an exception, instead" in result.stderr
    _nothing_written(tmp_path)


@pytest.mark.parametrize("where", ["top", "load"])
def test_a_task_that_exits_in_a_real_process(tmp_path: Path, where: str) -> None:
    """sys.exit(0) used to end 'sweep run' with exit 0 and no output."""
    path = write_task(tmp_path, "exits.py", **{where: "import sys; sys.exit(0)"})
    result = run_cli("run", "--task", "exits.py", *SMALL, cwd=tmp_path)
    assert_error_line(result, "it called sys.exit(0), which would end sweep itself")
    assert f"exits.py:{line_of(path, 'sys.exit(0)')}" in result.stderr
    _nothing_written(tmp_path)


def test_the_api_turns_a_task_exit_into_a_task_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_task(tmp_path, "api_exit.py", top="import sys; sys.exit(3)")
    with pytest.raises(TaskError, match=r"it called sys.exit\(3\)"):
        sweep.SweepConfig(task="api_exit.py")
    write_task(tmp_path, "api_exit_load.py", load="import sys; sys.exit(0)")
    with pytest.raises(TaskError, match=r"load_data\(\) failed: it called sys.exit\(0\)"):
        sweep.run(task="api_exit_load.py", rates="0,0.3", seeds=2)
    _nothing_written(tmp_path)


def test_a_build_model_failing_for_a_later_group_is_one_line(tmp_path: Path) -> None:
    """The first cell builds; the population engine's planning builds one cell per group and
    meets the failure: the same line as a failure in the first cell, with that cell."""
    raising = 'if cell.placement == "features": raise ValueError("no features here")'
    path = write_task(tmp_path, "later.py", build=raising)
    result = run_cli("run", "--task", "later.py", *SMALL, cwd=tmp_path)
    assert_error_line(result, "build_model(")
    assert "features" in result.stderr and "ValueError: no features here" in result.stderr
    assert f"later.py:{line_of(path, 'no features here')}" in result.stderr
    _nothing_written(tmp_path)


def _start(folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sweep", *args], cwd=folder, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the task's load_data was never reached"
        time.sleep(0.1)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
@pytest.mark.parametrize("body", ["time.sleep(600)", "while True: pass"])
def test_one_signal_stops_a_load_data_that_sleeps_or_loops(tmp_path: Path, signum: int,
                                                           code: int, body: str) -> None:
    """The first SIGTERM or Ctrl-C stops the run within seconds while the user's load_data
    runs (it used to wait for a second signal): exit 128 + signal, one line, nothing stored."""
    load = f"import pathlib, time; pathlib.Path('inside').touch()\n    {body}"
    write_task(tmp_path, "stuck.py", load=load)
    process = _start(tmp_path, "run", "--task", "stuck.py", *SMALL)
    _wait_for(tmp_path / "inside", process)
    sent = time.monotonic()
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert process.returncode == code, err
    assert_error_line(subprocess.CompletedProcess([], code, out, err),
                      f"stopped by {signal.Signals(signum).name}", code=code)
    _nothing_written(tmp_path)


def test_a_fifo_named_py_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    result = run_cli("run", "--task", "pipe.py", *SMALL, cwd=tmp_path, timeout=60)
    assert_error_line(result, "task file 'pipe.py' is a FIFO (named pipe), not a regular file")
    _nothing_written(tmp_path)


CHANGED = """\
import numpy as np
import sweep
from moons_task import TASK as BASE


def load_data():
    d = BASE.load_data()
    train_x, test_x = d.train_x.copy(), d.test_x.copy()
    {change}
    return sweep.Dataset(train_x, d.train_y, test_x, d.test_y)


TASK = sweep.Task(name="changed", placements=BASE.placements, load_data=load_data,
                  build_model=BASE.build_model, epochs=3)
"""


@pytest.mark.parametrize(("change", "fragment"), [
    ("test_x[3, 0] = np.nan", "test_x has a NaN value in 1 row(s) (first: row 3)"),
    ("train_x[5:7, 1] = np.nan", "train_x has a NaN value in 2 row(s) (first: row 5)"),
    ("train_x[0, 0] = -np.inf", "train_x has an infinite value in 1 row(s)"),
    ("test_x = test_x[:, :1]", "test_x's rows have shape (1,) but train_x's (2,)"),
], ids=["nan-test", "nan-train", "inf", "feature-count"])
def test_a_user_dataset_that_cannot_train_is_refused_before_the_study(
        tmp_path: Path, change: str, fragment: str) -> None:
    from ..conftest import cli_in_process

    write_task(tmp_path)
    (tmp_path / "changed.py").write_text(CHANGED.format(change=change))
    result = cli_in_process("run", "--task", "changed.py", *SMALL, cwd=tmp_path)
    assert_error_line(result, fragment)
    _nothing_written(tmp_path)


def test_dataset_checks_in_the_api() -> None:
    x = np.zeros((4, 2), np.float32)
    y = np.zeros(4, np.float32)
    sweep.Dataset(x, y, x, y).check()
    with pytest.raises(ConfigError, match="validation_y has a NaN"):
        sweep.Dataset(x, y, x, y, x, np.full(4, np.nan)).check()
    with pytest.raises(ConfigError, match="test_y's rows have shape"):
        sweep.Dataset(x, y, x, np.zeros((4, 3))).check()


@pytest.mark.parametrize(("csv", "fragment"), [
    ("a,y,y\n" + "".join(f"{i % 5},{i % 2},{i % 2}\n" for i in range(30)),
     "names column 'y' more than once"),
    ("a,y\n", "has columns but no rows"),
], ids=["duplicate-target", "header-only"])
def test_a_bad_table_on_the_command_line(tmp_path: Path, csv: str, fragment: str) -> None:
    (tmp_path / "t.csv").write_text(csv)
    result = run_cli("run", "--task", "tabular", "--data", "t.csv", "--target", "y", *SMALL,
                     cwd=tmp_path)
    assert_error_line(result, fragment)
    _nothing_written(tmp_path)
