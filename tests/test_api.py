"""The public Python API, as its guide (docs/how-to/python-api.md) shows it: its code block runs
as written."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sweep
from sweep.exceptions import ConfigError

from ._blocks import PYTHON_API, block
from .conftest import REPO


def readme_python_block() -> str:
    """The notebook example of docs/how-to/python-api.md."""
    text = block(PYTHON_API, "## A sweep from a notebook", "python")
    assert "sweep.run(" in text
    return text


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_python_block())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "Best:" in result.stdout  # the headline
    assert "dashboards/notebook.html" in result.stdout
    assert (tmp_path / "dashboards" / "notebook.html").is_file()
    assert (tmp_path / "studies" / "notebook.db").is_file()


def test_the_public_names() -> None:
    for name in ("SweepConfig", "run", "load_summary", "write_report", "Summary", "Task",
                 "Dataset", "Cell", "Group", "SweepError", "__version__"):
        assert name in sweep.__all__, name
        assert hasattr(sweep, name), name
    public = {name: getattr(sweep, name) for name in sweep.__all__}
    for module in ("sweep.report.html", "sweep.storage.study", "sweep.engines.keras_fit"):
        importlib.import_module(module)  # a subpackage imported must not shadow a public name
    assert {name: getattr(sweep, name) for name in sweep.__all__} == public


def test_run_and_load_summary_agree(workdir: Path) -> None:
    config = sweep.SweepConfig(study="api", rates=[0, 0.4], placements=["hidden"],
                               max_norms=[None], seeds=3, epochs=20)
    ran = sweep.run(config)
    loaded = sweep.load_summary("api")
    assert ran.trained_now == 6 and ran.n_complete == 6
    frame = loaded.groups
    assert len(frame) == 2
    assert frame.equals(ran.groups)
    assert sweep.run(config).trained_now == 0  # resumes: nothing left to do
    with pytest.raises(sweep.SweepError, match="no study 'nope'"):
        sweep.load_summary("nope")


def _open_on(database: Path) -> list[str]:
    """This process's open files that are the study's database or its WAL side files."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed while listing
            continue
        if target.startswith(str(database)):
            found.append(target)
    return found


def test_the_api_leaves_no_connection_open_on_the_study(workdir: Path) -> None:
    """A notebook goes on after each call: ``run``, ``load_summary``, ``write_report`` and the
    CLI's commands in this process hold no file of the study open afterwards (an open
    connection would keep a lock, and a later read-only or immutable file would still be
    written through it)."""
    from sweep.cli import main

    database = workdir / "studies" / "api.db"
    assert main(["run", "--study", "api", "--rates", "0,0.4", "--placements", "hidden",
                 "--max-norms", "none", "--seeds", "2", "--epochs", "5", "--no-progress"]) == 0
    assert database.is_file() and _open_on(database) == []
    assert sweep.run(study="api", rates=[0, 0.4], placements=["hidden"], max_norms=[None],
                     seeds=2, epochs=5).trained_now == 0
    assert _open_on(database) == []
    sweep.load_summary("api")
    assert _open_on(database) == []
    sweep.write_report("api")
    assert _open_on(database) == []
    with sweep.open_study("api") as study:
        assert study.records()
    assert _open_on(database) == []
    for argv in (["status", "--study", "api"], ["summary", "--study", "api"],
                 ["report", "--study", "api"]):
        assert main(argv) == 0
        assert _open_on(database) == [], argv


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: sweep.run("demo"), "give a SweepConfig, or settings as keywords"),
    (lambda: sweep.run(ratse="0,0.4"), "unknown key 'ratse'; did you mean 'rates'?"),
    (lambda: sweep.run(sweep.SweepConfig(), seeds=2), "not both"),
    (lambda: sweep.run(rates="0", seeds=1, epochs=1, log=123), "log must be a function"),
    (lambda: sweep.SweepConfig(seed=3), "SweepConfig: unknown key 'seed'; did you mean 'seeds'?"),
    (lambda: sweep.SweepConfig(workers=None), "workers=None is not a value"),
    (lambda: sweep.SweepConfig(task=None), "task=None is not a value"),
    (lambda: sweep.SweepConfig(seeds=None), "seeds=None is not a value"),
    (lambda: sweep.SweepConfig(heartbeat_seconds=None),
     "heartbeat_seconds=None is not a value; give one or leave it out (default: 10.0)"),
    (lambda: sweep.write_report("demo", out=123), "out must be a file path"),
    (lambda: sweep.load_summary("demo", storage=5), "storage must be a URL string"),
    (lambda: sweep.load_summary(7), "study: 7 is not a name"),
], ids=["str-config", "unknown-key", "unknown-config-key", "both", "log", "workers", "task",
        "seeds", "heartbeat", "out", "storage", "study"])
def test_bad_api_calls_raise_sweep_errors_before_anything_is_written(
        workdir: Path, call: Any, fragment: str) -> None:
    """Each used to be a raw TypeError or AttributeError (log=123: after the study was
    created with two WAITING cells; heartbeat_seconds=None: accepted, which switches off the
    recovery of a dead worker's cells)."""
    with pytest.raises(sweep.SweepError) as caught:
        call()
    assert isinstance(caught.value, ConfigError), caught.value
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert not (workdir / "studies").exists()
