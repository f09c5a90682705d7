"""The engine interface: train a batch of cells of one task, return one result per cell."""

from __future__ import annotations

from collections.abc import Sequence
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


class Engine(Protocol):
    """Trains cells. ``cells_per_claim`` is how many cells a worker claims at once."""

    name: str

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int: ...

    def train(
        self, task: Task, cells: Sequence[Cell], settings: TrainSettings
    ) -> list[CellResult]: ...
