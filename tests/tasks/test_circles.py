from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_circles

from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import circles as circles_module
from sweep.tasks import get_task

TASK = get_task("circles")


def test_data_is_the_tutorials_split() -> None:
    data = TASK.load_data()
    x, y = make_circles(n_samples=100, noise=0.1, random_state=1)
    assert data.train_x.shape == (30, 2) and data.test_x.shape == (70, 2)
    np.testing.assert_array_equal(data.train_x, x[:30].astype(np.float32))
    np.testing.assert_array_equal(data.test_x, x[30:].astype(np.float32))
    np.testing.assert_array_equal(data.train_y, y[:30])
    np.testing.assert_array_equal(data.test_y, y[30:])


@pytest.mark.parametrize(("n_samples", "noise", "seed", "factor"),
                         [(100, 0.1, 1, 0.8), (101, 0.3, 7, 0.5), (2, 0.0, 0, 0.8)])
def test_make_circles_is_scikit_learns_bit_for_bit(n_samples: int, noise: float, seed: int,
                                                   factor: float) -> None:
    """The task's NumPy copy of ``make_circles`` (no scikit-learn import in a run) gives
    scikit-learn's arrays exactly, an odd count and another seed included."""
    ours = circles_module.make_circles(n_samples, noise, seed, factor)
    theirs = make_circles(n_samples=n_samples, noise=noise, random_state=seed, factor=factor)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_loading_the_task_does_not_import_scikit_learn() -> None:
    import subprocess
    import sys

    code = ("import sys; from sweep.tasks import get_task; get_task('circles').load_data(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def _layers(cell: Cell) -> list[tuple[str, float | None, float | None]]:
    model = TASK.build_model(cell)
    out = []
    for layer in model.layers:
        kind = type(layer).__name__
        rate = getattr(layer, "rate", None)
        constraint = getattr(layer, "kernel_constraint", None)
        out.append((kind, rate, None if constraint is None else constraint.max_value))
    return out


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell(0.0, BASELINE_PLACEMENT, None, 0),
         [("Dense", None, None), ("Dense", None, None)]),
        (Cell(0.4, "hidden", None, 0),
         [("Dense", None, None), ("Dropout", 0.4, None), ("Dense", None, None)]),
        (Cell(0.2, "input", 3.0, 0),
         [("Dropout", 0.2, None), ("Dense", None, 3.0), ("Dense", None, None)]),
        (Cell(0.5, "both", 1.0, 0),
         [("Dropout", 0.5, None), ("Dense", None, 1.0), ("Dropout", 0.5, None),
          ("Dense", None, None)]),
    ],
)
def test_model_layers_per_placement_and_constraint(
    cell: Cell, expected: list[tuple[str, float | None, float | None]]
) -> None:
    assert _layers(cell) == expected


def test_model_is_the_tutorials_mlp() -> None:
    model = TASK.build_model(Cell(0.4, "hidden", None, 0))
    hidden, output = model.get_layer("hidden"), model.get_layer("output")
    assert hidden.units == 500 and hidden.activation.__name__ == "relu"
    assert output.units == 1 and output.activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy"
    assert type(model.optimizer).__name__ == "Adam"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(0.001)
