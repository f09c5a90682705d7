"""The tutorial's case study: a 500-unit MLP overfitting the two-circles problem.

Data: ``make_circles(n_samples=100, noise=0.1, random_state=1)``, the first 30 rows train and
the last 70 test, no shuffling; :func:`make_circles` is scikit-learn's function written out in
NumPy (the same arrays, bit for bit, ``tests/tasks/test_circles.py``), so that a run does not pay
scikit-learn's import (about 2.5 s of CPU here) for 100 points, and the data cannot change with
scikit-learn's version. Model: input -> [Dropout] -> Dense(500, relu) [MaxNorm] ->
[Dropout] -> Dense(1, sigmoid); binary cross-entropy, Adam, accuracy.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from ..grid import Cell
from ._base import Dataset, Task

N_TRAIN = 30
HIDDEN_UNITS = 500


def make_circles(n_samples: int, noise: float, random_state: int, factor: float = 0.8
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.make_circles(n_samples, shuffle=True, noise=noise,
    random_state=random_state, factor=factor)`` (scikit-learn 1.x): the outer circle's points,
    then the inner one's, shuffled by the seed's ``RandomState``, then Gaussian noise from it."""
    outer, inner = n_samples // 2, n_samples - n_samples // 2
    generator = np.random.RandomState(random_state)
    angles_out = np.linspace(0, 2 * np.pi, outer, endpoint=False)
    angles_in = np.linspace(0, 2 * np.pi, inner, endpoint=False)
    x = np.vstack([np.append(np.cos(angles_out), np.cos(angles_in) * factor),
                   np.append(np.sin(angles_out), np.sin(angles_in) * factor)]).T
    y = np.hstack([np.zeros(outer, dtype=np.intp), np.ones(inner, dtype=np.intp)])
    order = np.arange(n_samples)
    generator.shuffle(order)
    x, y = x[order], y[order]
    x += generator.normal(scale=noise, size=x.shape)
    return x, y


@cache
def load_data() -> Dataset:
    x, y = make_circles(n_samples=100, noise=0.1, random_state=1)
    x = x.astype(np.float32)
    y = y.astype(np.float32)
    return Dataset(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])


def on_input(cell: Cell) -> bool:
    """The cell drops out the input (placements ``input`` and ``both``)."""
    return cell.rate > 0 and cell.placement in ("input", "both")


def on_hidden(cell: Cell) -> bool:
    """The cell drops out the hidden layer (placements ``hidden`` and ``both``)."""
    return cell.rate > 0 and cell.placement in ("hidden", "both")


def build_model(cell: Cell) -> Any:
    """The tutorial's compiled model for one cell (call ``set_random_seed`` first)."""
    from .._keras import import_keras

    keras = import_keras()
    layers = keras.layers
    model = keras.Sequential(name="circles_mlp")
    model.add(keras.Input(shape=(2,)))
    if on_input(cell):
        model.add(layers.Dropout(cell.rate, name="input_dropout"))
    constraint = None if cell.max_norm is None else keras.constraints.MaxNorm(cell.max_norm)
    model.add(
        layers.Dense(HIDDEN_UNITS, activation="relu", kernel_constraint=constraint, name="hidden")
    )
    if on_hidden(cell):
        model.add(layers.Dropout(cell.rate, name="hidden_dropout"))
    model.add(layers.Dense(1, activation="sigmoid", name="output"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


CIRCLES = Task(
    name="circles",
    description="Tutorial MLP (500 relu units) on make_circles, 30 train / 70 test",
    placements=("input", "hidden", "both"),
    epochs=4000,
    batch_size=32,
    optimizer="adam",
    supports_max_norm=True,
    engines=("population", "keras"),
    load_data=load_data,
    build_model=build_model,
    default_max_norms=(None, 1.0, 2.0, 3.0, 4.0, 5.0),
    epoch_seconds={"keras": 0.09, "population": 3e-5},  # keras: 0.085-0.10 s measured
    cell_seconds={"keras": 1.0},  # build, compile, first-epoch tracing, evaluate: 0.9-1.1 s
    reference=(0.4, "hidden", None),
    reference_label="tutorial",
    placement_words={"input": "on the input", "hidden": "on the hidden layer",
                     "both": "on input and hidden layer"},
)
