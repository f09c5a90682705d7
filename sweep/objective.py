"""What a sweep compares cells on: a metric, which way is better, and on which split.

A task names its metric (any key its compiled Keras model reports: ``accuracy``, ``auc``,
``loss``, ``mse`` ...) and, optionally, the direction; the known metrics have the obvious one.
Cells are compared on the validation split when the task's data has one, else on test. A
study stores its objective in its fixed settings (:meth:`Objective.settings`); studies written
before sweep had objectives are accuracy, maximized, on test (:meth:`Objective.from_settings`).
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
})
MINIMIZED = frozenset({
    "loss", "mse", "mae", "rmse", "mape", "msle", "mean_squared_error", "mean_absolute_error",
    "root_mean_squared_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "kld", "poisson", "log_cosh", "logcosh", "huber",
})
BOUNDED = frozenset({
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision",
    "recall", "f1_score", "f1", "fbeta_score", "iou", "mean_iou",
})
"""Metrics that live in [0, 1]: a t-interval of a few seeds is shown clipped to it."""
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
LEGACY = {"metric": "accuracy", "direction": "maximize", "compared_on": "test"}
"""The objective of studies written before sweep stored one."""


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


@dataclass(frozen=True)
class Objective:
    """The metric cells are compared on, its direction, and the split it is measured on."""

    metric: str = "accuracy"
    direction: Direction = "maximize"
    compared_on: Split = "test"

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
        """What the trials' values are, in words: "test accuracy", "validation mse"."""
        return f"{self.compared_on} {self.metric}"

    @property
    def better_word(self) -> str:
        return "higher is better" if self.maximize else "lower is better"

    @property
    def validated(self) -> bool:
        """Compared on a validation split (test recorded beside it)."""
        return self.compared_on == "validation"

    def settings(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": self.direction,
                "compared_on": self.compared_on}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Objective:
        """A study's objective from its fixed settings (:data:`LEGACY` where absent)."""
        merged = {**LEGACY, **{k: settings[k] for k in LEGACY if k in settings}}
        return cls(str(merged["metric"]), merged["direction"], merged["compared_on"])
