"""The README's "Using it" block, run as written, line by line, in a fresh directory that has
the repository's ``.venv`` and ``studies/`` (as a clone does): the smoke sweep, a sweep from
flags, ``status``, ``summary --format csv``, ``report``, ``dashboard`` (asked for a page, then
stopped with Ctrl-C) and Optuna's own CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ._blocks import README, USING_IT, block_lines
from .conftest import REPO, port_held

pytestmark = pytest.mark.xdist_group("tests-readme")  # its module fixtures train once


def using_it_lines() -> list[str]:
    """The command lines of the README's block under "## Using it"."""
    return block_lines(README, USING_IT)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("readme")
    (root / ".venv").symlink_to(Path(sys.prefix))
    shutil.copytree(REPO / "studies", root / "studies",
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    return root


SHELL_TIMEOUT = 3600
"""A guard against a hung line, not a speed check: the README's full default grid (1,680 cells
or its race) took 369 s here in the parallel suite and over 600 s with a CPU hog beside it."""


def shell(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=cwd, capture_output=True, text=True,
                          timeout=SHELL_TIMEOUT, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_the_block_is_what_this_test_expects() -> None:
    lines = using_it_lines()
    assert all(line.startswith(".venv/bin/") for line in lines), lines
    assert [line.split()[3] for line in lines[:-1]] == [
        "run", "run", "status", "status", "summary", "report", "dashboard"]


def test_the_readme_commands_as_written(clone: Path) -> None:
    lines = using_it_lines()
    ran = {}
    for line in lines:
        if " dashboard " in line:
            check_dashboard(line, clone)
            continue
        ran[line] = run_line(line, clone)
    smoke = next(out for line, out in ran.items() if "smoke.toml" in line)
    assert "6 cell(s) trained now" in smoke  # "6 cells", as the README says
    status_json = next(out for line, out in ran.items() if "--json" in line)
    assert json.loads(status_json)["study"] == "demo"
    table = next(out for line, out in ran.items() if "--format csv" in line)
    rows = list(csv.DictReader(io.StringIO(table)))
    assert len(rows) == 2 and {r["placement"] for r in rows} == {"none", "hidden"}
    assert all(int(r["n"]) == 3 for r in rows)
    assert (clone / "dashboards" / "demo.html").is_file()
    assert ran[lines[-1]].count("COMPLETE") == 6  # Optuna's CLI lists study demo's trials


def run_line(line: str, cwd: Path) -> str:
    """One README command line, as written: it must succeed without a traceback."""
    result = shell(line, cwd)
    assert result.returncode == 0, f"{line}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def serve_then_ctrl_c(line: str, cwd: Path, check: Callable[[list[Any]], None]) -> str:
    """Serve on the README's address until ``/api/studies`` answers, ``check`` its study
    summaries, then Ctrl-C (SIGINT): exit 130. Returns the server's stderr. One such server at
    a time (:func:`port_held`)."""
    with port_held(8080):
        return _serve_then_ctrl_c(line, cwd, check)


def _serve_then_ctrl_c(line: str, cwd: Path, check: Callable[[list[Any]], None]) -> str:
    process = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.communicate()
            try:
                studies = get_json("http://127.0.0.1:8080/api/studies")["study_summaries"]
                break
            except OSError:
                assert time.monotonic() < deadline, "optuna-dashboard did not answer on :8080"
                time.sleep(0.3)
        check(studies)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        return err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def check_dashboard(line: str, cwd: Path) -> None:
    """The study demo is served; Ctrl-C stops the server without a traceback."""

    def only_demo(studies: list[Any]) -> None:
        assert [s["study_name"] for s in studies] == ["demo"]

    err = serve_then_ctrl_c(line, cwd, only_demo)
    assert "Traceback" not in err and "optuna-dashboard stopped (SIGINT)" in err, err
