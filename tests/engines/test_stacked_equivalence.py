"""The population engine on the digits CNN and the sequence LSTM against ``model.fit``.

Without dropout and with the batch order matched (``shuffle=False`` on both sides) a member
follows ``model.fit`` epoch by epoch up to float32 rounding: the convolutions, pooling, flatten,
the LSTM's recurrence, Adam, and (for the CNN) a MaxNorm that binds on every filter. With
dropout at each placement, each engine shuffling and masking with its own generator, the engines
agree in distribution over 20 seeds (slow). The masks' shapes are checked directly:
SpatialDropout2D drops whole feature maps, an LSTM's input masks are one per gate when it has
recurrent dropout and one for all gates when it has not.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from sweep._keras import import_keras
from sweep.engines import CellResult, TrainSettings, train_all
from sweep.engines._chain_forward import keep_multipliers
from sweep.engines._chain_layers import ConvSpec, LSTMSpec
from sweep.engines._population_rng import dropout_step_key
from sweep.engines.population import PopulationEngine
from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import Task, get_task

from ._reference import FinalFit, assert_same_distribution, final_fits, trained_in_order

TRAJECTORY_EPOCHS = 4
LOSS_TOLERANCE = 1e-4
SEEDS = 20
BATCH = 32
EPOCHS = {"digits-cnn": 15, "sequence-lstm": 20}
RATE = 0.5


def _history(task: Task, cell: Cell) -> np.ndarray:
    keras = import_keras()
    data = task.load_data()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    history = task.build_model(cell).fit(
        data.train_x, data.train_y, validation_data=(data.test_x, data.test_y),
        epochs=TRAJECTORY_EPOCHS, batch_size=BATCH, shuffle=False, verbose=0).history
    return np.array([history["loss"], history["accuracy"], history["val_loss"],
                     history["val_accuracy"]])


@pytest.mark.parametrize("name", ["digits-cnn", "sequence-lstm"])
def test_without_dropout_a_member_follows_model_fit_epoch_by_epoch(name: str) -> None:
    task = get_task(name)
    data = task.load_data()
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, 0), Cell(0.0, BASELINE_PLACEMENT, None, 1)]
    if name == "digits-cnn":
        cells.append(Cell(0.0, BASELINE_PLACEMENT, 0.5, 2))  # binds on every filter
    training = trained_in_order(task, cells, TRAJECTORY_EPOCHS, BATCH)
    for k, cell in enumerate(cells):
        ours, theirs = training.curves[:, :, k], _history(task, cell)
        np.testing.assert_allclose(ours[[0, 2]], theirs[[0, 2]], rtol=LOSS_TOLERANCE,
                                   atol=LOSS_TOLERANCE, err_msg=cell.key)
        one_row = 1 / len(data.test_x) + 1e-6
        assert np.abs(ours[[1, 3]] - theirs[[1, 3]]).max() <= max(one_row, 1 / 200), cell.key


def _strided_same_padding_cnn(cell: Cell) -> Any:
    keras = import_keras()
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="tanh"),
        keras.layers.Conv2D(5, (2, 3), padding="same", activation="relu", use_bias=False),
        keras.layers.MaxPooling2D(3, strides=1, padding="same"),
        keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_same_padding_strides_and_odd_kernels_follow_model_fit() -> None:
    """``same`` padding (the odd pixel after), strides, a 2x3 kernel, no bias, overlapping
    pooling: as Keras computes them."""
    from dataclasses import replace

    task = replace(get_task("digits-cnn"), name="same-padding",
                   build_model=_strided_same_padding_cnn)
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, 0)]
    training = trained_in_order(task, cells, TRAJECTORY_EPOCHS, BATCH)
    np.testing.assert_allclose(training.curves[[0, 2], :, 0], _history(task, cells[0])[[0, 2]],
                               rtol=LOSS_TOLERANCE, atol=LOSS_TOLERANCE)


def _keeps(spec: Any, kind: int, shape: tuple[int, ...], rates: list[float],
           per_gate: list[bool]) -> np.ndarray:
    import tensorflow as tf

    members = len(rates)
    rate = tf.constant(np.array(rates, np.float32).reshape(members, 1, 1))
    scale = 1 / (1 - rate)
    keys = tf.constant(np.arange(1, members + 1, dtype=np.uint32).reshape(members, 1, 1))
    gates = tf.constant(np.array(per_gate).reshape(members, 1, 1, 1))
    return np.asarray(keep_multipliers(spec, kind, 0, shape, 64, dropout_step_key(keys, 3),
                                       rate, scale, gates))


def test_spatial_dropout_drops_whole_feature_maps_per_member() -> None:
    conv = ConvSpec(8, (3, 3), (1, 1), "valid", "relu", True)
    keep = _keeps(conv, 1, (4, 4, 32), [0.5, 0.25, 0.0], [False] * 3)
    assert keep.shape == (3, 64, 1, 1, 32)  # one value per member, row and channel
    for k, rate in enumerate((0.5, 0.25, 0.0)):
        assert set(np.unique(keep[k])) <= {0.0, np.float32(1 / (1 - rate))}
        assert abs((keep[k] == 0).mean() - rate) < 0.05
    plain = _keeps(conv, 0, (4, 4, 32), [0.5] * 3, [False] * 3)
    assert plain.shape == (3, 64, 4, 4, 32)  # one value per element


def test_an_lstms_input_masks_are_per_gate_only_with_recurrent_dropout() -> None:
    lstm = LSTMSpec(32, "tanh", "sigmoid", True, False)
    keep = _keeps(lstm, 2, (15, 6), [0.5, 0.5], [True, False])
    assert keep.shape == (2, 64, 4, 6)  # held for every time step of the sequence
    assert not np.array_equal(keep[0, :, 0], keep[0, :, 1])
    assert all(np.array_equal(keep[1, :, 0], keep[1, :, g]) for g in range(4))
    recurrent = _keeps(lstm, 3, (15, 6), [0.5, 0.5], [True, True])
    assert recurrent.shape == (2, 64, 4, 32)


# ---- slow: distributions with dropout at every placement ---------------------------------------


@functools.cache
def _population_results(name: str) -> dict[str, list[CellResult]]:
    task = get_task(name)
    cells = [Cell(RATE, placement, None, seed) for placement in task.placements
             for seed in range(SEEDS)]
    results = train_all(PopulationEngine(), task, cells, TrainSettings(EPOCHS[name], BATCH))
    return {p: [r for r in results if r.cell.placement == p] for p in task.placements}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "placement"), [
    ("digits-cnn", "pooling"), ("digits-cnn", "spatial"), ("digits-cnn", "both"),
    ("sequence-lstm", "input"), ("sequence-lstm", "output"), ("sequence-lstm", "variational")])
def test_with_dropout_the_engines_agree_in_distribution(name: str, placement: str) -> None:
    """Over 20 seeds at rate 0.5: the final test loss and accuracy (dropout off) and the last
    epoch's train loss (dropout on, the figure most sensitive to the masks): Welch's t and
    Mann-Whitney at alpha 0.01."""
    population = _population_results(name)[placement]
    keras: list[FinalFit] = final_fits(functools.partial(get_task, name),
                                       [r.cell for r in population], EPOCHS[name], BATCH)
    assert_same_distribution(f"{name} {placement}", population, keras, "accuracy")
