from __future__ import annotations

import numpy as np

from sweep.engines import TrainSettings, get_engine
from sweep.grid import Cell
from sweep.tasks import get_task

TASK = get_task("circles")


def test_keras_engine_records_metrics_and_curves() -> None:
    engine = get_engine("keras")
    cells = [Cell(0.0, "none", None, 0), Cell(0.4, "both", 2.0, 1)]
    results = engine.train(TASK, cells, TrainSettings(epochs=6, batch_size=32))
    assert [r.cell for r in results] == cells
    for result in results:
        assert result.engine == "keras"
        assert result.curves.epochs == 6
        for value in (result.train_accuracy, result.test_accuracy):
            assert 0.0 <= value <= 1.0
        # the final test metrics are the last validation epoch (evaluation with dropout off)
        assert result.test_accuracy == np.float32(result.curves.test_accuracy[-1])
        assert abs(result.test_loss - float(result.curves.test_loss[-1])) < 1e-5
        assert result.fit_seconds > 0


def test_keras_engine_is_reproducible_per_seed() -> None:
    engine = get_engine("keras")
    settings = TrainSettings(epochs=5, batch_size=32)
    cell = Cell(0.4, "hidden", None, 3)
    first, second = (engine.train(TASK, [cell], settings)[0] for _ in range(2))
    np.testing.assert_array_equal(first.curves.stacked(), second.curves.stacked())
    other = engine.train(TASK, [Cell(0.4, "hidden", None, 4)], settings)[0]
    assert not np.array_equal(first.curves.stacked(), other.curves.stacked())
