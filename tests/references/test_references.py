"""The stored ``model.fit`` references are current: made with the installed TensorFlow, Keras
and NumPy, for today's models, data and cells, and reproduced by a real ``model.fit`` now."""

from __future__ import annotations

import json
import math
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sweep._keras import import_keras
from sweep.grid import Cell

from ..conftest import REPO
from . import models
from .definitions import DEFINITIONS
from .store import REGENERATE, definition_hash, fit, stored, version_problem


@pytest.mark.parametrize("name", list(DEFINITIONS))
def test_each_reference_is_current(name: str) -> None:
    content = stored(name)
    problem = version_problem(content)
    assert problem is None, problem
    definition = DEFINITIONS[name]
    assert content["settings"] == definition.settings(), (
        f"reference {name!r} was made for other settings or cells; regenerate it: "
        f"{REGENERATE} {name}")
    assert content["definition_hash"] == definition_hash(definition), (
        f"reference {name!r} was made for another model or data; regenerate it: "
        f"{REGENERATE} {name}")
    assert [f["cell"] for f in content["fits"]] == [c.key for c in definition.cells]


FLOAT32_ROUNDING = 1e-6
"""Relative: a few float32 ulps (about 6e-8 each), far below any change of version or model."""


def same_fit(mine: Any, theirs: Any) -> bool:
    """Equal records, floats to :data:`FLOAT32_ROUNDING` (lists and dicts compared within)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return mine.keys() == theirs.keys() and all(same_fit(mine[k], theirs[k]) for k in mine)
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine) == len(theirs) and all(map(same_fit, mine, theirs))
    if isinstance(mine, float) and isinstance(theirs, float):
        return math.isclose(mine, theirs, rel_tol=FLOAT32_ROUNDING, abs_tol=1e-12)
    return bool(mine == theirs)


def test_same_fit_allows_rounding_and_nothing_more() -> None:
    stored_fit = {"cell": "a", "last_train_loss": 0.5606292486190796, "curve": [0.5, 0.25]}
    assert same_fit({**stored_fit, "last_train_loss": 0.5606293082237244}, stored_fit)
    assert not same_fit({**stored_fit, "last_train_loss": 0.5606393082237244}, stored_fit)
    assert not same_fit({**stored_fit, "curve": [0.5, 0.2501]}, stored_fit)
    assert not same_fit({**stored_fit, "cell": "b"}, stored_fit)


@pytest.mark.parametrize(("name", "index"), [("circles-dropout", 0),
                                             ("digits-cnn-trajectories", 2)])
def test_stored_cells_refit_to_the_same_figures(name: str, index: int) -> None:
    """A 200-epoch tutorial cell with hidden dropout and a CNN with a binding MaxNorm, fitted
    again by real ``model.fit``: the stored record, every figure and every epoch, to float32
    rounding (fits are deterministic given the seed on one machine; another CPU's kernels can
    round a loss's last bit differently, which :func:`same_fit` allows and nothing else)."""
    definition = DEFINITIONS[name]
    cell = definition.cells[index]
    again = fit(definition.task_of(), cell, definition)
    assert same_fit(again, stored(name)["fits"][index]), (
        f"model.fit no longer reproduces reference {name!r} ({cell.key}); regenerate it: "
        f"{REGENERATE} {name}")


def test_the_regeneration_script_as_the_readme_gives_it(tmp_path: Path) -> None:
    """The documented command (docs/how-to/development.md), for the smallest reference and into
    another folder: the same fits, versions and hash as the stored file; ``--list`` names every
    reference."""
    assert f"`{REGENERATE}`" in (REPO / "docs" / "how-to" / "development.md").read_text()
    command = REGENERATE.split()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    listed = subprocess.run([*command, "--list"], cwd=REPO, env=env, capture_output=True,
                            text=True, check=True).stdout
    assert [line.split(":")[0] for line in listed.splitlines()] == list(DEFINITIONS)
    subprocess.run([*command, "same-padding-trajectories", "--out", str(tmp_path)], cwd=REPO,
                   env=env, capture_output=True, text=True, check=True)
    made = json.loads((tmp_path / "same-padding-trajectories.json").read_text())
    kept = stored("same-padding-trajectories")
    assert same_fit(made["fits"], kept["fits"])
    for key in ("versions", "definition_hash", "settings"):
        assert made[key] == kept[key], key
    bad = subprocess.run([*command, "no-such"], cwd=REPO, env=env, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "no reference named no-such" in bad.stderr


def test_the_hash_sees_a_changed_model_data_or_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    definition = DEFINITIONS["multiclass-trajectories"]
    before = definition_hash(definition)
    assert definition_hash(definition) == before  # stable across calls

    def other_learning_rate(cell: Cell) -> object:
        model = models.multiclass_model(cell)
        keras = import_keras()
        model.compile(optimizer=keras.optimizers.Adam(0.004), loss=model.loss,
                      metrics=["accuracy"])
        return model

    task = models.CHAIN_TASKS["multiclass"]
    monkeypatch.setitem(models.CHAIN_TASKS, "multiclass",
                        replace(task, build_model=other_learning_rate))
    assert definition_hash(definition) != before

    def fewer_rows() -> models.Dataset:
        data = models.digits()
        return models.Dataset(data.train_x[:-1], data.train_y[:-1], data.test_x, data.test_y)

    monkeypatch.setitem(models.CHAIN_TASKS, "multiclass", replace(task, load_data=fewer_rows))
    assert definition_hash(definition) != before
    monkeypatch.setitem(models.CHAIN_TASKS, "multiclass", task)
    assert definition_hash(definition) == before
    assert definition_hash(replace(definition, epochs=9)) != before
    assert definition_hash(replace(definition, cells=definition.cells[:1])) != before


def test_a_reference_of_other_versions_is_refused_in_one_line() -> None:
    content = {**stored("circles-short"), "versions": {"tensorflow": "2.0.0", "keras": "3.0.0",
                                                       "numpy": "1.0.0"}}
    problem = version_problem(content)
    assert problem is not None and "\n" not in problem
    assert "tensorflow 2.0.0" in problem and f"{REGENERATE} circles-short" in problem
