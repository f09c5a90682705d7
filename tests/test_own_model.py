"""The own-model guide (docs/how-to/own-model.md; the README shows its file), run as written in
a directory laid out like a clone: its ``myfile.py`` and its commands (a sweep of the user's
task, ``status``, ``report``, ``dashboard``, and both examples' TOML sweeps). Each example's
study is then read back by Optuna's CLI and its report rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from ._blocks import OWN_MODEL, OWN_MODEL_FILE, block, block_lines
from .conftest import REPO
from .report.test_html import render_in_chromium, rendered_svgs, sections
from .test_readme import get_json, run_line, serve_then_ctrl_c, shell

pytestmark = pytest.mark.xdist_group("tests-own_model")  # its module fixtures train once


def blocks(kind: str) -> list[str]:
    """The page's task file (``python``) and its commands (``bash``)."""
    return [block(OWN_MODEL, OWN_MODEL_FILE, kind)]


def command_lines() -> list[str]:
    return block_lines(OWN_MODEL, OWN_MODEL_FILE)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone's layout (``.venv``, ``examples/``) with the guide's ``myfile.py`` in it, after
    the guide's commands ran as written (the dashboard checked on the way)."""
    root = tmp_path_factory.mktemp("own-model")
    (root / ".venv").symlink_to(Path(sys.prefix))
    shutil.copytree(REPO / "examples", root / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "myfile.py").write_text(blocks("python")[0])
    for line in command_lines():
        if " dashboard " in line:
            check_dashboard(line, root)
            continue
        (root / f"out-{len(list(root.glob('out-*')))}.txt").write_text(
            f"{line}\n{run_line(line, root)}")
    return root


def outputs(clone: Path) -> dict[str, str]:
    texts = [p.read_text() for p in sorted(clone.glob("out-*.txt"), key=lambda p: int(
        p.stem.split("-")[1]))]
    return {text.split("\n", 1)[0]: text.split("\n", 1)[1] for text in texts}


def test_the_section_is_what_this_test_expects() -> None:
    lines = command_lines()
    assert all(line.startswith(".venv/bin/python -m sweep ") for line in lines), lines
    assert lines[0].endswith("run --task myfile.py --rates 0,0.3 --seeds 5")
    assert [line.split()[3] for line in lines] == [
        "run", "status", "report", "dashboard", "run", "run"]
    assert "examples/two_sites.toml" in lines[4] and "examples/regression.toml" in lines[5]


def test_the_users_file_sweeps_and_status_names_its_metric(clone: Path) -> None:
    ran = outputs(clone)
    first = next(out for line, out in ran.items() if "--task myfile.py" in line)
    assert "study 'moons'" in first and "15 cell(s) trained now" in first
    status = next(out for line, out in ran.items() if " status " in line)
    assert "test accuracy mean" in status and "direction=maximize" in status
    assert (clone / "dashboards" / "moons.html").is_file()


def check_dashboard(line: str, cwd: Path) -> None:
    """The study's direction and metric name as optuna-dashboard serves them."""

    def maximized_accuracy(studies: list[Any]) -> None:
        assert [(s["study_name"], s["directions"]) for s in studies] == [
            ("moons", ["maximize"])]
        detail = get_json(f"http://127.0.0.1:8080/api/studies/{studies[0]['study_id']}")
        assert detail["objective_names"] == ["test accuracy"]

    serve_then_ctrl_c(line, cwd, maximized_accuracy)


@pytest.mark.parametrize(("study", "label", "direction"), [
    ("two_sites", "test accuracy", "maximize"),
    ("regression", "validation mse [squared training SDs of the target]", "minimize"),
])
def test_each_example_reads_back_through_optuna_and_renders(
    clone: Path, tmp_path: Path, study: str, label: str, direction: str
) -> None:
    url = f"sqlite:///studies/{study}.db"
    trials = json.loads(shell(f".venv/bin/optuna trials --storage {url} --study-name {study} "
                              "-f json", clone).stdout)
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert complete and len(complete) == len(trials)
    assert all(set(t["value"]) == {label} for t in complete)
    studies = json.loads(shell(f".venv/bin/optuna studies --storage {url} -f json",
                               clone).stdout)
    assert [s["direction"] for s in studies] == [[direction.upper()]] or [
        s["direction"] for s in studies] == [direction.upper()]
    if study == "regression":  # compared on validation, test beside it
        assert all("test_mse" in t["user_attrs"] for t in complete)
    report = shell(f".venv/bin/python -m sweep report --study {study}", clone)
    assert report.returncode == 0, report.stderr
    dom, log = render_in_chromium(clone / "dashboards" / f"{study}.html", tmp_path / "profile")
    assert label in dom and ("higher is better" if direction == "maximize"
                             else "lower is better") in dom
    parts = sections(dom)
    assert all(rendered_svgs(parts[key]) >= 1 for key in ("rate-vs-test", "learning-curves"))
    assert "Uncaught" not in log, log[-2000:]
    if study == "regression":
        text = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)  # plotly's own CSS
        assert "accuracy" not in text.lower()
