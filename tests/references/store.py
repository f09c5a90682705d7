"""Stored ``model.fit`` references: fitting one cell, the files under ``data/``, and the guards.

A reference file holds, per cell, the final figures the distribution tests read (test loss and
metric with dropout off, the last epoch's train loss) and, for the trajectory references, the
four per-epoch curves and the final train loss. It also holds the versions of TensorFlow, Keras
and NumPy it was made with, and a hash of its definition: the settings and cells, the data
arrays, and each group's model and compile configuration as Keras serialises them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sweep._keras import import_keras
from sweep.grid import Cell
from sweep.tasks import Task

from .definitions import DEFINITIONS, Definition

DATA = Path(__file__).resolve().parent / "data"
REGENERATE = ".venv/bin/python -m tests.references.regenerate"


@dataclass(frozen=True)
class StoredFit:
    """One cell's ``model.fit``: what the distribution and trajectory tests compare with."""

    cell: Cell
    test_loss: float
    test_metric: float
    last_train_loss: float
    train_loss: float | None = None
    curves: np.ndarray | None = None
    """Shape (4, epochs): loss, metric, val_loss, val_metric (validation on the test split)."""
    calibration: dict[str, float] | None = None
    """With MC passes: the Keras engine's calibration figures on test (``mc_nll`` ...)."""


def fit(task: Task, cell: Cell, definition: Definition) -> dict[str, Any]:
    """``set_random_seed(seed)``, ``build_model(cell)``, ``model.fit``, ``model.evaluate``: one
    cell's record as stored."""
    keras = import_keras()
    data = task.load_data()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    model = task.build_model(cell)
    validation = (data.test_x, data.test_y) if definition.validate else None
    history = model.fit(data.train_x, data.train_y, validation_data=validation,
                        epochs=definition.epochs, batch_size=definition.batch_size,
                        shuffle=definition.shuffle, verbose=0).history
    test = model.evaluate(data.test_x, data.test_y, verbose=0, return_dict=True)
    metric = task.metric
    record: dict[str, Any] = {"cell": cell.key, "test_loss": float(test["loss"]),
                              "test_metric": float(test[metric]),
                              "last_train_loss": float(history["loss"][-1])}
    if definition.validate:
        train = model.evaluate(data.train_x, data.train_y, verbose=0, return_dict=True)
        record["train_loss"] = float(train["loss"])
        record["curves"] = [[float(v) for v in history[key]]
                            for key in ("loss", metric, "val_loss", f"val_{metric}")]
    if definition.mc_passes:
        from sweep.engines.keras_fit import calibration_figures

        record["calibration"] = calibration_figures(model, data.test_x, data.test_y,
                                                    definition.mc_passes)
    return record


def versions() -> dict[str, str]:
    import tensorflow as tf

    keras = import_keras()
    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}


def _without_names(value: Any) -> Any:
    """A Keras config without its layers' names (counters that say nothing about the model)."""
    if isinstance(value, dict):
        return {k: _without_names(v) for k, v in value.items() if k != "name"}
    if isinstance(value, list | tuple):
        return [_without_names(v) for v in value]
    return value


def definition_hash(definition: Definition) -> str:
    """The settings and cells, the data arrays, and each group's model and compile config."""
    keras = import_keras()
    task = definition.task_of()
    digest = hashlib.sha256(json.dumps(definition.settings(), sort_keys=True).encode())
    data = task.load_data()
    for array in (data.train_x, data.train_y, data.test_x, data.test_y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    firsts: dict[object, Cell] = {}
    for cell in definition.cells:
        firsts.setdefault(cell.group, cell)
    for cell in firsts.values():
        keras.backend.clear_session(free_memory=False)
        model = task.build_model(cell)
        config = {"model": model.get_config(), "compile": model.get_compile_config(),
                  "metric": task.metric}
        digest.update(json.dumps(_without_names(config), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def path_of(name: str) -> Path:
    return DATA / f"{name}.json"


def write(definition: Definition, records: Sequence[dict[str, Any]], seconds: float,
          folder: Path | None = None) -> Path:
    """The reference file, written whole (a temporary file renamed over the old one), in
    ``folder`` (default: ``data/``)."""
    by_key = {record["cell"]: record for record in records}
    content = {
        "name": definition.name,
        "made_by": f"{REGENERATE} {definition.name}",
        "versions": versions(),
        "definition_hash": definition_hash(definition),
        "settings": definition.settings(),
        "fit_seconds": round(seconds, 1),
        "fits": [by_key[cell.key] for cell in definition.cells],
    }
    target = path_of(definition.name) if folder is None else folder / f"{definition.name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(content, indent=1) + "\n")
    os.replace(temporary, target)
    return target


def stored(name: str) -> dict[str, Any]:
    path = path_of(name)
    if not path.is_file():
        raise AssertionError(f"reference {name!r} is missing ({path}); make it with: "
                             f"{REGENERATE} {name}")
    return json.loads(path.read_text())


def version_problem(content: dict[str, Any]) -> str | None:
    """One line when the installed TensorFlow, Keras or NumPy is not the reference's."""
    installed = versions()
    if content["versions"] == installed:
        return None
    made = ", ".join(f"{k} {v}" for k, v in content["versions"].items())
    now = ", ".join(f"{k} {v}" for k, v in installed.items())
    return (f"reference {content['name']!r} was made with {made}, but {now} is installed; "
            f"regenerate it: {REGENERATE} {content['name']}")


def load(name: str) -> dict[Cell, StoredFit]:
    """A reference's fits by cell; a reference made with other versions fails in one line."""
    content = stored(name)
    problem = version_problem(content)
    if problem:
        raise AssertionError(problem)
    definition = DEFINITIONS[name]
    if content["settings"] != definition.settings():
        raise AssertionError(f"reference {name!r} was made for other settings or cells; "
                             f"regenerate it: {REGENERATE} {name}")
    fits = {}
    for cell, record in zip(definition.cells, content["fits"], strict=True):
        curves = record.get("curves")
        fits[cell] = StoredFit(
            cell, record["test_loss"], record["test_metric"], record["last_train_loss"],
            record.get("train_loss"), None if curves is None else np.array(curves, np.float32),
            record.get("calibration"))
    return fits
