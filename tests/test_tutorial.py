"""The README's two commands and the tutorial's Keras reproduction, as written.

The first command is the default sweep (1,680 cells and 60 confirmation cells, about 4.5
minutes on 2 cores) and the reproduction two 4,000-epoch ``model.fit`` cells (about 12 minutes):
each is started as written, in a directory laid out like a clone, and stopped with Ctrl-C once
it trains, which checks its size line, that it trains, and that it stops cleanly. Their full
runs are measured figures (docs/tutorial, docs/explanation/results.md); the default grid runs
whole elsewhere, raced (tests/test_race_run.py) and on PostgreSQL (tests/storage/test_drivers.py).
The second command is what CI runs (.ci/run)."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._blocks import README, TOP, TUTORIAL, block_lines
from .conftest import REPO

REPRODUCE = "## 3. The tutorial's two models on the Keras engine"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    shutil.copytree(REPO / "studies", tmp_path / "studies",
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    return tmp_path


def start_then_ctrl_c(line: str, cwd: Path, trains: re.Pattern[str],
                      deadline_s: float = 900) -> str:
    """Start ``line`` as written; once its stderr matches ``trains``, Ctrl-C (SIGINT): it must
    stop cleanly (exit 130, its cells marked interrupted). Returns its stderr."""
    process = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, text=False,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    assert process.stderr is not None
    err = b""
    try:
        deadline = time.monotonic() + deadline_s
        while not trains.search(err.decode(errors="replace")):
            assert process.poll() is None, (err + process.communicate()[1]).decode()
            assert time.monotonic() < deadline, err.decode(errors="replace")[-2000:]
            if select.select([process.stderr], [], [], 1.0)[0]:
                err += os.read(process.stderr.fileno(), 65536)
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=300)
        text = (err + rest).decode(errors="replace")
        assert process.returncode == 130, text[-2000:]
        return text
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def size_line(err: str, study: str) -> str:
    """The line ``run`` starts with: the study, its cells and epochs, the time estimate."""
    lines = [line for line in re.split(r"[\r\n]", err) if line.startswith(f"study '{study}': ")]
    assert lines, err[:2000]
    return lines[0]


def test_the_first_command_as_written(clone: Path) -> None:
    """``bash tools/setup.sh && .venv/bin/python -m sweep run``: the setup script is the one CI
    runs (with ``--test``, below); the sweep is the default grid with its confirmation, started
    as written and stopped once cells are done."""
    first, _ = block_lines(README, TOP)
    setup, sweep_run = first.split(" && ")
    assert setup == "bash tools/setup.sh" and (REPO / "tools" / "setup.sh").is_file()
    assert sweep_run == ".venv/bin/python -m sweep run"
    err = start_then_ctrl_c(sweep_run, clone, re.compile(r"cells: .*\b[1-9]\d*/1740 cells"))
    size = size_line(err, "tutorial")
    assert size.startswith("study 'tutorial': 1,680 cells + 60 confirmation cells x 4,000 "
                           "epochs, about "), size
    assert "on the population engine" in size, size
    assert "stopped by SIGINT" in err and "run the same command again to resume" in err
    assert "Traceback" not in err, err[-2000:]
    assert (clone / "studies" / "tutorial.db").is_file()


def test_the_test_command_is_what_ci_runs() -> None:
    """The second command is CI's (.ci/run runs it on a clean checkout): running the suite is
    running it."""
    _, second = block_lines(README, TOP)
    assert second == "bash tools/setup.sh --test && .venv/bin/python -m pytest"
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == second, ci


def test_the_keras_reproduction_as_written(clone: Path) -> None:
    """The tutorial's two models on the Keras engine at 4,000 epochs: started as written and
    stopped once ``model.fit`` trains."""
    (line,) = block_lines(TUTORIAL, REPRODUCE)
    assert line.endswith("--seeds 1 --epochs 4000 --engine keras"), line
    err = start_then_ctrl_c(line, clone, re.compile(r"cells: .*/2 cells \[\d\d:(?!00)\d\d"))
    size = size_line(err, "reproduce")
    assert size.startswith("study 'reproduce': 2 cells x 4,000 epochs, about "), size
    assert "on the keras engine" in size, size
    assert "stopped by SIGINT" in err and "Traceback" not in err, err[-2000:]
