"""What a sweep compares cells on: a metric, which way is better, and on which split.

A task names its metric (any key its compiled Keras model reports: ``accuracy``, ``auc``,
``loss``, ``mse`` ...) and, optionally, the direction; the known metrics have the obvious one.
Cells are compared on the validation split when the task's data has one, else on test. A
study stores its objective in its fixed settings (:meth:`Objective.settings`); studies written
before sweep had objectives are accuracy, maximized, on test (:meth:`Objective.from_settings`).

A task may name its metric's unit (``Task.metric_unit``: the tabular task's regression target is
standardised, so its MAE is in training standard deviations of the target); every label of the
metric a user reads then carries it (:attr:`Objective.label`: "test mae [training SDs of the
target]"). The unit is stored with the objective (``metric_unit``, only when there is one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .exceptions import ConfigError

Direction = Literal["maximize", "minimize"]
Split = Literal["test", "validation"]

MAXIMIZED = frozenset({
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
    "recall", "f1_score", "f1", "fbeta_score", "r2_score", "r2", "iou", "mean_iou",
    "mc_accuracy",
})
MINIMIZED = frozenset({
    "loss", "mse", "mae", "rmse", "mape", "msle", "mean_squared_error", "mean_absolute_error",
    "root_mean_squared_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "kld", "poisson", "log_cosh", "logcosh", "huber",
    "nll", "brier", "ece", "mc_nll", "mc_brier", "mc_ece",
    "gaussian_nll", "mc_mse", "mc_mae", "mc_gaussian_nll",
})
BOUNDED = frozenset({
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
    "recall", "f1_score", "f1", "fbeta_score", "iou", "mean_iou", "mc_accuracy", "ece", "mc_ece",
})
"""Metrics that live in [0, 1]: a t-interval of a few seeds is shown clipped to it."""
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
LEGACY = {"metric": "accuracy", "direction": "maximize", "compared_on": "test"}
"""The objective of studies written before sweep stored one."""
UNIT_KEY = "metric_unit"
"""The settings key of the metric's unit; absent when the task names none (and in studies
written before sweep stored units: their values are labelled without one)."""
MAX_UNIT_LENGTH = 60


def default_direction(metric: str) -> Direction | None:
    """The obvious direction of a known metric; None for a metric sweep does not know."""
    if metric in MAXIMIZED:
        return "maximize"
    if metric in MINIMIZED or metric.endswith(("_loss", "_error", "crossentropy")):
        return "minimize"
    return None


def check_metric(metric: Any, direction: Any) -> tuple[str, Direction]:
    """The metric's name and its direction (given, else the known default); one-line errors."""
    if not isinstance(metric, str) or not _METRIC_NAME.fullmatch(metric):
        raise ConfigError(
            f"metric: {metric!r} is not a metric name; give the key the compiled model reports "
            "in its history, e.g. metric=\"accuracy\" or metric=\"mse\""
        )
    if direction is None:
        direction = default_direction(metric)
        if direction is None:
            raise ConfigError(
                f"metric: sweep does not know which way {metric!r} is better; give "
                "direction=\"maximize\" or direction=\"minimize\" in the Task"
            )
    if direction not in ("maximize", "minimize"):
        raise ConfigError(
            f"direction: {direction!r} is neither \"maximize\" nor \"minimize\"; give one of them"
        )
    return metric, direction


def check_unit(unit: Any) -> str:
    """The metric's unit in words ("" for none); one line naming what is wrong."""
    if not isinstance(unit, str) or len(unit) > MAX_UNIT_LENGTH or not unit.isprintable() \
            or unit != unit.strip():
        raise ConfigError(
            f"metric_unit: {unit!r} is not a unit in words of at most {MAX_UNIT_LENGTH} "
            "characters on one line; give e.g. metric_unit=\"squared training SDs of the "
            "target\", or \"\" for none"
        )
    return unit


@dataclass(frozen=True)
class Objective:
    """The metric cells are compared on, its direction, the split it is measured on, and its
    unit in words ("" when the task names none)."""

    metric: str = "accuracy"
    direction: Direction = "maximize"
    compared_on: Split = "test"
    unit: str = ""

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is: ``sign * value`` is "goodness"."""
        return 1.0 if self.maximize else -1.0

    @property
    def bounded(self) -> bool:
        """True for metrics in [0, 1] (accuracy, AUC ...)."""
        return self.metric in BOUNDED

    @property
    def label(self) -> str:
        """What the trials' values are, in words, with the unit when there is one: "test
        accuracy", "validation mse", "test mae [training SDs of the target]"."""
        return self.named(self.compared_on)

    def named(self, split: str) -> str:
        """The metric on another split, with the unit: "train mae [training SDs of the
        target]"."""
        return f"{split} {self.metric}{self.unit_suffix}"

    @property
    def unit_suffix(self) -> str:
        """" [unit]" after the metric's name, "" without a unit."""
        return f" [{self.unit}]" if self.unit else ""

    @property
    def better_word(self) -> str:
        return "higher is better" if self.maximize else "lower is better"

    @property
    def validated(self) -> bool:
        """Compared on a validation split (test recorded beside it)."""
        return self.compared_on == "validation"

    def settings(self) -> dict[str, str]:
        """The objective as stored in a study's settings; :data:`UNIT_KEY` only with a unit."""
        stored = {"metric": self.metric, "direction": self.direction,
                  "compared_on": self.compared_on}
        return {**stored, UNIT_KEY: self.unit} if self.unit else stored

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Objective:
        """A study's objective from its fixed settings (:data:`LEGACY` where absent; no unit
        where none is stored)."""
        merged = {**LEGACY, **{k: settings[k] for k in LEGACY if k in settings}}
        return cls(str(merged["metric"]), merged["direction"], merged["compared_on"],
                   str(settings.get(UNIT_KEY) or ""))
