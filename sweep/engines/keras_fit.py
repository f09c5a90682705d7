"""The reference engine: the tutorial's own ``model.fit``, one cell at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._keras import import_keras
from ..grid import Cell
from ..tasks import Task
from ._base import NO_CONTROL, CellResult, Curves, TrainControl, TrainSettings


class KerasFitEngine:
    """``set_random_seed(seed)``, ``build_model(cell)``, ``model.fit(...)``, ``model.evaluate``.

    A stop request ends ``model.fit`` after the current training batch (a callback sets
    ``model.stop_training``); the cell is then not yielded, so a stop costs at most one batch
    and one validation pass, whatever the number of epochs.
    """

    name = "keras"

    def check(
        self, task: Task, settings: TrainSettings, placements: Sequence[str] | None
    ) -> None:
        """``model.fit`` trains any task, epochs and batch size the config accepts."""
        return None

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int:
        return 1

    def train(
        self,
        task: Task,
        cells: Sequence[Cell],
        settings: TrainSettings,
        control: TrainControl = NO_CONTROL,
    ) -> Iterator[list[CellResult]]:
        for cell in cells:
            if control.should_stop():
                return
            result = self.train_one(task, cell, settings, control)
            if result is None:
                return
            yield [result]

    def train_one(
        self,
        task: Task,
        cell: Cell,
        settings: TrainSettings,
        control: TrainControl = NO_CONTROL,
    ) -> CellResult | None:
        """One cell's result, or None when ``control`` asked to stop during its fit."""
        keras = import_keras()
        data = task.load_data()
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(cell.seed)
        model = task.build_model(cell)
        stop = _stop_callback(keras, control, settings.epochs)
        start = time.perf_counter()
        history = model.fit(
            data.train_x,
            data.train_y,
            validation_data=(data.test_x, data.test_y),
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            verbose=0,
            callbacks=[stop],
        ).history
        fit_seconds = time.perf_counter() - start
        if stop.stopped:
            return None
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


def _stop_callback(keras: Any, control: TrainControl, epochs: int) -> Any:
    """A Keras callback that polls ``control`` after every training batch and reports each
    finished epoch as ``1 / epochs`` of a cell. It draws no random numbers and touches no
    weights, so a fit it does not stop is exactly what it would be without it."""

    class StopOnRequest(keras.callbacks.Callback):
        stopped = False

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if control.should_stop():
                self.stopped = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if not self.stopped:
                control.advance(1 / epochs)

    return StopOnRequest()
