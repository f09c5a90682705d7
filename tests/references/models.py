"""The models the equivalence tests train, as a user would write them (each a ``sweep.Task``), on
data that ships with scikit-learn, each with mini-batches and a last partial batch:

- ``multiclass``: digits, 64 -> Dense(32, relu) -> Dense(32, tanh) -> Dense(10, softmax), Adam,
  sparse categorical cross-entropy, accuracy; Dropout after each hidden layer.
- ``regression``: diabetes, 10 -> Dense(32, elu) -> Dense(16, gelu) -> Dense(1), RMSprop with
  momentum, MSE, compared on MAE; Dropout after each hidden layer.
- ``sgd``: breast cancer, 30 -> Dense(16, relu, MaxNorm) -> Dense(1, sigmoid), SGD with nesterov
  momentum, binary cross-entropy, accuracy; Dropout on the inputs.
- ``adamw-logits``: one-hot digits, a linear output and ``from_logits=True``, AdamW.
- ``same-padding``: the digits CNN's data through ``same`` padding, strides, a 2x3 kernel
  without bias and overlapping pooling.
- ``text-gru``: synthetic token sequences, Embedding(40, 8) -> GRU(8, whole sequence,
  ``reset_after=True``) -> GRU(6, ``reset_after=False``) -> Dense(1, sigmoid), Adam; dropout on
  the embedding, inside both recurrences (``dropout`` and ``recurrent_dropout``), or after them.
- ``text-bidirectional``: the same tokens, Embedding(40, 6) -> Bidirectional(GRU(5), whole
  sequence) -> Bidirectional(LSTM(4)) -> Dense(1, sigmoid), both merged by the cell's placement
  (concat, sum, mul or ave).
- ``text-simple-rnn``: the same tokens, Embedding(40, 6) -> SimpleRNN(6, relu, whole sequence)
  -> Bidirectional(SimpleRNN(5, tanh)) -> Dense(1, sigmoid), Adam; dropout on the embedding,
  inside both recurrences (``dropout`` and ``recurrent_dropout``, each direction its own), or
  after them; a merge mode as the placement merges the Bidirectional that way (no dropout).
- ``signal-cnn``: the digits CNN's images as sequences of 8 steps (the image rows) of 8
  channels (the columns), Conv1D(8, 3, causal, dilation 2) -> [SpatialDropout1D] ->
  MaxPooling1D(2) -> [Dropout] -> Conv1D(8, 3, same) -> AveragePooling1D(2) ->
  GlobalAveragePooling1D -> Dense(10, softmax), Adam; a MaxNorm over each filter
  (``axis=[0, 1]``) where the cell has one; dropout by placement (``spatial``, ``pooling`` or
  ``both``).
- ``digits-avgpool``: the digits CNN's images through Conv2D(8, 3) -> AveragePooling2D(3,
  strides 2, ``same``: partial windows) -> Conv2D(8, 2, ``same``) -> GlobalMaxPooling2D ->
  Dense(10, softmax).
- ``conv1d-layers`` and ``pool2d-layers`` (forward tests only, no reference; the first on the
  images read row after row as 64-step signals of one channel): every Conv1D
  padding mode, a stride, dilations, 1D max and average pooling with partial ``same`` windows,
  2D average pooling, the global poolings with and without ``keepdims``.
- ``noise-mlp``: the multi-class digits model with the dropout family beyond Dropout, one
  layer per cell's placement: ``GaussianNoise(rate)`` (the rate as its stddev) on the inputs,
  ``GaussianDropout(rate)`` after the relu layer, or ``AlphaDropout(rate)`` after the tanh one.
- ``text-noise-shape``: the tokens, Embedding(40, 8) -> Dropout(rate, noise_shape) -> GRU(4) ->
  Dense(1, sigmoid), Adam(0.01); the noise shape drops whole words (``(None, 20, 1)``,
  placement ``words``) or whole embedding features for every step (``(None, 1, 8)``, placement
  ``features``).

``text-gru`` here is the small test model above, not the built-in ``text-gru`` task (the
tutorial reader's model, ``sweep/tasks/text_gru.py``): :func:`task_named` looks up its own names
first, and the stored references name the test model (a reference's hash covers its task's
name). The built-in task is ``get_task("text-gru")``.

They live here, not in a test module, because the stored ``model.fit`` references
(:mod:`tests.references`) hash and refit them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from sweep._keras import import_keras
from sweep.grid import Cell
from sweep.tasks import Dataset, Task, get_task

CHAIN_EPOCHS = 15
BATCH = 32


def _standardised(x: np.ndarray, train: slice) -> np.ndarray:
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    return ((x - mean) / np.where(std == 0, 1, std)).astype(np.float32)


def digits() -> Dataset:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16).astype(np.float32)
    return Dataset(x[:300], data.target[:300], x[300:500], data.target[300:500])


def diabetes() -> Dataset:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = _standardised(data.data, slice(0, 300))
    y = ((data.target - data.target[:300].mean()) / data.target[:300].std()).astype(np.float32)
    return Dataset(x[:300], y[:300], x[300:], y[300:])


def cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = _standardised(data.data, slice(0, 330))
    y = data.target.astype(np.float32)
    return Dataset(x[:330], y[:330], x[330:], y[330:])


def one_hot_digits() -> Dataset:
    data = digits()
    eye = np.eye(10, dtype=np.float32)
    return Dataset(data.train_x, eye[data.train_y], data.test_x, eye[data.test_y])


def multiclass_model(cell: Cell) -> Any:
    keras = import_keras()
    layers: list[Any] = [keras.Input((64,)), keras.layers.Dense(32, activation="relu")]
    layers += [keras.layers.Dropout(cell.rate)] if cell.rate else []
    layers += [keras.layers.Dense(32, activation="tanh")]
    layers += [keras.layers.Dropout(cell.rate)] if cell.rate else []
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.003),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def regression_model(cell: Cell) -> Any:
    keras = import_keras()
    inputs = keras.Input((10,))
    h = keras.layers.Dense(32, activation="elu")(inputs)
    h = keras.layers.Dropout(cell.rate)(h) if cell.rate else h
    h = keras.layers.Dense(16, activation="gelu")(h)
    h = keras.layers.Dropout(cell.rate)(h) if cell.rate else h
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(optimizer=keras.optimizers.RMSprop(0.002, momentum=0.5), loss="mse",
                  metrics=["mae"])
    return model


def sgd_model(cell: Cell) -> Any:
    keras = import_keras()
    layers: list[Any] = [keras.Input((30,))]
    layers += [keras.layers.Dropout(cell.rate)] if cell.rate else []
    constraint = None if cell.max_norm is None else keras.constraints.MaxNorm(cell.max_norm)
    layers += [keras.layers.Dense(16, activation="relu", kernel_constraint=constraint),
               keras.layers.Dense(1, activation="sigmoid")]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model


def adamw_logits_model(cell: Cell) -> Any:
    """One-hot labels, a linear output and from_logits=True, AdamW: the other rules' paths."""
    keras = import_keras()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(24, activation="sigmoid"),
                              keras.layers.Dense(10, use_bias=False)])
    model.compile(optimizer=keras.optimizers.AdamW(0.003, weight_decay=0.05),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def strided_same_padding_cnn(cell: Cell) -> Any:
    keras = import_keras()
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="tanh"),
        keras.layers.Conv2D(5, (2, 3), padding="same", activation="relu", use_bias=False),
        keras.layers.MaxPooling2D(3, strides=1, padding="same"),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


