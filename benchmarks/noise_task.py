"""An MLP with the dropout family beyond Dropout, written as a user's task file
(``bench_stacked_layers.py --only n`` trains it on both engines): scikit-learn's digits (shipped
with it; 1,000 training and 797 test rows of 64 pixels scaled to [0, 1], 10 classes). Model::

    [GaussianNoise(rate) "noise"] -> Dense(128, relu) -> [GaussianDropout(rate) "gaussian"]
      -> Dense(128, tanh) -> [AlphaDropout(rate) "alpha"] -> Dense(10, softmax)
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sweep

TRAIN = 1000


def load_data() -> sweep.Dataset:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(64).permutation(len(y))
    x = (x[order] / 16.0).astype(np.float32)
    y = y[order].astype(np.int32)
    return sweep.Dataset(x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:])


def build_model(cell: sweep.Cell) -> Any:
    import keras

    layers = keras.layers
    model = keras.Sequential([keras.Input((64,))])
    if cell.placement == "noise":
        model.add(layers.GaussianNoise(cell.rate))
    model.add(layers.Dense(128, activation="relu"))
    if cell.placement == "gaussian":
        model.add(layers.GaussianDropout(cell.rate))
    model.add(layers.Dense(128, activation="tanh"))
    if cell.placement == "alpha":
        model.add(layers.AlphaDropout(cell.rate))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


TASK = sweep.Task(
    name="digits-noise-mlp",
    placements=("noise", "gaussian", "alpha"),
    load_data=load_data,
    build_model=build_model,
    epochs=20,
    batch_size=32,
)
