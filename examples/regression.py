"""Example user task: regression (metric ``mse``) with a validation split.

Data: ``sklearn.datasets.make_friedman1(n_samples=600, n_features=10, noise=1.0,
random_state=0)``, generated locally (5 informative features, 5 pure noise). The rows are
already in random order: the first 360 train, the next 120 validate, the last 120 test.
Features AND the target are standardised with the training rows' mean and standard deviation
only, so the reported MSE is in units of the training target's variance, squared training
standard deviations (a constant predictor scores about 1.0): ``metric_unit`` says so wherever
the metric is shown.

Because the dataset has a validation split, sweep compares cells (and picks the best) on the
validation MSE; the test MSE is recorded beside it and never used to choose.

Model: Sequential ``x(10) -> [Dropout "input"] -> Dense(64, relu) -> Dense(64, relu) ->
[Dropout "hidden"] -> Dense(1)``; ``none`` (the rate-0 baseline) has no dropout. MSE loss,
Adam, metric ``MeanSquaredError(name="mse")`` so the Keras key is exactly ``mse`` (minimized).

Run it (a small sweep, 1-3 minutes on 2 cores, is ``examples/regression.toml``)::

    .venv/bin/python -m sweep run --config examples/regression.toml
    .venv/bin/python -m sweep report --study regression
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

import sweep

N_TRAIN = 360
N_VALIDATION = 120
N_FEATURES = 10


@cache
def load_data() -> sweep.Dataset:
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=600, n_features=N_FEATURES, noise=1.0, random_state=0)
    stop = N_TRAIN + N_VALIDATION
    x_mean, x_std = x[:N_TRAIN].mean(axis=0), x[:N_TRAIN].std(axis=0)
    y_mean, y_std = y[:N_TRAIN].mean(), y[:N_TRAIN].std()
    x = ((x - x_mean) / x_std).astype(np.float32)
    y = ((y - y_mean) / y_std).astype(np.float32)
    return sweep.Dataset(
        x[:N_TRAIN], y[:N_TRAIN], x[stop:], y[stop:],
        validation_x=x[N_TRAIN:stop], validation_y=y[N_TRAIN:stop],
    )


def build_model(cell: sweep.Cell) -> Any:
    """The compiled model for one cell; sweep seeds Keras before calling this, and fits it."""
    import keras

    layers = keras.layers
    model = keras.Sequential(name="friedman_mlp")
    model.add(keras.Input(shape=(N_FEATURES,)))
    if cell.placement == "input":
        model.add(layers.Dropout(cell.rate, name="input_dropout"))
    model.add(layers.Dense(64, activation="relu", name="hidden_1"))
    model.add(layers.Dense(64, activation="relu", name="hidden_2"))
    if cell.placement == "hidden":
        model.add(layers.Dropout(cell.rate, name="hidden_dropout"))
    model.add(layers.Dense(1, name="output"))
    model.compile(loss="mse", optimizer="adam",
                  metrics=[keras.metrics.MeanSquaredError(name="mse")])
    return model


TASK = sweep.Task(
    name="regression",
    placements=("input", "hidden"),
    load_data=load_data,
    build_model=build_model,
    epochs=60,
    batch_size=32,
    metric="mse",
    direction=None,  # minimize, mse's direction
    metric_unit="squared training SDs of the target",
    description="MLP (64-64 relu) regression on make_friedman1, validation split, metric mse",
)
