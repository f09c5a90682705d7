"""The reference engine: the tutorial's own ``model.fit``, one cell at a time."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .._keras import import_keras
from ..grid import Cell
from ..tasks import Task
from ._base import CellResult, Curves, TrainSettings


class KerasFitEngine:
    """``set_random_seed(seed)``, ``build_model(cell)``, ``model.fit(...)``, ``model.evaluate``."""

    name = "keras"

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int:
        return 1

    def train(
        self, task: Task, cells: Sequence[Cell], settings: TrainSettings
    ) -> list[CellResult]:
        return [self.train_one(task, cell, settings) for cell in cells]

    def train_one(self, task: Task, cell: Cell, settings: TrainSettings) -> CellResult:
        keras = import_keras()
        data = task.load_data()
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(cell.seed)
        model = task.build_model(cell)
        start = time.perf_counter()
        history = model.fit(
            data.train_x,
            data.train_y,
            validation_data=(data.test_x, data.test_y),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            verbose=0,
        ).history
        fit_seconds = time.perf_counter() - start
        train_loss, train_accuracy = model.evaluate(data.train_x, data.train_y, verbose=0)
        test_loss, test_accuracy = model.evaluate(data.test_x, data.test_y, verbose=0)
        curves = Curves(
            train_loss=np.asarray(history["loss"], dtype=np.float32),
            train_accuracy=np.asarray(history["accuracy"], dtype=np.float32),
            test_loss=np.asarray(history["val_loss"], dtype=np.float32),
            test_accuracy=np.asarray(history["val_accuracy"], dtype=np.float32),
        )
        return CellResult(
            cell=cell,
            train_accuracy=float(train_accuracy),
            test_accuracy=float(test_accuracy),
            train_loss=float(train_loss),
            test_loss=float(test_loss),
            fit_seconds=fit_seconds,
            curves=curves,
            engine=self.name,
        )
