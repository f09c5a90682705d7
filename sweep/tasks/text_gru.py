"""A tutorial reader's text model: two bidirectional GRUs over an embedding, on a synthetic
corpus where word order decides the label: dropout on the embedding, inside the recurrences or
after them.

Data, generated locally with NumPy (``np.random.default_rng(DATA_SEED)``, DATA_SEED = 20161121;
nothing is downloaded): 800 "sentences" of ``LENGTH`` = 20 token ids from a vocabulary of
``VOCABULARY`` = 200. Filler words are ids 7-199, drawn uniformly; ids 1-3 are positive words,
4-6 negative words. Two thirds of the sentences get one positive and one negative word at two
random places ("good ... but bad"); the later of the two decides. The label::

    2 (neutral)   no sentiment word
    0 (positive)  the positive word comes after the negative one
    1 (negative)  the negative word comes after the positive one

then one label in ten is replaced by a random class (so at most about 93 % is attainable, and
there is noise to memorise). A bag of words sees both words in every sentiment sentence and
cannot tell which came last: a logistic regression on word counts reaches 0.58 test accuracy
(0.97 on its training rows); a recurrence can remember the last sentiment word it read. The
first 400 sentences train, the next 400 test.

Model (the reader's ``Embedding(200, 32) -> 2 x Bidirectional(GRU(25)) -> Dense(100)`` at a
third of its widths, and sentences of 20 words rather than 30, so that the default grid trains
in minutes on two cores: a member-epoch of the reader's full size costs about 0.45 s of CPU on
the population engine, of this one about 0.06 s)::

    Input(20) -> Embedding(200, 16)
    -> [Dropout]                          placement "embedding"
    -> Bidirectional(GRU(12, return_sequences=True))
    -> [Dropout] -> Bidirectional(GRU(12)) -> [Dropout]
    -> Dense(32, relu) -> [Dropout]       placement "after": the three Dropout layers
    -> Dense(3, softmax)

Placement "recurrent": ``GRU(12, dropout=rate, recurrent_dropout=rate)`` in both directions of
both layers (one mask per sequence on the inputs and one on the state, per gate, as Keras
draws them). Sparse categorical cross-entropy, Adam (Keras defaults), accuracy, labels 0-2,
15 epochs, batch 32. No max-norm (a GRU kernel packs three gates per unit).

Engines: the population engine by default (``sweep/engines/_chain_recurrent.py`` stacks the
members' embeddings and bidirectional GRUs), the Keras engine with ``--engine keras``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from ..grid import Cell
from ._base import Dataset, Task

DATA_SEED = 20161121
VOCABULARY = 200
LENGTH = 20
CLASSES = 3
N_TRAIN = 400
N_TEST = 400
POSITIVE = np.arange(1, 4)
NEGATIVE = np.arange(4, 7)
FILLER = 7
"""Filler words are ids 7-199; id 0 is not used (the usual padding id)."""
NOISE = 0.1
EMBEDDING = 16
UNITS = 12
DENSE = 32
PLACEMENTS = ("embedding", "recurrent", "after")


def generate(n: int, seed: int = DATA_SEED) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sentences (n, LENGTH) of int32 token ids and their int32 labels 0-2, from
    ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.integers(FILLER, VOCABULARY, size=(n, LENGTH))
    y = np.full(n, 2)
    rows = np.flatnonzero(rng.random(n) < 2 / 3)
    places = np.argsort(rng.random((n, LENGTH)), axis=1)[:, :2]  # two distinct places
    good, bad = places[:, 0], places[:, 1]
    x[rows, good[rows]] = rng.choice(POSITIVE, n)[rows]
    x[rows, bad[rows]] = rng.choice(NEGATIVE, n)[rows]
    y[rows] = np.where(good[rows] > bad[rows], 0, 1)  # the later word decides
    flip = rng.random(n) < NOISE
    y = np.where(flip, rng.integers(0, CLASSES, n), y)
    return x.astype(np.int32), y.astype(np.int32)


@cache
def load_data() -> Dataset:
    """The first 400 generated sentences train, the next 400 test."""
    x, y = generate(N_TRAIN + N_TEST)
    return Dataset(x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])


def build_model(cell: Cell) -> Any:
    """The compiled text classifier for one cell (call ``set_random_seed`` first)."""
    dropout = cell.rate > 0
    if dropout and cell.placement not in PLACEMENTS:
        raise ValueError(f"placement {cell.placement!r} is not one of {PLACEMENTS}")
    if cell.max_norm is not None:
        raise ValueError("the text-gru task has no max-norm")
    from .._keras import import_keras

    keras = import_keras()
    layers = keras.layers
    inner = cell.rate if dropout and cell.placement == "recurrent" else 0.0
    after = dropout and cell.placement == "after"

    def gru(sequences: bool) -> Any:
        return layers.GRU(UNITS, dropout=inner, recurrent_dropout=inner,
                          return_sequences=sequences)

    model = keras.Sequential(name="text_gru")
    model.add(keras.Input(shape=(LENGTH,), dtype="int32"))
    model.add(layers.Embedding(VOCABULARY, EMBEDDING, name="embedding"))
    if dropout and cell.placement == "embedding":
        model.add(layers.Dropout(cell.rate, name="embedding_dropout"))
    model.add(layers.Bidirectional(gru(True), name="gru1"))
    if after:
        model.add(layers.Dropout(cell.rate, name="gru1_dropout"))
    model.add(layers.Bidirectional(gru(False), name="gru2"))
    if after:
        model.add(layers.Dropout(cell.rate, name="gru2_dropout"))
    model.add(layers.Dense(DENSE, activation="relu", name="dense"))
    if after:
        model.add(layers.Dropout(cell.rate, name="dense_dropout"))
    model.add(layers.Dense(CLASSES, activation="softmax", name="output"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam",
                  metrics=["accuracy"])
    return model


TEXT_GRU = Task(
    name="text-gru",
    description="Embedding -> 2 x Bidirectional(GRU(25)) -> Dense(100) on synthetic sentences "
                "(30 tokens, vocabulary 200), 600 train / 400 test, 3 classes",
    placements=PLACEMENTS,
    epochs=15,
    batch_size=32,
    optimizer="adam",
    supports_max_norm=False,
    engines=("population", "keras"),
    load_data=load_data,
    build_model=build_model,
    # CPU seconds per member-epoch measured on a loaded 2-core machine (0.058-0.071)
    epoch_seconds={"population": 0.065},
    placement_words={"embedding": "on the embedding",
                     "recurrent": "inside the GRUs (dropout and recurrent_dropout)",
                     "after": "after the GRUs and the dense layer"},
)
