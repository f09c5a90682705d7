"""The engine interface: train a batch of cells of one task, return one result per cell."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..grid import Cell
from ..tasks import Task


@dataclass(frozen=True)
class Curves:
    """Per-epoch learning curves, each of length ``epochs`` (train metrics are dropout-on)."""

    train_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray

    @property
    def epochs(self) -> int:
        return int(self.test_accuracy.shape[0])

    def stacked(self) -> np.ndarray:
        """Shape (4, epochs): train_loss, train_accuracy, test_loss, test_accuracy."""
        return np.stack(
            [self.train_loss, self.train_accuracy, self.test_loss, self.test_accuracy]
        ).astype(np.float32)

    @classmethod
    def from_stacked(cls, array: np.ndarray) -> Curves:
        return cls(array[0], array[1], array[2], array[3])


@dataclass(frozen=True)
class CellResult:
    """What training one cell produced. Final accuracies are evaluated with dropout off,
    as the tutorial's ``model.evaluate`` does."""

    cell: Cell
    train_accuracy: float
    test_accuracy: float
    train_loss: float
    test_loss: float
    fit_seconds: float
    curves: Curves
    engine: str


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch_size: int


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
