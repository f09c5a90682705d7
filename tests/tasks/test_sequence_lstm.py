"""The sequence-lstm task: its generator, its layers per placement, training through the engine
and the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sweep.config import build_config
from sweep.engines import TrainSettings, get_engine, train_all
from sweep.exceptions import ConfigError
from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import get_task, sequence_lstm

from ..conftest import assert_error_line, cli_in_process

TASK = get_task("sequence-lstm")


def test_registered_with_its_placements_and_the_population_engine_first() -> None:
    assert TASK is sequence_lstm.SEQUENCE_LSTM
    assert TASK.placements == ("input", "output", "variational")
    assert TASK.engines == ("population", "keras")
    assert not TASK.supports_max_norm


def test_data_shapes_labels_and_split() -> None:
    data = TASK.load_data()
    assert data.train_x.shape == (200, 15, 6) and data.test_x.shape == (500, 15, 6)
    assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.float32
    assert set(np.unique(data.train_y)) == {0.0, 1.0}
    for x, y in ((data.train_x, data.train_y), (data.test_x, data.test_y)):
        # the documented rule: feature 0 beats feature 1 at more than half of the 15 steps
        wins = (x[:, :, 0] > x[:, :, 1]).sum(axis=1)
        np.testing.assert_array_equal(y, (wins >= 8).astype(np.float32))
        assert 0.4 < y.mean() < 0.6  # balanced by symmetry
    # no sequence is in both sets (every value is a continuous draw)
    train_rows = {row.tobytes() for row in data.train_x}
    assert not any(row.tobytes() in train_rows for row in data.test_x)


def test_generator_is_deterministic() -> None:
    x, y = sequence_lstm.generate(700)
    again_x, again_y = sequence_lstm.generate(700)
    np.testing.assert_array_equal(x, again_x)
    np.testing.assert_array_equal(y, again_y)
    data = sequence_lstm.load_data.__wrapped__()  # bypass the cache
    np.testing.assert_array_equal(data.train_x, x[:200])
    np.testing.assert_array_equal(data.test_x, x[200:])
    other, _ = sequence_lstm.generate(700, seed=sequence_lstm.DATA_SEED + 1)
    assert not np.array_equal(other, x)


def _layers(cell: Cell) -> list[tuple[Any, ...]]:
    model = TASK.build_model(cell)
    out: list[tuple[Any, ...]] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "LSTM":
            out.append((kind, layer.units, layer.cell.dropout, layer.cell.recurrent_dropout))
        elif kind == "Dropout":
            out.append((kind, layer.rate, layer.noise_shape))
        else:
            out.append((kind, layer.units, layer.activation.__name__))
    return out


OUTPUT = ("Dense", 1, "sigmoid")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell(0.0, BASELINE_PLACEMENT, None, 0), [("LSTM", 32, 0.0, 0.0), OUTPUT]),
        # noise_shape None: a fresh mask for every sample, time step and feature
        (Cell(0.3, "input", None, 0),
         [("Dropout", 0.3, None), ("LSTM", 32, 0.0, 0.0), OUTPUT]),
        (Cell(0.3, "output", None, 0),
         [("LSTM", 32, 0.0, 0.0), ("Dropout", 0.3, None), OUTPUT]),
        (Cell(0.6, "variational", None, 0), [("LSTM", 32, 0.6, 0.6), OUTPUT]),
    ],
)
def test_layers_per_placement(cell: Cell, expected: list[tuple[Any, ...]]) -> None:
    assert _layers(cell) == expected


def test_model_input_and_loss() -> None:
    model = TASK.build_model(Cell(0.3, "input", None, 0))
    assert model.input_shape == (None, 15, 6)
    assert model.loss == "binary_crossentropy"


def test_max_norm_is_refused() -> None:
    assert build_config({"task": "sequence-lstm"}).max_norms == (None,)
    with pytest.raises(ConfigError, match="has no max-norm"):
        build_config({"task": "sequence-lstm", "max_norms": "none,2"})
    with pytest.raises(ValueError, match="no max-norm"):
        TASK.build_model(Cell(0.3, "output", 2.0, 0))


def test_the_population_engine_is_the_default_and_keras_is_accepted() -> None:
    assert build_config({"task": "sequence-lstm"}).resolved_engine == "population"
    assert build_config({"task": "sequence-lstm", "engine": "keras"}).resolved_engine == "keras"


def test_keras_engine_trains_a_few_epochs() -> None:
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, 0), Cell(0.5, "variational", None, 1)]
    results = train_all(get_engine("keras"), TASK, cells, TrainSettings(epochs=2, batch_size=32))
    assert [r.cell for r in results] == cells
    for result in results:
        assert result.curves.epochs == 2
        assert np.isfinite(result.curves.stacked()).all()
        assert 0.0 <= result.train_metric <= 1.0 and 0.0 <= result.test_metric <= 1.0
        assert np.float32(result.test_metric) == result.curves.test_metric[-1]
        assert result.test_loss < 1.0  # not diverged (chance level is ln 2 = 0.69)


@pytest.mark.slow
def test_cli_run_writes_the_report(tmp_path: Path) -> None:
    result = cli_in_process("run", "--study", "lstm", "--task", "sequence-lstm", "--rates",
                            "0,0.5", "--placements", "variational", "--seeds", "1", "--epochs",
                            "2", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 cell(s) trained now" in result.stdout
    assert "variational" in result.stdout and "95% CI" in result.stdout
    assert "on the population engine" in result.stderr
    assert (tmp_path / "dashboards" / "lstm.html").stat().st_size > 0


def test_cli_rejects_a_placement_of_another_task(tmp_path: Path) -> None:
    result = cli_in_process("run", "--task", "sequence-lstm", "--placements", "hidden",
                            "--seeds", "1", cwd=tmp_path)
    assert_error_line(result, "valid: input, output, variational")
    assert not (tmp_path / "studies").exists()
