"""The tutorial's case study: a 500-unit MLP overfitting the two-circles problem.

Data: ``make_circles(n_samples=100, noise=0.1, random_state=1)``, the first 30 rows train and
the last 70 test, no shuffling. Model: input -> [Dropout] -> Dense(500, relu) [MaxNorm] ->
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


@cache
def load_data() -> Dataset:
    from sklearn.datasets import make_circles

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
