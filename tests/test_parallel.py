"""The suite runs on several pytest-xdist processes; tests that share a module's trained study
or a cached population are grouped (``xdist_group``) so that it is trained once. These tests
fail if grouping stops working (as it silently did with pytest 9.2 and pytest-xdist 3.8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _record(tmp_path_factory: pytest.TempPathFactory, name: str) -> list[str]:
    """Append this process's id to a file shared by this run's xdist processes (their base
    temporary directories have one parent); all ids so far."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if run else base) / f"{name}-{run or 'one-process'}.pids"
    with open(shared, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    return Path(shared).read_text().split()


@pytest.mark.xdist_group("one-process")
@pytest.mark.parametrize("k", range(6))
def test_a_group_runs_on_one_process(tmp_path_factory: pytest.TempPathFactory, k: int) -> None:
    """Six tests of one group: if they were spread over three processes, the chance that all
    six landed on one anyway is (1/3)^5."""
    pids = _record(tmp_path_factory, "group")
    assert set(pids) == {str(os.getpid())}, pids
