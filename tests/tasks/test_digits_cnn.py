"""The digits-cnn task: its fixed split, its layers per placement, training through the engine
and the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sweep.config import build_config
from sweep.engines import TrainSettings, get_engine, train_all
from sweep.exceptions import ConfigError
from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import digits_cnn, get_task

from ..conftest import assert_error_line, cli_in_process

TASK = get_task("digits-cnn")
Layer = tuple[str, Any]


def test_registered_with_its_placements_and_the_population_engine_first() -> None:
    assert TASK is digits_cnn.DIGITS_CNN
    assert TASK.placements == ("pooling", "spatial", "both")
    assert TASK.engines == ("population", "keras")
    assert TASK.supports_max_norm


def test_data_is_a_fixed_stratified_split_of_sklearn_digits() -> None:
    data = TASK.load_data()
    assert data.train_x.shape == (200, 8, 8, 1) and data.test_x.shape == (500, 8, 8, 1)
    assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.int32
    assert data.train_x.min() == 0.0 and data.train_x.max() == 1.0
    assert set(np.unique(data.train_y)) == set(range(10))
    assert np.bincount(data.train_y, minlength=10).min() >= 19  # stratified: ~20 per class

    digits = load_digits()
    train, test = digits_cnn.split_indices(digits.target)
    assert not set(train.tolist()) & set(test.tolist())
    np.testing.assert_array_equal(data.train_x[..., 0], digits.images[train] / 16.0)
    np.testing.assert_array_equal(data.test_y, digits.target[test])

    again = digits_cnn.load_data.__wrapped__()  # bypass the cache: rebuilt from scratch
    np.testing.assert_array_equal(again.train_x, data.train_x)
    np.testing.assert_array_equal(again.test_y, data.test_y)


def _layers(cell: Cell) -> list[Layer]:
    model = TASK.build_model(cell)
    return [(type(layer).__name__, getattr(layer, "rate", None)) for layer in model.layers]


CONVS = [("Conv2D", None), ("Conv2D", None)]
HEAD = [("Flatten", None), ("Dense", None)]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell(0.0, BASELINE_PLACEMENT, None, 0), [*CONVS, ("MaxPooling2D", None), *HEAD]),
        (Cell(0.3, "pooling", None, 0),
         [*CONVS, ("MaxPooling2D", None), ("Dropout", 0.3), *HEAD]),
        (Cell(0.3, "spatial", None, 0),
         [*CONVS, ("SpatialDropout2D", 0.3), ("MaxPooling2D", None), *HEAD]),
        (Cell(0.6, "both", None, 0),
         [*CONVS, ("SpatialDropout2D", 0.6), ("MaxPooling2D", None), ("Dropout", 0.6), *HEAD]),
    ],
)
def test_layers_per_placement(cell: Cell, expected: list[Layer]) -> None:
    assert _layers(cell) == expected


def test_model_shapes_loss_and_output() -> None:
    model = TASK.build_model(Cell(0.3, "both", None, 0))
    assert model.get_layer("conv1").filters == 32 and model.get_layer("conv1").kernel_size == (3, 3)
    assert model.get_layer("flatten").output.shape[1:] == (2 * 2 * 32,)
    output = model.get_layer("output")
    assert output.units == 10 and output.activation.__name__ == "softmax"
    assert model.loss == "sparse_categorical_crossentropy"
    assert model.output_shape == (None, 10)


def _filter_norms(kernel: np.ndarray) -> np.ndarray:
    return np.sqrt((kernel**2).sum(axis=(0, 1, 2), keepdims=True))


def test_max_norm_bounds_each_conv_filter_and_leaves_the_output_free() -> None:
    model = TASK.build_model(Cell(0.3, "pooling", 2.0, 0))
    for name in ("conv1", "conv2"):
        constraint = model.get_layer(name).kernel_constraint
        assert constraint.max_value == 2.0 and list(constraint.axis) == [0, 1, 2]
        kernel = np.asarray(model.get_layer(name).kernel.numpy())
        unit = kernel / _filter_norms(kernel)  # every filter (3 x 3 x channels_in) of norm 1
        # a filter longer than 2 is scaled back to norm 2 as a whole; a shorter one is kept
        np.testing.assert_allclose(_filter_norms(np.asarray(constraint(10.0 * unit))), 2.0,
                                   rtol=1e-4)
        np.testing.assert_allclose(np.asarray(constraint(1.5 * unit)), 1.5 * unit, rtol=1e-5)
    assert model.get_layer("output").kernel_constraint is None
    baseline = TASK.build_model(Cell(0.0, BASELINE_PLACEMENT, None, 0))
    assert baseline.get_layer("conv1").kernel_constraint is None


def test_config_defaults_and_rejects_other_placements() -> None:
    config = build_config({"task": "digits-cnn"})
    assert config.placements == TASK.placements
    assert config.max_norms == (None,)  # max-norm is opt-in here: 280 cells, not 1,680
    assert build_config({"task": "digits-cnn", "max_norms": "none,3"}).max_norms == (None, 3.0)
    with pytest.raises(ConfigError, match="valid: pooling, spatial, both"):
        build_config({"task": "digits-cnn", "placements": "hidden"})


def test_the_population_engine_is_the_default_and_keras_is_accepted() -> None:
    assert build_config({"task": "digits-cnn"}).resolved_engine == "population"
    assert build_config({"task": "digits-cnn", "engine": "keras"}).resolved_engine == "keras"


def test_keras_engine_trains_a_few_epochs() -> None:
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, 0), Cell(0.5, "both", 2.0, 1)]
    results = train_all(get_engine("keras"), TASK, cells, TrainSettings(epochs=2, batch_size=32))
    assert [r.cell for r in results] == cells
    for result in results:
        assert result.curves.epochs == 2
        assert np.isfinite(result.curves.stacked()).all()
        assert 0.0 <= result.train_metric <= 1.0
        assert np.float32(result.test_metric) == result.curves.test_metric[-1]
        assert result.test_loss < 1.5 * np.log(10)  # not diverged (chance level is ln 10)
    # without dropout two epochs already beat chance (0.1 accuracy, loss ln 10)
    assert results[0].test_metric > 0.2 and results[0].test_loss < np.log(10)


@pytest.mark.slow
def test_cli_run_writes_the_report(tmp_path: Path) -> None:
    result = cli_in_process("run", "--study", "digits", "--task", "digits-cnn", "--rates",
                            "0,0.5", "--placements", "spatial", "--max-norms", "none", "--seeds",
                            "1", "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 cell(s) trained now" in result.stdout
    assert "spatial" in result.stdout and "95% CI" in result.stdout
    assert "on the population engine" in result.stderr
    assert (tmp_path / "dashboards" / "digits.html").stat().st_size > 0


def test_cli_rejects_a_placement_of_another_task(tmp_path: Path) -> None:
    result = cli_in_process("run", "--task", "digits-cnn", "--placements", "hidden",
                            "--seeds", "1", cwd=tmp_path)
    assert_error_line(result, "valid: pooling, spatial, both")
    assert not (tmp_path / "studies").exists()
