"""The population engine on general dense chains against ``model.fit``.

Three models as a user would write them (each a ``sweep.Task``), on data that ships with
scikit-learn, each with mini-batches and a last partial batch:

- ``multiclass``: digits, 64 -> Dense(32, relu) -> Dense(32, tanh) -> Dense(10, softmax), Adam,
  sparse categorical cross-entropy, accuracy; Dropout after each hidden layer.
- ``regression``: diabetes, 10 -> Dense(32, elu) -> Dense(16, gelu) -> Dense(1), RMSprop with
  momentum, MSE, compared on MAE; Dropout after each hidden layer.
- ``sgd``: breast cancer, 30 -> Dense(16, relu, MaxNorm) -> Dense(1, sigmoid), SGD with nesterov
  momentum, binary cross-entropy, accuracy; Dropout on the inputs.

Without dropout and with the batch order matched (``shuffle=False`` on both sides) a member
follows ``model.fit`` epoch by epoch up to float32 rounding (measured here: under 1e-6 in loss
over 8 epochs). With dropout (and each engine shuffling with its own generator) the engines
agree in distribution over 20 seeds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sweep._keras import import_keras
from sweep.engines import CellResult, TrainSettings, train_all
from sweep.engines._chain_graph import ChainTraining
from sweep.engines._chain_members import build_member, population_shape, stack
from sweep.engines.population import PopulationEngine
from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import Dataset, Task, get_task

from ._reference import FinalFit, assert_same_distribution, final_fits, trained_in_order

TRAJECTORY_EPOCHS = 8
LOSS_TOLERANCE = 1e-4
DISTRIBUTION_EPOCHS = 15
DISTRIBUTION_SEEDS = 20
BATCH = 32


def _standardised(x: np.ndarray, train: slice) -> np.ndarray:
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    return ((x - mean) / np.where(std == 0, 1, std)).astype(np.float32)


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16).astype(np.float32)
    return Dataset(x[:300], data.target[:300], x[300:500], data.target[300:500])


def _diabetes() -> Dataset:
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    x = _standardised(data.data, slice(0, 300))
    y = ((data.target - data.target[:300].mean()) / data.target[:300].std()).astype(np.float32)
    return Dataset(x[:300], y[:300], x[300:], y[300:])


def _cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = _standardised(data.data, slice(0, 330))
    y = data.target.astype(np.float32)
    return Dataset(x[:330], y[:330], x[330:], y[330:])


def _multiclass_model(cell: Cell) -> Any:
    keras = import_keras()
    layers: list[Any] = [keras.Input((64,)), keras.layers.Dense(32, activation="relu")]
    layers += [keras.layers.Dropout(cell.rate)] if cell.rate else []
    layers += [keras.layers.Dense(32, activation="tanh")]
    layers += [keras.layers.Dropout(cell.rate)] if cell.rate else []
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.003),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _regression_model(cell: Cell) -> Any:
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


def _sgd_model(cell: Cell) -> Any:
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


def _adamw_logits_model(cell: Cell) -> Any:
    """One-hot labels, a linear output and from_logits=True, AdamW: the other rules' paths."""
    keras = import_keras()
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(24, activation="sigmoid"),
                              keras.layers.Dense(10, use_bias=False)])
    model.compile(optimizer=keras.optimizers.AdamW(0.003, weight_decay=0.05),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def _one_hot_digits() -> Dataset:
    data = _digits()
    eye = np.eye(10, dtype=np.float32)
    return Dataset(data.train_x, eye[data.train_y], data.test_x, eye[data.test_y])


def _task(name: str, load: Callable[[], Dataset], build: Callable[[Cell], Any],
          placement: str, metric: str = "accuracy") -> Task:
    return Task(name=name, placements=(placement,), load_data=load, build_model=build,
                epochs=DISTRIBUTION_EPOCHS, batch_size=BATCH, metric=metric,
                supports_max_norm=True)


TASKS = {
    "multiclass": _task("multiclass", _digits, _multiclass_model, "hidden"),
    "regression": _task("regression", _diabetes, _regression_model, "hidden", "mae"),
    "sgd": _task("sgd", _cancer, _sgd_model, "input"),
    "adamw-logits": _task("adamw-logits", _one_hot_digits, _adamw_logits_model, "hidden"),
}


def _fit_history(task: Task, cell: Cell, data: Dataset) -> np.ndarray:
    keras = import_keras()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    history = task.build_model(cell).fit(
        data.train_x, data.train_y, validation_data=(data.test_x, data.test_y),
        epochs=TRAJECTORY_EPOCHS, batch_size=BATCH, shuffle=False, verbose=0).history
    metric = task.metric
    return np.array([history["loss"], history[metric], history["val_loss"],
                     history[f"val_{metric}"]])


@pytest.mark.parametrize("name", list(TASKS))
def test_without_dropout_a_member_follows_model_fit_epoch_by_epoch(name: str) -> None:
    task = TASKS[name]
    data = task.load_data()
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, seed) for seed in (0, 1)]
    if name == "sgd":
        cells.append(Cell(0.0, BASELINE_PLACEMENT, 0.5, 2))  # a MaxNorm that binds
    training = trained_in_order(task, cells, TRAJECTORY_EPOCHS, BATCH)
    final_loss, final_metric = training.evaluate(data.test_x, data.test_y)
    for k, cell in enumerate(cells):
        ours, theirs = training.curves[:, :, k], _fit_history(task, cell, data)
        label = f"{name} {cell.key}"
        np.testing.assert_allclose(ours[[0, 2]], theirs[[0, 2]], rtol=LOSS_TOLERANCE,
                                   atol=LOSS_TOLERANCE, err_msg=label)
        one_row = 1 / len(data.test_x) + 1e-6 if task.metric == "accuracy" else LOSS_TOLERANCE
        assert np.abs(ours[[1, 3]] - theirs[[1, 3]]).max() <= max(one_row, 1 / 300), label
        assert abs(final_loss[k] - theirs[2, -1]) <= LOSS_TOLERANCE * max(1, theirs[2, -1])
        assert abs(final_metric[k] - theirs[3, -1]) <= one_row