TOKENS = 40
TOKEN_STEPS = 20  # above the engine's UNROLLED_STEPS: its loop over steps, not the unrolled one


def tokens() -> Dataset:
    """Sequences of token ids 0..39; positive when low ids (below 10) outnumber high ones
    (30 and up), with one in ten labels flipped."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, TOKENS, size=(500, TOKEN_STEPS))
    y = ((x < 10).sum(axis=1) > (x >= 30).sum(axis=1)).astype(np.float32)
    flip = rng.random(len(y)) < 0.1
    y = np.where(flip, 1 - y, y).astype(np.float32)
    return Dataset(x[:300].astype(np.int32), y[:300], x[300:].astype(np.int32), y[300:])


def text_gru_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    inner = cell.rate if cell.placement == "recurrent" else 0.0
    model = keras.Sequential([keras.Input((TOKEN_STEPS,), dtype="int32"),
                              layers.Embedding(TOKENS, 8)])
    if cell.placement == "embedding":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.GRU(8, return_sequences=True, dropout=inner, recurrent_dropout=inner))
    model.add(layers.GRU(6, reset_after=False, dropout=inner, recurrent_dropout=inner))
    if cell.placement == "output":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


MERGE_MODES = ("concat", "sum", "mul", "ave")


def text_bidirectional_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    merge = cell.placement if cell.placement in MERGE_MODES else "concat"
    model = keras.Sequential([
        keras.Input((TOKEN_STEPS,), dtype="int32"), layers.Embedding(TOKENS, 6),
        layers.Bidirectional(layers.GRU(5, return_sequences=True), merge_mode=merge),
        layers.Bidirectional(layers.LSTM(4), merge_mode=merge),
        layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def text_simple_rnn_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    inner = cell.rate if cell.placement == "recurrent" else 0.0
    merge = cell.placement if cell.placement in MERGE_MODES else "concat"
    model = keras.Sequential([keras.Input((TOKEN_STEPS,), dtype="int32"),
                              layers.Embedding(TOKENS, 6)])
    if cell.placement == "embedding":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.SimpleRNN(6, activation="relu", return_sequences=True, dropout=inner,
                               recurrent_dropout=inner))
    model.add(layers.Bidirectional(layers.SimpleRNN(5, dropout=inner, recurrent_dropout=inner),
                                   merge_mode=merge))
    if cell.placement == "output":
        model.add(layers.Dropout(cell.rate))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


SIGNAL_STEPS = 64


def _digits_as(shape: tuple[int, int]) -> Dataset:
    data = get_task("digits-cnn").load_data()
    return Dataset(data.train_x.reshape(-1, *shape), data.train_y,
                   data.test_x.reshape(-1, *shape), data.test_y)


def digits_rows() -> Dataset:
    """The digits CNN's split, each 8x8 image a sequence of its 8 rows (8 channels each)."""
    return _digits_as((8, 8))


