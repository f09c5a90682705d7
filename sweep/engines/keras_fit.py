"""The reference engine: the tutorial's own ``model.fit``, one cell at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._keras import import_keras
from ..calibration import cell_bins, cell_figures, mc_probabilities, model_kind
from ..exceptions import TaskError
from ..grid import Cell
from ..predictive import regression_figures, residual_variance
from ..tasks import Dataset, Task
from ._base import NO_CONTROL, CellResult, Curves, TrainControl, TrainSettings, exact_metric


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
            validation_data=data.compared,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            verbose=0,
            callbacks=[stop],
        ).history
        fit_seconds = time.perf_counter() - start
        if stop.stopped:
            return None
        metric = task.metric
        curves = Curves(
            train_loss=_curve(history, "loss"),
            train_metric=_curve(history, metric),
            test_loss=_curve(history, "val_loss"),
            test_metric=_curve(history, f"val_{metric}"),
        )
        _check_finite(curves.train_loss, "training loss")
        train = _evaluate(model, data.train_x, data.train_y, metric)
        test = _evaluate(model, data.test_x, data.test_y, metric)
        validation = (None if data.validation_x is None
                      else _evaluate(model, data.validation_x, data.validation_y, metric))
        calibration, test_calibration, bins = model_figures(model, data, settings.mc_passes)
        return CellResult(
            cell=cell,
            train_metric=train[1],
            test_metric=test[1],
            train_loss=train[0],
            test_loss=test[0],
            fit_seconds=fit_seconds,
            curves=curves,
            engine=self.name,
            metric=metric,
            validation_metric=None if validation is None else validation[1],
            validation_loss=None if validation is None else validation[0],
            calibration=calibration,
            test_calibration=test_calibration,
            reliability=bins,
        )


def _curve(history: dict[str, Any], key: str) -> np.ndarray:
    if key not in history:
        reported = ", ".join(k for k in history if not k.startswith("val_"))
        raise TaskError(
            f"the model reports no {key.removeprefix('val_')!r} (it reports: {reported}); set "
            "the Task's metric to one of them, or compile the model with that metric"
        )
    return np.asarray(history[key], dtype=np.float32)


def _check_finite(values: np.ndarray, what: str) -> None:
    """A NaN or infinite loss fails the cell (and only the cell), naming the epoch."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise FloatingPointError(f"the {what} became {values[bad[0]]} at epoch {bad[0] + 1}")


def _evaluate(model: Any, x: Any, y: Any, metric: str) -> tuple[float, float]:
    """(loss, metric) with dropout off; a non-finite value fails the cell. An accuracy is
    the exact fraction of its count (:func:`exact_metric`), not Keras' float32 mean."""
    values = model.evaluate(x, y, verbose=0, return_dict=True)
    loss, value = float(values["loss"]), exact_metric(metric, values[metric], y)
    for name, number in (("loss", loss), (metric, value)):
        if not np.isfinite(number):
            raise FloatingPointError(f"the evaluated {name} is {number}")
    return loss, value


Outputs = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]


def mc_passes(model: Any, x: Any, passes: int) -> Outputs:
    """The model's outputs on ``x`` with dropout off (``model(x, training=False)``), and the
    mean and variance of ``passes`` calls ``model(x, training=True)`` (Keras' own dropout
    generator, continuing the cell's seeded stream; None without passes). Both calls take the
    same path, so a model without dropout gives identical passes: its mean is the pass exactly
    (:func:`sweep.calibration.mc_probabilities`) and its variance 0."""
    outputs = np.asarray(model(x, training=False))
    if not passes:
        return outputs, None, None
    stacked = np.stack([np.asarray(model(x, training=True)) for _ in range(passes)])
    return outputs, mc_probabilities(stacked), stacked.astype(np.float64).var(axis=0)


def calibration_figures(model: Any, x: Any, y: Any, passes: int) -> dict[str, float]:
    """A classifier's :func:`sweep.calibration.cell_figures` on ``x``, ``y`` (empty for a
    model that is not a classifier)."""
    if model_kind(model) != "classifier":
        return {}
    outputs, mean, _ = mc_passes(model, x, passes)
    return cell_figures(outputs, mean, y)


def model_figures(model: Any, data: Dataset, passes: int
                  ) -> tuple[dict[str, float], dict[str, float], dict[str, list[list[float]]]]:
    """The cell's figures on the compared split, on test beside validation, and its
    reliability bins: a classifier's (:mod:`sweep.calibration`), a regression's
    (:mod:`sweep.predictive`, the residual variance from the training rows), else none."""
    kind = model_kind(model)
    if kind is None:
        return {}, {}, {}
    residual = 0.0
    if kind == "regression":
        residual = residual_variance(np.asarray(model(data.train_x, training=False)),
                                     data.train_y)

    def on(x: Any, y: Any, bins: bool) -> tuple[dict[str, float], dict[str, Any]]:
        outputs, mean, variance = mc_passes(model, x, passes)
        if kind == "regression":
            return regression_figures(outputs, mean, variance, y, residual), {}
        return cell_figures(outputs, mean, y), cell_bins(outputs, mean, y) if bins else {}

    compared, bins = on(*data.compared, True)
    tested = on(data.test_x, data.test_y, False)[0] if data.compared_on == "validation" else {}
    return compared, tested, bins


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