def test_a_member_trains_alike_alone_or_in_a_population_and_a_stack_stays_in_order() -> None:
    """Per-member shuffles and masks depend on the member's seed only."""
    task = TASKS["multiclass"]
    cells = [Cell(0.3, "hidden", None, seed) for seed in range(5)]
    settings = TrainSettings(3, BATCH)
    together = train_all(PopulationEngine(), task, cells, settings)
    alone = train_all(PopulationEngine(), task, [cells[3]], settings)
    assert [r.cell for r in together] == cells
    np.testing.assert_array_equal(together[3].curves.stacked(), alone[0].curves.stacked())
    assert len({round(r.test_loss, 6) for r in together}) == len(cells)


# ---- slow: distributions with dropout --------------------------------------------------------

DROPOUT_CELLS = {"multiclass": (0.3, "hidden"), "regression": (0.2, "hidden"),
                 "sgd": (0.3, "input")}


def task_named(name: str) -> Task:
    return TASKS[name]


def _distribution(name: str) -> tuple[list[CellResult], list[FinalFit]]:
    """Both engines' results for 20 seeds."""
    rate, placement = DROPOUT_CELLS[name]
    max_norm = 1.0 if name == "sgd" else None
    cells = [Cell(rate, placement, max_norm, seed) for seed in range(DISTRIBUTION_SEEDS)]
    population = train_all(PopulationEngine(), TASKS[name], cells,
                           TrainSettings(DISTRIBUTION_EPOCHS, BATCH))
    keras = final_fits(functools.partial(task_named, name), cells, DISTRIBUTION_EPOCHS, BATCH)
    return population, keras


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DROPOUT_CELLS))
def test_with_dropout_and_shuffles_the_engines_agree_in_distribution(name: str) -> None:
    """Over 20 seeds: the final test loss and metric (dropout off) and the last epoch's train
    loss (dropout on, the figure most sensitive to the masks): Welch's t and Mann-Whitney at
    alpha 0.01."""
    population, keras = _distribution(name)
    assert_same_distribution(name, population, keras)


def _replays_exactly(task: Task, groups: list[tuple[float, str, float | None]]) -> None:
    from sweep.engines._chain_members import MemberBuilder

    build = MemberBuilder(task)
    for rate, where, max_norm in groups:
        for seed in (0, 5, 123_456):
            cell = Cell(rate, where, max_norm, seed)
            ours, real = build(cell), build_member(task, cell)
            assert ours.cell == cell and ours.rates == real.rates
            for mine, theirs in zip(ours.weights, real.weights, strict=True):
                assert np.array_equal(mine, theirs), f"{task.name} {cell.key}"
    assert all(template is not None for template in build._templates.values())


