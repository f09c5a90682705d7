"""The tutorial reader's text model written as a user's task file: variational dropout in a
two-layer bidirectional GRU over an embedding (``bench_stacked_layers.py --only t`` trains it
on both engines; the built-in ``text-gru`` task is the same model on another corpus).

Data: synthetic token sequences from a fixed seed (vocabulary 200, length 30; 600 training and
400 test rows), three classes by which band of tokens is most frequent, one label in ten
flipped. Model::

    Embedding(200, 32) -> [Dropout "embedding"]
      -> Bidirectional(GRU(25, dropout, recurrent_dropout "recurrent", return_sequences))
      -> [Dropout "output"] -> Bidirectional(GRU(25, ...)) -> [Dropout "output"]
      -> Dense(100, relu) -> [Dropout "output"] -> Dense(3, softmax)
"""

from __future__ import annotations

from typing import Any

import numpy as np

import sweep

VOCABULARY = 200
LENGTH = 30
CLASSES = 3


def load_data() -> sweep.Dataset:
    rng = np.random.default_rng(2016)
    x = rng.integers(1, VOCABULARY, size=(1000, LENGTH))
    bands = np.stack([((x >= lo) & (x < lo + 20)).sum(axis=1) for lo in (1, 90, 180)], axis=1)
    y = bands.argmax(axis=1)
    flip = rng.random(len(y)) < 0.1
    y = np.where(flip, rng.integers(0, CLASSES, len(y)), y)
    return sweep.Dataset(x[:600].astype(np.int32), y[:600].astype(np.int32),
                         x[600:].astype(np.int32), y[600:].astype(np.int32))


def build_model(cell: sweep.Cell) -> Any:
    import keras

    layers = keras.layers
    inner = cell.rate if cell.placement == "recurrent" else 0.0
    after = cell.rate if cell.placement == "output" else 0.0
    model = keras.Sequential([keras.Input((LENGTH,), dtype="int32"),
                              layers.Embedding(VOCABULARY, 32)])
    if cell.placement == "embedding":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.Bidirectional(layers.GRU(25, dropout=inner, recurrent_dropout=inner,
                                              return_sequences=True)))
    if after:
        model.add(layers.Dropout(after))
    model.add(layers.Bidirectional(layers.GRU(25, dropout=inner, recurrent_dropout=inner)))
    if after:
        model.add(layers.Dropout(after))
    model.add(layers.Dense(100, activation="relu"))
    if after:
        model.add(layers.Dropout(after))
    model.add(layers.Dense(CLASSES, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


TASK = sweep.Task(
    name="reader-text",
    placements=("embedding", "recurrent", "output"),
    load_data=load_data,
    build_model=build_model,
    epochs=6,
    batch_size=32,
)
