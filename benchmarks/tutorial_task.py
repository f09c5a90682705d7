"""The tutorial's model written as a user's task file: the built-in ``circles`` task's layers and
data, under another name, as a user would write it (``bench_one_program.py`` trains both)."""

from __future__ import annotations

from typing import Any

import numpy as np

import sweep


def load_data() -> sweep.Dataset:
    from sklearn.datasets import make_circles

    x, y = make_circles(n_samples=100, noise=0.1, random_state=1)
    x, y = x.astype(np.float32), y.astype(np.float32)
    return sweep.Dataset(x[:30], y[:30], x[30:], y[30:])


def build_model(cell: sweep.Cell) -> Any:
    import keras

    layers = keras.layers
    model = keras.Sequential()
    model.add(keras.Input(shape=(2,)))
    if cell.rate > 0 and cell.placement in ("input", "both"):
        model.add(layers.Dropout(cell.rate))
    constraint = None if cell.max_norm is None else keras.constraints.MaxNorm(cell.max_norm)
    model.add(layers.Dense(500, activation="relu", kernel_constraint=constraint))
    if cell.rate > 0 and cell.placement in ("hidden", "both"):
        model.add(layers.Dropout(cell.rate))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


TASK = sweep.Task(
    name="my-circles",
    placements=("input", "hidden", "both"),
    load_data=load_data,
    build_model=build_model,
    epochs=4000,
    batch_size=32,
    supports_max_norm=True,
    default_max_norms=(None, 1.0, 2.0, 3.0, 4.0, 5.0),
)