def test_replayed_initial_weights_are_the_real_models_for_every_seed() -> None:
    """One real build per group, the other seeds replayed: bit for bit the real model's
    (glorot-uniform kernels, zero biases; convolutions; an LSTM's orthogonal recurrent kernel
    and unit-forget bias)."""
    for name in ("multiclass", "regression", "sgd"):
        placement = TASKS[name].placements[0]
        _replays_exactly(TASKS[name], [(0.0, BASELINE_PLACEMENT, None), (0.3, placement, None),
                                       (0.3, placement, 2.0)])
    _replays_exactly(get_task("digits-cnn"), [(0.0, BASELINE_PLACEMENT, None),
                                              (0.3, "both", 2.0), (0.3, "spatial", None)])
    _replays_exactly(get_task("sequence-lstm"), [(0.0, BASELINE_PLACEMENT, None),
                                                 (0.3, "variational", None), (0.3, "input", None)])


def _he_normal_or(initializer: Any) -> Callable[[Cell], Any]:
    def build_model(cell: Cell) -> Any:
        keras = import_keras()
        model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(
            8, activation="relu", kernel_initializer=initializer),
            keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    return build_model


def test_any_keras_random_initializer_is_replayed() -> None:
    _replays_exactly(_task("he", _cancer, _he_normal_or("he_normal"), "input"),
                     [(0.0, BASELINE_PLACEMENT, None)])


def test_a_model_whose_construction_cannot_be_replayed_is_built_for_every_seed() -> None:
    """A kernel initializer that is not Keras' (here NumPy's generator, which
    ``set_random_seed`` seeds too): every seed gets its real model."""
    from sweep.engines._chain_members import MemberBuilder

    def numpy_normal(shape: tuple[int, ...], dtype: Any = None) -> Any:
        return np.random.normal(0.0, 0.1, shape).astype(np.float32)

    task = _task("numpy", _cancer, _he_normal_or(numpy_normal), "input")
    build = MemberBuilder(task)
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, seed) for seed in (0, 1, 2)]
    members = [build(cell) for cell in cells]
    assert list(build._templates.values()) == [None]
    for member, cell in zip(members, cells, strict=True):
        assert np.array_equal(member.weights[0], build_member(task, cell).weights[0])
    assert not np.array_equal(members[0].weights[0], members[1].weights[0])


def test_an_lstm_bias_from_a_random_initializer_is_built_for_every_seed() -> None:
    """With ``unit_forget_bias`` the LSTM's bias is computed from its initializer: a random
    one cannot be copied from the group's first cell, so every cell is built for real."""
    from dataclasses import replace

    from sweep.engines._chain_members import MemberBuilder

    def build_model(cell: Cell) -> Any:
        keras = import_keras()
        model = keras.Sequential([keras.Input((15, 6)), keras.layers.LSTM(
            8, bias_initializer="random_normal"), keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    task = replace(get_task("sequence-lstm"), name="random-bias", build_model=build_model)
    build = MemberBuilder(task)
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, seed) for seed in (0, 1)]
    members = [build(cell) for cell in cells]
    assert list(build._templates.values()) == [None]
    assert not np.array_equal(members[0].weights[2], members[1].weights[2])


def test_chunked_training_is_bit_identical_to_one_call() -> None:
    """Shuffles, masks and the optimizer's step are keyed on the global epoch and step."""
    task = TASKS["multiclass"]
    data = task.load_data()
    cells = [Cell(0.3, "hidden", None, seed) for seed in (0, 1)]
    members = [build_member(task, cell) for cell in cells]
    shape = population_shape(members, 2, task.metric, len(data.train_x), BATCH)
    runs = []
    for chunks in ((6,), (2, 3, 1)):
        training = ChainTraining(shape, stack(members, 2), (data.train_x, data.train_y),
                                 (data.test_x, data.test_y), 6)
        for chunk in chunks:
            training.train(chunk)
        runs.append((training.curves.copy(), training.evaluate(data.test_x, data.test_y)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1][0], runs[1][1][0])