def digits_signal() -> Dataset:
    """The digits CNN's split, each 8x8 image read row after row as a 64-step signal."""
    return _digits_as((SIGNAL_STEPS, 1))


SIGNAL_PLACEMENTS = ("spatial", "pooling", "both")


def signal_cnn_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    constraint = (None if cell.max_norm is None
                  else keras.constraints.MaxNorm(cell.max_norm, axis=[0, 1]))
    model = keras.Sequential([
        keras.Input((8, 8)),
        layers.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu",
                      kernel_constraint=constraint)])
    if cell.rate and cell.placement in ("spatial", "both"):
        model.add(layers.SpatialDropout1D(cell.rate))
    model.add(layers.MaxPooling1D(2))
    if cell.rate and cell.placement in ("pooling", "both"):
        model.add(layers.Dropout(cell.rate))
    model.add(layers.Conv1D(8, 3, padding="same", activation="relu",
                            kernel_constraint=constraint))
    model.add(layers.AveragePooling1D(2))
    model.add(layers.GlobalAveragePooling1D())
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def noise_mlp_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    rate, where = cell.rate, cell.placement
    model = keras.Sequential([keras.Input((64,))])
    if rate and where == "noise":
        model.add(layers.GaussianNoise(rate))
    model.add(layers.Dense(32, activation="relu"))
    if rate and where == "gaussian":
        model.add(layers.GaussianDropout(rate))
    model.add(layers.Dense(32, activation="tanh"))
    if rate and where == "alpha":
        model.add(layers.AlphaDropout(rate))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(optimizer=keras.optimizers.Adam(0.003),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def digits_avgpool_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(8, 3, activation="relu"),
        layers.AveragePooling2D(3, strides=2, padding="same"),
        layers.Conv2D(8, 2, padding="same", activation="tanh"),
        layers.GlobalMaxPooling2D(), layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def conv1d_layers_model(cell: Cell) -> Any:
    """Forward test only: Conv1D's paddings, a stride and dilations; 1D pooling with partial
    ``same`` windows; GlobalMaxPooling1D keeping its axis."""
    keras = import_keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((SIGNAL_STEPS, 1)),
        layers.Conv1D(6, 4, padding="causal", dilation_rate=2, activation="tanh"),  # 64
        layers.Conv1D(5, 3, strides=2, activation="relu"),  # valid: 31
        layers.Conv1D(4, 4, padding="same", dilation_rate=3, use_bias=False),  # pads 4 + 5
        layers.MaxPooling1D(2),  # windows tiling the steps: 15, the last step dropped
        layers.AveragePooling1D(3, strides=2, padding="same"),  # 8, a partial window each end
        layers.MaxPooling1D(3, strides=2, padding="same"),  # 4, a partial window at the end
        layers.Conv1D(4, 2, strides=3, padding="same", activation="elu"),  # 2
        layers.AveragePooling1D(2, strides=1, padding="same"),  # 2, a partial window at the end
        layers.GlobalMaxPooling1D(keepdims=True), layers.Flatten(),
        layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def pool2d_layers_model(cell: Cell) -> Any:
    """Forward test only: 2D average pooling, ``same`` with partial windows and ``valid``; the
    2D global poolings with and without ``keepdims``."""
    keras = import_keras()
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same", activation="tanh"),
        layers.AveragePooling2D(3, strides=2, padding="same"),  # 4x4, padded after
        layers.AveragePooling2D((2, 1), strides=1),  # valid: 3x4
        layers.GlobalAveragePooling2D(keepdims=True), layers.Flatten(),
        layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


NOISE_SHAPES = {"words": (None, TOKEN_STEPS, 1), "features": (None, 1, 8)}


def text_noise_shape_model(cell: Cell) -> Any:
    keras = import_keras()
    layers = keras.layers
    model = keras.Sequential([keras.Input((TOKEN_STEPS,), dtype="int32"),
                              layers.Embedding(TOKENS, 8)])
    if cell.rate and cell.placement in NOISE_SHAPES:
        model.add(layers.Dropout(cell.rate, noise_shape=NOISE_SHAPES[cell.placement]))
    model.add(layers.GRU(4))
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def chain_task(name: str, load: Callable[[], Dataset], build: Callable[[Cell], Any],
               placement: str, metric: str = "accuracy") -> Task:
    return Task(name=name, placements=(placement,), load_data=load, build_model=build,
                epochs=CHAIN_EPOCHS, batch_size=BATCH, metric=metric,
                supports_max_norm=True)


CHAIN_TASKS = {
    "multiclass": chain_task("multiclass", digits, multiclass_model, "hidden"),
    "regression": chain_task("regression", diabetes, regression_model, "hidden", "mae"),
    "sgd": chain_task("sgd", cancer, sgd_model, "input"),
    "adamw-logits": chain_task("adamw-logits", one_hot_digits, adamw_logits_model, "hidden"),
}


def task_named(name: str) -> Task:
    """A task by name: the chain tasks above, the text models, ``same-padding``, or a built-in
    task (a test model's name first: ``text-gru`` is the small one here). A module-level
    function, so ``functools.partial(task_named, name)`` pickles for the fitting
    processes."""
    if name in CHAIN_TASKS:
        return CHAIN_TASKS[name]
    if name == "text-gru":
        return Task(name="text-gru", placements=("embedding", "recurrent", "output"),
                    load_data=tokens, build_model=text_gru_model, epochs=CHAIN_EPOCHS,
                    batch_size=BATCH)
    if name == "text-bidirectional":
        return Task(name="text-bidirectional", placements=MERGE_MODES, load_data=tokens,
                    build_model=text_bidirectional_model, epochs=CHAIN_EPOCHS, batch_size=BATCH)
    if name == "text-simple-rnn":
        return Task(name="text-simple-rnn", placements=("embedding", "recurrent", "output"),
                    load_data=tokens, build_model=text_simple_rnn_model, epochs=CHAIN_EPOCHS,
                    batch_size=BATCH)
    if name in ("signal-cnn", "conv1d-layers"):
        build = signal_cnn_model if name == "signal-cnn" else conv1d_layers_model
        return Task(name=name, placements=SIGNAL_PLACEMENTS,
                    load_data=digits_rows if name == "signal-cnn" else digits_signal,
                    build_model=build, epochs=CHAIN_EPOCHS, batch_size=BATCH,
                    supports_max_norm=True)
    if name in ("digits-avgpool", "pool2d-layers"):
        build = digits_avgpool_model if name == "digits-avgpool" else pool2d_layers_model
        return replace(get_task("digits-cnn"), name=name, build_model=build)
    if name == "noise-mlp":
        return Task(name="noise-mlp", placements=("gaussian", "noise", "alpha"), load_data=digits,
                    build_model=noise_mlp_model, epochs=CHAIN_EPOCHS, batch_size=BATCH)
    if name == "text-noise-shape":
        return Task(name="text-noise-shape", placements=tuple(NOISE_SHAPES), load_data=tokens,
                    build_model=text_noise_shape_model, epochs=CHAIN_EPOCHS, batch_size=BATCH)
    if name == "same-padding":
        return replace(get_task("digits-cnn"), name="same-padding",
                       build_model=strided_same_padding_cnn)
    return get_task(name)
