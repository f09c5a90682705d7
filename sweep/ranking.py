"""Ranking cells by a classifier's calibration (``--metric mc_nll`` ...): the figures every
classification cell records (:mod:`sweep.calibration`) as the sweep's objective.

A study's objective is then that figure on the compared split, in its known direction
(:data:`RANKED_FIGURES`), stored in the study's fixed settings like any objective; the task's
own metric (accuracy ...) stays recorded beside it as ``train_<metric>`` and ``test_<metric>``,
and its learning curves stay the task metric's (the figures exist once a cell is trained).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .calibration import model_kind
from .engines import CellResult
from .exceptions import ConfigError
from .grid import Cell
from .objective import Objective, Split, default_direction
from .tasks import Task

CLASSIFIER_FIGURES = ("nll", "brier", "ece", "mc_accuracy", "mc_nll", "mc_brier", "mc_ece")
REGRESSION_FIGURES = ("gaussian_nll", "mc_mse", "mc_mae", "mc_gaussian_nll")
RANKED_FIGURES = CLASSIFIER_FIGURES + REGRESSION_FIGURES
"""The figures a sweep can rank by, besides the task's own metric: a classifier's calibration
(:mod:`sweep.calibration`), a regression's predictive figures (:mod:`sweep.predictive`)."""


def ranks_by_figure(task: Task, metric: str | None) -> bool:
    """Whether ``metric`` is a calibration figure rather than the task's own metric."""
    return metric is not None and metric != task.metric


def check_ranking(task: Task, metric: str | None, mc_passes: int) -> None:
    """One line when ``metric`` is neither the task's metric nor a figure sweep records, or
    is an MC figure of a study without MC passes."""
    if not ranks_by_figure(task, metric):
        return
    if metric not in RANKED_FIGURES:
        raise ConfigError(
            f"metric: {metric!r} is not one sweep can rank task {task.name!r} by; use its own "
            f"{task.metric!r} or one of: {', '.join(RANKED_FIGURES)}")
    if metric.startswith("mc_") and not mc_passes:
        raise ConfigError(
            f"metric: {metric} is a figure of the MC dropout passes, but mc_passes is 0; give "
            "--mc-passes 50 (or more), or rank by a standard figure such as nll")


def check_applies(task: Task, metric: str | None, cell: Cell) -> None:
    """One line when a classifier's figure is asked of a model that is not a classifier, or a
    regression's of one that is not a regression (``cell``'s model is built to see)."""
    from ._keras import import_keras

    if not ranks_by_figure(task, metric):
        return
    keras = import_keras()
    keras.utils.set_random_seed(cell.seed)
    try:
        kind = model_kind(task.build_model(cell))
    finally:
        keras.backend.clear_session(free_memory=False)
    wanted = "classifier" if metric in CLASSIFIER_FIGURES else "regression"
    if kind == wanted:
        return
    what = {"classifier": "classifiers (a sigmoid or softmax output trained with a "
                          "cross-entropy loss)",
            "regression": "regression models (a linear output trained with a regression "
                          "loss such as mse)"}
    other = {"classifier": f" or by one of {', '.join(CLASSIFIER_FIGURES)}",
             "regression": f" or by one of {', '.join(REGRESSION_FIGURES)}", None: ""}
    raise ConfigError(
        f"metric: {metric} applies to {what[wanted]}; task {task.name!r} is not one: rank it "
        f"by its own {task.metric!r} (drop --metric){other[kind]}")


def objective(task: Task, metric: str | None, compared_on: Split) -> Objective:
    """The study's objective: the task's, or the calibration figure's on the same split."""
    if not ranks_by_figure(task, metric):
        return task.objective(compared_on)
    assert metric is not None
    direction = default_direction(metric)
    assert direction is not None  # every ranked figure has a known direction
    return Objective(metric, direction, compared_on)


def ranked(results: Sequence[CellResult], objective: Objective) -> list[CellResult]:
    """The results with :attr:`CellResult.value` the objective's figure where it is one."""
    if objective.metric not in RANKED_FIGURES:
        return list(results)
    return [replace(result, ranked_by=objective.metric) for result in results]
