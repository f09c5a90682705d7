from __future__ import annotations

import time

import numpy as np
import pytest

from sweep.engines import TrainSettings, get_engine, train_all
from sweep.engines._base import exact_metric
from sweep.grid import Cell
from sweep.tasks import get_task

TASK = get_task("circles")


class RecordingControl:
    """Records progress; asks to stop once ``stop_after`` advance() calls were made."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.advances: list[float] = []

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.advances) >= self.stop_after

    def advance(self, cells: float) -> None:
        self.advances.append(cells)


def test_keras_engine_records_metrics_and_curves() -> None:
    engine = get_engine("keras")
    cells = [Cell(0.0, "none", None, 0), Cell(0.4, "both", 2.0, 1)]
    control = RecordingControl()
    batches = list(engine.train(TASK, cells, TrainSettings(epochs=6, batch_size=32), control))
    assert [[r.cell for r in batch] for batch in batches] == [[cells[0]], [cells[1]]]
    # one advance per epoch, 1/6 of a cell each
    assert control.advances == pytest.approx([1 / 6] * 12)
    assert sum(control.advances) == pytest.approx(len(cells))
    for [result] in batches:
        assert result.engine == "keras"
        assert result.curves.epochs == 6
        for value in (result.train_metric, result.test_metric):
            assert 0.0 <= value <= 1.0
        # the final test metrics are the last validation epoch (evaluation with dropout off)
        # the stored figure is the exact fraction k / n; the curve keeps Keras' float32
        assert np.float32(result.test_metric) == result.curves.test_metric[-1]
        assert abs(result.test_loss - float(result.curves.test_loss[-1])) < 1e-5
        assert result.fit_seconds > 0


def test_an_accuracy_is_kept_as_the_fraction_of_its_count() -> None:
    """Keras' float32 mean of 32 correct out of 70 becomes 32 / 70 in float64; one-hot labels
    (70 x 2 values) give the same fraction; a metric that is no count, or a value that is no
    fraction of the labels (weighted rows), is kept as it is."""
    labels = np.zeros(70, np.float32)
    float32_mean = np.float32(32) / np.float32(70)
    assert float(float32_mean) != 32 / 70
    assert exact_metric("accuracy", float32_mean, labels) == 32 / 70
    assert exact_metric("categorical_accuracy", float32_mean, np.zeros((70, 2))) == 32 / 70
    assert exact_metric("mae", float32_mean, labels) == float(float32_mean)
    assert exact_metric("accuracy", np.float32(0.123456), labels) == float(np.float32(0.123456))


def test_keras_engine_is_reproducible_per_seed() -> None:
    engine = get_engine("keras")
    settings = TrainSettings(epochs=5, batch_size=32)
    cell = Cell(0.4, "hidden", None, 3)
    first, second = (train_all(engine, TASK, [cell], settings)[0] for _ in range(2))
    np.testing.assert_array_equal(first.curves.stacked(), second.curves.stacked())
    other = train_all(engine, TASK, [Cell(0.4, "hidden", None, 4)], settings)[0]
    assert not np.array_equal(first.curves.stacked(), other.curves.stacked())


def test_a_stop_request_ends_the_fit_after_the_current_batch() -> None:
    """4,000 epochs take minutes with model.fit; a stop after the first epoch must not."""
    engine = get_engine("keras")
    cells = [Cell(0.4, "both", 2.0, 1), Cell(0.0, "none", None, 2)]
    control = RecordingControl(stop_after=1)
    began = time.monotonic()
    batches = list(engine.train(TASK, cells, TrainSettings(epochs=4000, batch_size=32), control))
    elapsed = time.monotonic() - began
    assert batches == []  # the stopped cell is not yielded, the next one never starts
    assert control.advances == [1 / 4000]  # the first epoch; the second one was cut short
    assert elapsed < 30, f"a stopped fit took {elapsed:.0f} s"
