"""A 1D convolutional model written as a user's task file (``bench_stacked_layers.py --only s``
trains it on both engines).

Data: synthetic one-channel signals from a fixed seed (128 steps; 600 training and 400 test
rows), three classes by the frequency of a noisy sine (2, 4 or 8 periods, random phase and
amplitude). Model::

    Conv1D(16, 5, causal, dilation 2) -> [SpatialDropout1D "spatial"] -> MaxPooling1D(2)
      -> Conv1D(16, 3, same) -> AveragePooling1D(2) -> [Dropout "pooling"]
      -> GlobalAveragePooling1D -> Dense(3, softmax)
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sweep

STEPS = 128
CLASSES = 3


def load_data() -> sweep.Dataset:
    rng = np.random.default_rng(2024)
    y = rng.integers(0, CLASSES, 1000)
    periods = np.array([2, 4, 8])[y][:, None]
    phase = rng.uniform(0, 2 * np.pi, (1000, 1))
    amplitude = rng.uniform(0.5, 1.5, (1000, 1))
    t = np.arange(STEPS)[None] / STEPS
    x = amplitude * np.sin(2 * np.pi * periods * t + phase) + rng.normal(0, 0.8, (1000, STEPS))
    x = x[..., None].astype(np.float32)
    return sweep.Dataset(x[:600], y[:600].astype(np.int32), x[600:], y[600:].astype(np.int32))


def build_model(cell: sweep.Cell) -> Any:
    import keras

    layers = keras.layers
    model = keras.Sequential([keras.Input((STEPS, 1)),
                              layers.Conv1D(16, 5, padding="causal", dilation_rate=2,
                                            activation="relu")])
    if cell.rate and cell.placement == "spatial":
        model.add(layers.SpatialDropout1D(cell.rate))
    model.add(layers.MaxPooling1D(2))
    model.add(layers.Conv1D(16, 3, padding="same", activation="relu"))
    model.add(layers.AveragePooling1D(2))
    if cell.rate and cell.placement == "pooling":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.GlobalAveragePooling1D())
    model.add(layers.Dense(CLASSES, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


TASK = sweep.Task(
    name="signal-conv1d",
    placements=("spatial", "pooling"),
    load_data=load_data,
    build_model=build_model,
    epochs=20,
    batch_size=32,
)
