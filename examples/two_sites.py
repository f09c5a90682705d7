"""Example user task: a functional Keras MLP with two named dropout sites.

Data: scikit-learn's breast-cancer set (569 rows, 30 features, binary; ships with
scikit-learn, nothing is downloaded), split once with ``train_test_split(test_size=0.3,
stratify=y, random_state=0)`` into 398 train / 171 test rows; features standardised with the
training rows' mean and standard deviation only.

Model (functional)::

    features(30) -> [Dropout "input"] -> Dense(64, relu) -> Dense(32, relu)
                 -> [Dropout "features"] -> Dense(1, sigmoid)

A cell's placement picks the dropout site: ``input`` drops raw features, ``features`` drops
units of the last hidden representation; ``none`` (the rate-0 baseline) has no dropout at all.
With a max-norm, both hidden Dense layers get ``MaxNorm(cell.max_norm)`` on their kernels.
Binary cross-entropy, Adam, metric ``accuracy`` (maximized).

Run it (a small sweep, 1-3 minutes on 2 cores, is ``examples/two_sites.toml``)::

    .venv/bin/python -m sweep run --config examples/two_sites.toml
    .venv/bin/python -m sweep run --task examples/two_sites.py --study two_sites \\
        --rates 0,0.3 --max-norms none,1 --seeds 5 --epochs 30
    .venv/bin/python -m sweep report --study two_sites
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

import sweep

SITES: dict[str, frozenset[str]] = {
    "none": frozenset(),  # the rate-0 baseline
    "input": frozenset({"input"}),
    "features": frozenset({"features"}),
    # add e.g. "both": frozenset({"input", "features"}) and list it in placements below
}


@cache
def load_data() -> sweep.Dataset:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=0.3, stratify=y, random_state=0
    )
    mean = train_x.mean(axis=0)
    std = train_x.std(axis=0)
    std[std == 0] = 1.0

    def scale(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32)

    return sweep.Dataset(
        scale(train_x), train_y.astype(np.float32), scale(test_x), test_y.astype(np.float32)
    )


def build_model(cell: sweep.Cell) -> Any:
    """The compiled model for one cell; sweep seeds Keras before calling this, and fits it."""
    import keras

    sites = SITES[cell.placement]
    constraint = None if cell.max_norm is None else keras.constraints.MaxNorm(cell.max_norm)

    def dense(units: int, name: str) -> Any:
        return keras.layers.Dense(units, activation="relu", kernel_constraint=constraint,
                                  name=name)

    inputs = keras.Input(shape=(30,), name="features_in")
    x = inputs
    if "input" in sites:
        x = keras.layers.Dropout(cell.rate, name="input_dropout")(x)
    x = dense(64, "hidden_1")(x)
    x = dense(32, "hidden_2")(x)
    if "features" in sites:
        x = keras.layers.Dropout(cell.rate, name="features_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    model = keras.Model(inputs, outputs, name="two_sites_mlp")
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


TASK = sweep.Task(
    name="two_sites",
    placements=("input", "features"),
    load_data=load_data,
    build_model=build_model,
    epochs=50,
    batch_size=32,
    metric="accuracy",
    direction=None,
    supports_max_norm=True,
    default_max_norms=(None, 1.0),
    description="Functional MLP (64-32 relu) on breast cancer, dropout on input or features",
)
