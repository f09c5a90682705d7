"""The hand-derived gradients of dense chains (``sweep/engines/_chain_dense.py``) against a
``GradientTape`` of the same forward pass, and which chains take them (by structure only)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from sweep.engines import TrainSettings, train_all
from sweep.engines._chain_dense import applies, gradients, members_per_population
from sweep.engines._chain_forward import forward
from sweep.engines._chain_layers import ConvSpec, DenseSpec, FlattenSpec
from sweep.engines._chain_math import loss_per_row
from sweep.engines.population import PopulationEngine
from sweep.grid import Cell
from sweep.tasks import get_task

MEMBERS, ROWS = 3, 7


def _tape(specs: tuple[DenseSpec, ...], counts: tuple[int, ...], loss: str,
          weights: list[Any], x: Any, y: Any, keeps: list[Any]) -> list[np.ndarray]:
    import tensorflow as tf

    full_keeps = tuple((k, None, None, None) for k in keeps)
    with tf.GradientTape() as tape:
        tape.watch(weights)
        logits, outputs = forward(specs, counts, weights, x, full_keeps)
        total = tf.reduce_sum(tf.reduce_mean(loss_per_row(loss, logits, outputs, y), axis=1))
    return [g.numpy() for g in tape.gradient(total, weights)]


CASES = {
    # the tutorial's MLP shape (smaller): relu hidden, sigmoid output, binary cross-entropy
    "circles-like": ((DenseSpec(9, "relu", True), DenseSpec(1, "sigmoid", True)),
                     "binary_crossentropy", 2),
    "two sigmoids": ((DenseSpec(6, "relu", True), DenseSpec(2, "sigmoid", True)),
                     "binary_crossentropy", 4),
    "deep softmax": ((DenseSpec(5, "relu", True), DenseSpec(4, "linear", False),
                      DenseSpec(3, "softmax", True)), "categorical_crossentropy", 6),
    "sparse softmax": ((DenseSpec(5, "relu", False), DenseSpec(3, "softmax", True)),
                       "sparse_categorical_crossentropy", 3),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dropout", [False, True], ids=["no-dropout", "dropout"])
def test_hand_derived_gradients_are_the_tapes(name: str, dropout: bool) -> None:
    import tensorflow as tf

    specs, loss, features = CASES[name]
    assert applies(specs, loss, (features,))
    rng = np.random.default_rng(3)
    weights, counts, width = [], [], features
    for spec in specs:
        weights.append(tf.constant(rng.normal(0, 0.7, (MEMBERS, width, spec.units)), tf.float32))
        if spec.use_bias:
            weights.append(tf.constant(rng.normal(0, 0.3, (MEMBERS, spec.units)), tf.float32))
        counts.append(1 + spec.use_bias)
        width = spec.units
    x = tf.constant(rng.normal(0, 1, (MEMBERS, ROWS, features)), tf.float32)
    outputs = specs[-1].units
    if loss == "sparse_categorical_crossentropy":
        y = tf.constant(rng.integers(0, outputs, (1, ROWS)).astype(np.int32))
    elif loss == "categorical_crossentropy":
        y = tf.constant(np.eye(outputs, dtype=np.float32)[rng.integers(0, outputs, ROWS)][None])
    else:
        y = tf.constant(rng.integers(0, 2, (1, ROWS, outputs)).astype(np.float32))
    keeps: list[Any] = []
    width = features
    for spec in specs:
        if dropout:  # multipliers 1 / (1 - 0.4) or 0, as keep_multipliers draws them
            kept = rng.random((MEMBERS, ROWS, width)) >= 0.4
            keeps.append(tf.constant(np.where(kept, 1 / 0.6, 0.0), tf.float32))
        else:
            keeps.append(None)
        width = spec.units
    _, _, ours = gradients(specs, tuple(counts), loss, weights, x, y, keeps)
    theirs = _tape(specs, tuple(counts), loss, weights, x, y, keeps)
    assert len(ours) == len(theirs)
    for mine, tape in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.numpy(), tape, rtol=2e-5, atol=1e-6, err_msg=name)


def test_which_chains_take_the_hand_derived_gradients() -> None:
    mlp = (DenseSpec(500, "relu", True), DenseSpec(1, "sigmoid", True))
    assert applies(mlp, "binary_crossentropy", (2,))
    assert not applies(mlp, "mean_squared_error", (2,))  # not a cross-entropy
    assert not applies((DenseSpec(5, "tanh", True), mlp[1]), "binary_crossentropy", (2,))
    assert not applies((DenseSpec(1, "linear", True),), "binary_crossentropy", (2,))  # logits
    assert not applies(mlp, "binary_crossentropy", (4, 2))  # Dense over a sequence
    conv = (ConvSpec(4, (3, 3), (1, 1), "valid", "relu", True), FlattenSpec(), mlp[1])
    assert not applies(conv, "binary_crossentropy", (8, 8, 1))
    # one batch per epoch: 32 members; with mini-batches the general size
    assert members_per_population(mlp, "binary_crossentropy", (2,), 30, 32, 64) == 32
    assert members_per_population(mlp, "binary_crossentropy", (2,), 30, 16, 64) == 64


def test_the_tutorial_as_a_users_task_trains_as_the_built_in_one() -> None:
    """Same layers, same data, another name (as a user's task file is): the engine chooses by
    structure, so every figure is the built-in task's, bit for bit."""
    circles = get_task("circles")
    copy = replace(circles, name="my-circles", origin="my_circles.py")
    assert copy.is_users
    cells = [Cell(0.0, "none", None, 0), Cell(0.4, "hidden", 2.0, 1), Cell(0.2, "both", None, 2)]
    settings = TrainSettings(12, 32)
    ours = train_all(PopulationEngine(), copy, cells, settings)
    theirs = train_all(PopulationEngine(), circles, cells, settings)
    for mine, built_in in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.curves.stacked(), built_in.curves.stacked())
        assert mine.test_metric == built_in.test_metric
