"""The engine interface: train a batch of cells of one task, return one result per cell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..grid import Cell
from ..tasks import Task


@dataclass(frozen=True)
class Curves:
    """Per-epoch learning curves of the task's loss and metric, each of length ``epochs``
    (train values are dropout-on). ``test_*`` are the compared split's: test, or validation
    when the task has a validation split."""

    train_loss: np.ndarray
    train_metric: np.ndarray
    test_loss: np.ndarray
    test_metric: np.ndarray

    @property
    def epochs(self) -> int:
        return int(self.test_metric.shape[0])

    def stacked(self) -> np.ndarray:
        """Shape (4, epochs): train_loss, train_metric, test_loss, test_metric."""
        return np.stack(
            [self.train_loss, self.train_metric, self.test_loss, self.test_metric]
        ).astype(np.float32)

    @classmethod
    def from_stacked(cls, array: np.ndarray) -> Curves:
        return cls(array[0], array[1], array[2], array[3])


@dataclass(frozen=True)
class CellResult:
    """What training one cell produced: the task's ``metric`` and loss, evaluated with dropout
    off as the tutorial's ``model.evaluate`` does, on train, test and (when the task has one)
    validation. :attr:`value` is what cells are compared on."""

    cell: Cell
    train_metric: float
    test_metric: float
    train_loss: float
    test_loss: float
    fit_seconds: float
    curves: Curves
    engine: str
    metric: str = "accuracy"
    validation_metric: float | None = None
    validation_loss: float | None = None
    calibration: dict[str, float] = field(default_factory=dict)
    """A classifier's calibration figures on the compared split (:func:`sweep.calibration.
    cell_figures`): ``accuracy``, ``nll``, ``brier``, ``ece`` under standard inference and,
    with MC passes, ``mc_accuracy`` ... of their mean; empty for any other task."""
    test_calibration: dict[str, float] = field(default_factory=dict)
    """The same figures on test when the compared split is validation (else empty)."""
    reliability: dict[str, list[list[float]]] = field(default_factory=dict)
    """A classifier's reliability bins on the compared split (:func:`sweep.calibration.
    cell_bins`): ``reliability`` and ``mc_reliability``; empty for any other task."""
    ranked_by: str = ""
    """A calibration figure (``mc_nll`` ...) :attr:`value` is, in place of the task's metric
    (:mod:`sweep.ranking`); "" for the task's metric."""

    @property
    def compared_on(self) -> str:
        """The split :attr:`value` is measured on: ``validation`` or ``test``."""
        return "test" if self.validation_metric is None else "validation"

    @property
    def value(self) -> float:
        """The compared metric (or :attr:`ranked_by`'s figure): on validation when the task has
        it, else on test."""
        if self.ranked_by:
            return self.calibration[self.ranked_by]
        return self.test_metric if self.validation_metric is None else self.validation_metric


COUNTED_METRICS = frozenset({"accuracy", "acc", "binary_accuracy", "categorical_accuracy",
                             "sparse_categorical_accuracy"})
"""Metrics that are a fraction of correct decisions (a count over the evaluated labels)."""


def exact_metric(metric: str, value: float, labels: np.ndarray) -> float:
    """``value`` of ``metric`` on rows whose labels are ``labels``, as a Python float.

    An accuracy is computed in float32 (Keras' metric, the engines' programs): on 70 rows
    ``32 / 70`` comes back as 0.4571428596973419. It is stored from its count, as the float64
    fraction ``k / n``: ``n`` is the number of label values (a multiple of the decisions made,
    one per row for categorical labels, one per label value otherwise, which gives the same
    fraction), ``k`` is ``value * n`` rounded, exact while float32's error times ``n`` is far
    below a half. A value that is no such fraction (weighted rows) is kept as it is."""
    number = float(value)
    size = int(np.size(labels))
    if metric not in COUNTED_METRICS or not 0 < size <= 1 << 20 or not np.isfinite(number):
        return number
    count = round(number * size)
    if abs(number * size - count) > size * 2.0**-22:
        return number
    return count / size


@dataclass(frozen=True)
class TrainSettings:
    """``mc_passes``: the stochastic passes (dropout on) whose mean (and, for a regression,
    variance) gives a cell's MC dropout figures; 0 records none."""

    epochs: int
    batch_size: int
    mc_passes: int = 0


class TrainControl(Protocol):
    """What an engine asks of whoever runs it, between bounded chunks of compiled work.

    ``should_stop()`` is True once a stop was requested (SIGINT/SIGTERM): the engine returns
    within a few seconds, yielding nothing more (a cell it had not finished is simply not
    yielded). ``advance(cells)`` reports progress in cells, fractions allowed (e.g. one epoch
    of one cell is ``1 / epochs``), so a progress bar moves while a long cell trains.
    """

    def should_stop(self) -> bool: ...

    def advance(self, cells: float) -> None: ...


class NoControl:
    """Never stops, reports nothing: for direct calls (tests, benchmarks)."""

    def should_stop(self) -> bool:
        return False

    def advance(self, cells: float) -> None:
        return None


NO_CONTROL = NoControl()


class Engine(Protocol):
    """Trains cells. ``cells_per_claim`` is how many cells a worker claims at once.

    ``train`` yields the results of the cells it finished, in the cells' order, a batch at a
    time (one cell for the Keras engine, one population for the population engine), so the
    caller can record each batch as soon as it is done. After a stop request it returns early:
    the cells it did not yield were not finished.
    """

    name: str

    def check(
        self, task: Task, settings: TrainSettings, placements: Sequence[str] | None
    ) -> None:
        """Raise :class:`sweep.exceptions.ConfigError` if this engine cannot train ``task`` with
        ``settings`` (and ``placements``, when given), before anything is written."""
        ...

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int: ...

    def train(
        self,
        task: Task,
        cells: Sequence[Cell],
        settings: TrainSettings,
        control: TrainControl = NO_CONTROL,
    ) -> Iterator[list[CellResult]]: ...


def train_all(
    engine: Engine, task: Task, cells: Sequence[Cell], settings: TrainSettings
) -> list[CellResult]:
    """Every cell's result, in order (no stop, no progress): for tests and benchmarks."""
    return [result for batch in engine.train(task, cells, settings) for result in batch]
