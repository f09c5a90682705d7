"""An LSTM(32) overfitting a small synthetic sequence problem: dropout before, after or inside it.

Data, generated locally with NumPy (``np.random.default_rng(DATA_SEED)``, DATA_SEED = 20240601;
nothing is downloaded): 700 independent sequences of ``STEPS`` = 15 time steps x ``FEATURES``
= 6 features, every value standard normal (float32). The label is 1 when feature 0 exceeds
feature 1 at more than half of the time steps (at 8 or more of the 15), else 0::

    y = sum_t [x[t, 0] > x[t, 1]] > 15 / 2

so the classes are balanced by symmetry, the model has to compare two features at every step
and count over time, and features 2-5 are pure noise it can memorise. The first 200 sequences
are the training set, the next 500 the test set (independent draws, so no overlap).
Without dropout (seeds 0 and 1) test accuracy peaks near 0.79 around epoch 15 and test loss is
lowest around epoch 17; by epoch 60 training accuracy is 0.99, test accuracy has fallen to about
0.70 and test loss has more than doubled: the tutorial's overfitting curve. ``epochs``
= 60 shows that whole rise and fall.

Model (the tutorial's RNN examples)::

    Input(15, 6) -> [Dropout]        placement "input": a fresh mask per sample, step, feature
    -> LSTM(32)                      placement "variational": LSTM(32, dropout=rate,
                                       recurrent_dropout=rate), one mask for all time steps
                                       on the inputs and one on the recurrent state
    -> [Dropout]                     placement "output": on the LSTM's 32 outputs
    -> Dense(1, sigmoid)

Binary cross-entropy, Adam (Keras defaults), accuracy, labels 0/1 (float32), like circles.
No max-norm: an LSTM kernel packs four gates per unit (input, forget, cell, output) into one
matrix, so "the incoming vector of a unit" is not one column and Keras' MaxNorm on it would
constrain each gate separately; the tutorial applies max-norm only to a dense hidden layer,
so it is left out here.

Engines: the population engine by default (``sweep/engines/_chain_forward.py`` runs the members'
LSTMs as one batched recurrence with Keras' gates, initial weights and per-sequence variational
masks), the Keras engine with ``--engine keras``. Default sweep (280 cells,
``studies/sequence-lstm.toml``) on the project's 2-core machine: 3 min 54 s end to end on the
population engine; ``model.fit`` takes 10-14 s per cell ("variational" about 45 % dearer than
the plain LSTM), about 55 minutes for the same grid.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from ..grid import Cell
from ._base import Dataset, Task

DATA_SEED = 20240601
STEPS = 15
FEATURES = 6
N_TRAIN = 200
N_TEST = 500
UNITS = 32
PLACEMENTS = ("input", "output", "variational")


def generate(n: int, seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences (n, STEPS, FEATURES) and their 0/1 labels, from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, STEPS, FEATURES)).astype(np.float32)
    wins = np.count_nonzero(x[:, :, 0] > x[:, :, 1], axis=1)
    y = (wins > STEPS / 2).astype(np.float32)
    return x, y


@cache
def load_data() -> Dataset:
    """The first 200 generated sequences train, the next 500 test."""
    x, y = generate(N_TRAIN + N_TEST)
    return Dataset(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])


def build_model(cell: Cell) -> Any:
    """The compiled LSTM classifier for one cell (call ``set_random_seed`` first)."""
    dropout = cell.rate > 0
    if dropout and cell.placement not in PLACEMENTS:
        raise ValueError(f"placement {cell.placement!r} is not one of {PLACEMENTS}")
    if cell.max_norm is not None:
        raise ValueError("the sequence-lstm task has no max-norm")
    from .._keras import import_keras

    keras = import_keras()
    layers = keras.layers
    variational = cell.rate if dropout and cell.placement == "variational" else 0.0
    model = keras.Sequential(name="sequence_lstm")
    model.add(keras.Input(shape=(STEPS, FEATURES)))
    if dropout and cell.placement == "input":
        model.add(layers.Dropout(cell.rate, name="input_dropout"))
    model.add(layers.LSTM(UNITS, dropout=variational, recurrent_dropout=variational,
                          name="lstm"))
    if dropout and cell.placement == "output":
        model.add(layers.Dropout(cell.rate, name="output_dropout"))
    model.add(layers.Dense(1, activation="sigmoid", name="output"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


SEQUENCE_LSTM = Task(
    name="sequence-lstm",
    description="LSTM(32) on synthetic sequences (15 steps x 6 features), 200 train / 500 test",
    placements=PLACEMENTS,
    epochs=60,
    batch_size=32,
    optimizer="adam",
    supports_max_norm=False,
    engines=("population", "keras"),
    load_data=load_data,
    build_model=build_model,
    epoch_seconds={"keras": 0.2, "population": 0.013},
    cell_seconds={"keras": 2.5},  # build, compile, first-epoch tracing, evaluate: 1.7-4 s
    placement_words={"input": "on the input", "output": "after the LSTM",
                     "variational": "inside the LSTM (variational)"},
)
