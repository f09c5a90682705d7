"""Checking a task before anything is written, and what the study stores about it.

:func:`task_facts` loads the task's data once per process (the split cells are compared on,
and for a user's task the fingerprint of its source and data shapes); :func:`check_first_cell`
builds the first cell's model and evaluates it on a few rows, so a broken ``build_model`` or a
metric the model does not report stops the run with one line before the study is touched.
Errors in a user's code become :class:`~sweep.exceptions.TaskError` lines naming the user's file
and line (:func:`sweep.tasks.loading.user_error`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigError, TaskError
from ..grid import Cell
from ..objective import Objective, Split
from ._base import Dataset, Task
from .loading import fingerprint, source_stamp, user_error

_FACTS: dict[str, TaskFacts] = {}
_PROBE_ROWS = 8


@dataclass(frozen=True)
class TaskFacts:
    """What a run learns from the task's data: the compared split, the user task's
    fingerprint (None for built-in tasks) and the arrays' shapes."""

    compared_on: Split
    fingerprint: str | None
    shapes: dict[str, Any]

    def settings(self) -> dict[str, Any]:
        return {} if self.fingerprint is None else {"task_fingerprint": self.fingerprint}


def task_facts(task: Task) -> TaskFacts:
    """Load the task's data (once per process and version of the task's file) and check it."""
    key = f"{task.reference_name}|{task.source_file}|{source_stamp(task.source_file)}"
    if key not in _FACTS:
        data = load_checked(task)
        _FACTS[key] = TaskFacts(
            data.compared_on,
            fingerprint(task, data.shapes()) if task.is_users else None,
            data.shapes(),
        )
    return _FACTS[key]


def load_checked(task: Task) -> Dataset:
    """``task.load_data()``, its errors as one line naming the user's file and line."""
    try:
        data = task.load_data()
    except Exception as error:  # noqa: BLE001 - any error in user code is the user's
        raise user_error(f"task {task.reference_name!r}: load_data() failed", error) from error
    if not isinstance(data, Dataset):
        raise ConfigError(
            f"task {task.reference_name!r}: load_data() returned a {type(data).__name__}, not "
            "a sweep.Dataset; return sweep.Dataset(train_x, train_y, test_x, test_y)"
        )
    try:
        data.check()
    except ConfigError as e:
        raise ConfigError(f"task {task.reference_name!r}: {e}") from None
    return data


def check_first_cell(task: Task, cell: Cell) -> None:
    """Build ``cell``'s model as a run would and evaluate it on a few training rows: the
    model must be a compiled Keras model reporting the task's metric."""
    from .._keras import import_keras

    keras = import_keras()
    data = load_checked(task)
    name = task.reference_name
    keras.utils.set_random_seed(cell.seed)
    try:
        model = task.build_model(cell)
    except Exception as error:  # noqa: BLE001 - any error in user code is the user's
        raise user_error(f"task {name!r}: build_model({cell.key}) failed", error) from error
    if not isinstance(model, keras.Model):
        raise TaskError(
            f"task {name!r}: build_model returned a {type(model).__name__}, not a Keras model; "
            "return the compiled keras.Model"
        )
    if not getattr(model, "compiled", False):
        raise TaskError(f"task {name!r}: build_model returned a model that is not compiled; "
                        "call model.compile(loss=..., optimizer=..., metrics=[...]) in it")
    try:
        values = model.evaluate(data.train_x[:_PROBE_ROWS], data.train_y[:_PROBE_ROWS],
                                verbose=0, return_dict=True)
    except Exception as error:  # noqa: BLE001 - the model does not fit the data
        raise user_error(f"task {name!r}: the first cell's model cannot evaluate the "
                         "training data", error) from error
    finally:
        keras.backend.clear_session(free_memory=False)
    if task.metric not in values:
        raise TaskError(
            f"task {name!r}: metric {task.metric!r} is not reported by the compiled model (it "
            f"reports: {', '.join(values)}); set metric= to one of them or compile the model "
            "with it"
        )


def described_task(settings: Mapping[str, Any]) -> Task:
    """A user task as its study describes it (name, placements, objective), for readers: a
    status or a report never runs the user's code."""
    objective = Objective.from_settings(settings)
    reference = str(settings["task"])

    def not_here(*_: Any) -> Any:
        raise ConfigError(f"task {reference!r} is only described by the study here; run or "
                          "work on it with --task where its file is")

    return Task(name=reference, placements=tuple(settings.get("placements") or ("dropout",)),
                load_data=not_here, build_model=not_here, metric=objective.metric,
                direction=objective.direction, metric_unit=objective.unit, origin=reference)
