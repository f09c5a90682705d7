"""A SimpleRNN text model written as a user's task file (``bench_stacked_layers.py --only r``
trains it on both engines): the built-in ``text-gru`` task's corpus (``sweep.tasks.text_gru``:
20-word synthetic sentences, 400 training and 400 test rows, 3 classes) under SimpleRNN layers.
Model::

    Embedding(200, 32) -> [Dropout "embedding"]
      -> Bidirectional(SimpleRNN(32, dropout, recurrent_dropout "recurrent",
                                 return_sequences)) -> [Dropout "output"]
      -> SimpleRNN(32, dropout, recurrent_dropout "recurrent") -> [Dropout "output"]
      -> Dense(3, softmax)
"""

from __future__ import annotations

from typing import Any

import sweep
from sweep.tasks import text_gru

UNITS = 32


def load_data() -> sweep.Dataset:
    return text_gru.load_data()


def build_model(cell: sweep.Cell) -> Any:
    import keras

    layers = keras.layers
    inner = cell.rate if cell.placement == "recurrent" else 0.0
    after = cell.rate if cell.placement == "output" else 0.0
    model = keras.Sequential([keras.Input((text_gru.LENGTH,), dtype="int32"),
                              layers.Embedding(text_gru.VOCABULARY, 32)])
    if cell.placement == "embedding":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.Bidirectional(layers.SimpleRNN(UNITS, dropout=inner,
                                                    recurrent_dropout=inner,
                                                    return_sequences=True)))
    if after:
        model.add(layers.Dropout(after))
    model.add(layers.SimpleRNN(UNITS, dropout=inner, recurrent_dropout=inner))
    if after:
        model.add(layers.Dropout(after))
    model.add(layers.Dense(text_gru.CLASSES, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


TASK = sweep.Task(
    name="text-simple-rnn-bench",
    placements=("embedding", "recurrent", "output"),
    load_data=load_data,
    build_model=build_model,
    epochs=10,
    batch_size=32,
)
