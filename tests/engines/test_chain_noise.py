"""The dropout family beyond Dropout on the population engine (``sweep/engines/_chain_noise.py``):
GaussianDropout, GaussianNoise, AlphaDropout and the noise shapes of Dropout and AlphaDropout.

Fast: each kind's draws (shapes, broadcasting, a value of 0 leaving the input bit for bit as it
is, the noise's moments over many draws, the same values as Keras' own layer where a draw fixes
them), how noise shapes are read and refused, that the hand-derived dense gradients are not
taken with these kinds, and that a member without noise in a population with every kind follows
``model.fit``. Slow: 120 population seeds against 40 stored ``model.fit`` seeds per kind.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pytest

from sweep._keras import import_keras
from sweep.engines import CellResult, TrainSettings, train_all
from sweep.engines._chain_dense import plain_masks
from sweep.engines._chain_forward import forward, keep_multipliers
from sweep.engines._chain_graph import dropout_scale
from sweep.engines._chain_layers import KINDS, DenseSpec, GRUSpec
from sweep.engines._chain_members import build_member, population_shape
from sweep.engines._chain_noise import ALPHA, ALPHA_P, GAUSSIAN, NOISE, apply, member_constants
from sweep.engines._population_rng import dropout_step_key
from sweep.engines.population import PopulationEngine
from sweep.exceptions import EngineError
from sweep.grid import BASELINE_PLACEMENT, Cell

from ..references.definitions import NOISE_EPOCHS, population_cells
from ..references.models import BATCH, TOKEN_STEPS, task_named
from ..references.store import load
from ._reference import assert_same_distribution, trained_in_order

ROWS = 64
DENSE = DenseSpec(4, "relu", True)


def _drawn(kind: int, shape: tuple[int, ...], values: list[float], layer: int = 0,
           noise_shape: tuple[int | None, ...] | None = None, step: int = 3) -> Any:
    """What the program draws for ``kind`` before a layer taking ``shape``, one member per
    value (member keys 1, 2, ...)."""
    import tensorflow as tf

    members = len(values)
    rate = tf.constant(np.array(values, np.float32).reshape(members, 1, 1))
    if kind in (GAUSSIAN, NOISE, ALPHA):
        scale = tf.constant(member_constants(kind, np.array(values)))
    else:
        scale = tf.constant(dropout_scale(np.array(values)).reshape(members, 1, 1))
    keys = tf.constant(np.arange(1, members + 1, dtype=np.uint32).reshape(members, 1, 1))
    return keep_multipliers(DENSE, kind, layer, shape, ROWS, dropout_step_key(keys, step), rate,
                            scale, None, noise_shape=noise_shape)


def _inputs(members: int, shape: tuple[int, ...]) -> Any:
    import tensorflow as tf

    rng = np.random.default_rng(5)
    return tf.constant(rng.normal(size=(members, ROWS, *shape)), tf.float32)


@pytest.mark.parametrize("kind", [GAUSSIAN, NOISE, ALPHA])
def test_a_value_of_zero_leaves_the_input_exactly_as_it_is(kind: int) -> None:
    h = _inputs(2, (300,))
    out = np.asarray(apply(kind, h, _drawn(kind, (300,), [0.0, 0.3])))
    np.testing.assert_array_equal(out[0], np.asarray(h)[0])  # bit for bit
    assert not np.array_equal(out[1], np.asarray(h)[1])


@pytest.mark.parametrize(("kind", "value", "stddev"), [
    (GAUSSIAN, 0.3, math.sqrt(0.3 / 0.7)), (GAUSSIAN, 0.6, math.sqrt(0.6 / 0.4)),
    (NOISE, 0.5, 0.5), (NOISE, 0.1, 0.1)])
def test_gaussian_noise_has_keras_moments_per_element(kind: int, value: float,
                                                      stddev: float) -> None:
    """GaussianDropout multiplies by N(1, sqrt(rate / (1 - rate))), GaussianNoise adds
    N(0, stddev): one draw per member, row and element (19,200 here), normal (68.3% within one
    standard deviation), fresh every step, members apart."""
    drawn = np.asarray(_drawn(kind, (300,), [value, value]))
    assert drawn.shape == (2, ROWS, 300)
    centre = 1.0 if kind == GAUSSIAN else 0.0
    for k in range(2):
        noise = drawn[k] - centre
        assert abs(noise.mean()) < 4 * stddev / math.sqrt(noise.size)
        assert noise.std() == pytest.approx(stddev, rel=0.03)
        assert (np.abs(noise) < stddev).mean() == pytest.approx(0.6827, abs=0.015)
    assert abs(np.corrcoef(drawn[0].ravel(), drawn[1].ravel())[0, 1]) < 0.03
    later = np.asarray(_drawn(kind, (300,), [value, value], step=4))
    assert abs(np.corrcoef(drawn[0].ravel(), later[0].ravel())[0, 1]) < 0.03


def test_kinds_and_layers_draw_from_distinct_counters() -> None:
    """The two normal kinds at one layer, and one kind at two layers, are uncorrelated; and the
    plain mask is not the alpha mask."""
    gaussian = np.asarray(_drawn(GAUSSIAN, (300,), [0.5])).ravel()
    noise = np.asarray(_drawn(NOISE, (300,), [1.0])).ravel()
    other_layer = np.asarray(_drawn(NOISE, (300,), [1.0], layer=1)).ravel()
    assert abs(np.corrcoef(gaussian, noise)[0, 1]) < 0.03
    assert abs(np.corrcoef(noise, other_layer)[0, 1]) < 0.03
    plain = np.asarray(_drawn(0, (300,), [0.5])).ravel() > 0
    alpha = np.asarray(_drawn(ALPHA, (300,), [0.5])[0]).ravel() > 0
    assert abs(np.corrcoef(plain, alpha)[0, 1]) < 0.03


def test_alpha_dropout_keeps_mean_and_variance_with_kerass_constants() -> None:
    """Dropped values become ``a alpha_p + b``, kept ones ``a x + b``, with Keras' a and b (in
    double, then float32); a standard normal input stays standard."""
    rate = 0.2
    keep, a, b = (np.asarray(t) for t in _drawn(ALPHA, (300,), [rate]))
    assert keep.shape == (1, ROWS, 300) and set(np.unique(keep)) == {0.0, 1.0}
    assert (keep == 0).mean() == pytest.approx(rate, abs=0.01)
    a64 = ((1 - rate) * (1 + rate * ALPHA_P**2)) ** -0.5
    assert (a.item(), b.item()) == (np.float32(a64), np.float32(-a64 * ALPHA_P * rate))
    h = _inputs(1, (300,))
    out = np.asarray(apply(ALPHA, h, _drawn(ALPHA, (300,), [rate])))
    x = np.asarray(h)
    np.testing.assert_allclose(out[keep == 1], (a * x + b)[keep == 1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[keep == 0], np.float32(a64 * ALPHA_P - a64 * ALPHA_P * rate),
                               rtol=1e-6)
    assert abs(out.mean()) < 0.03 and out.std() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize(("layer_name", "kwargs"), [
    ("GaussianDropout", {"rate": 0.3}), ("GaussianNoise", {"stddev": 0.5}),
    ("AlphaDropout", {"rate": 0.2}), ("Dropout", {"rate": 0.3, "noise_shape": (None, 20, 1)})])
def test_each_kind_matches_kerass_own_layer_in_training(layer_name: str,
                                                        kwargs: dict[str, Any]) -> None:
    """Keras' layer on the same inputs, ``training=True``: the same spread of its noise, and for
    AlphaDropout and Dropout the very values, a draw once fixed (dropped or kept)."""
    import tensorflow as tf

    keras = import_keras()
    keras.utils.set_random_seed(0)
    kind = {"GaussianDropout": GAUSSIAN, "GaussianNoise": NOISE, "AlphaDropout": ALPHA,
            "Dropout": 0}[layer_name]
    value = kwargs.get("rate", kwargs.get("stddev"))
    shape = (TOKEN_STEPS, 8)
    h = _inputs(1, shape)
    theirs = np.asarray(getattr(keras.layers, layer_name)(**kwargs)(h[0], training=True))
    noise_shape = kwargs.get("noise_shape")
    drawn = _drawn(kind, shape, [value], noise_shape=noise_shape)
    ours = np.asarray(apply(kind, h, drawn) if kind else h * drawn)[0]
    x = np.asarray(h)[0]
    if kind == GAUSSIAN:
        assert np.std(theirs / x) == pytest.approx(np.std(ours / x), rel=0.05)
    elif kind == NOISE:
        assert np.std(theirs - x) == pytest.approx(np.std(ours - x), rel=0.05)
    else:
        for out in (ours, theirs):
            if kind == ALPHA:
                a, b = member_constants(ALPHA, np.array([value]))[0, 0]
                dropped_value = tf.constant(a) * tf.constant(np.float32(ALPHA_P)) + b
                kept = out == a * x + b
                dropped = out == np.float32(dropped_value)
            else:
                scale = dropout_scale(np.array([value]))[0]
                kept, dropped = out == x * scale, out == 0
                assert (dropped.all(axis=-1) | kept.all(axis=-1)).all()  # whole words
            assert (kept | dropped).all()
            assert dropped.mean() == pytest.approx(value, abs=0.03)


def test_a_noise_shape_broadcasts_its_mask() -> None:
    """``(None, steps, 1)`` drops whole words, ``(None, 1, features)`` whole features for every
    step, a batch entry of 1 one mask for every row; a member at rate 0 keeps everything."""
    shape = (TOKEN_STEPS, 8)
    for noise_shape, dims in (((None, TOKEN_STEPS, 1), (ROWS, TOKEN_STEPS, 1)),
                              ((None, 1, 8), (ROWS, 1, 8)), ((1, TOKEN_STEPS, 8), (1,) + shape)):
        keep = np.asarray(_drawn(0, shape, [0.5, 0.0], noise_shape=noise_shape))
        assert keep.shape == (2, *dims), noise_shape
        assert set(np.unique(keep[0])) == {0.0, 2.0}
        assert (keep[0] == 0).mean() == pytest.approx(0.5, abs=0.1)
        np.testing.assert_array_equal(keep[1], 1.0)
    keep, _, _ = _drawn(ALPHA, shape, [0.3], noise_shape=(None, TOKEN_STEPS, 1))
    assert keep.shape == (1, ROWS, TOKEN_STEPS, 1)


def test_a_forward_pass_with_every_kind_at_zero_is_the_pass_without_them() -> None:
    """Every kind on at every layer, a member whose values are all 0: bit for bit the forward
    pass with dropout off (the extra places change nothing)."""
    import tensorflow as tf

    specs = (DenseSpec(5, "relu", True), DenseSpec(3, "softmax", True))
    rng = np.random.default_rng(1)
    weights = [tf.constant(rng.normal(size=s), tf.float32)
               for s in ((2, 7, 5), (2, 5), (2, 5, 3), (2, 3))]
    x = _inputs(2, (7,))
    keeps = tuple(tuple(_drawn(kind, (width,), [0.0, 0.4], layer=i)
                        if kind in (0, GAUSSIAN, NOISE, ALPHA) else None
                        for kind in range(len(KINDS)))
                  for i, width in enumerate((7, 5)))
    _, noisy = forward(specs, (2, 2), weights, x, keeps)
    _, clean = forward(specs, (2, 2), weights, x, None)
    np.testing.assert_array_equal(np.asarray(noisy)[0], np.asarray(clean)[0])
    assert not np.array_equal(np.asarray(noisy)[1], np.asarray(clean)[1])


def _model(keras: Any, *middle: Any, inputs: tuple[int, ...] = (TOKEN_STEPS, 8)) -> Any:
    flatten = [keras.layers.Flatten()] if len(inputs) > 1 else []
    model = keras.Sequential([keras.Input(inputs), *middle, *flatten,
                              keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _task_of(build: Any) -> Any:
    from dataclasses import replace

    return replace(task_named("text-noise-shape"), build_model=lambda cell: build())


@pytest.mark.parametrize(("noise_shape", "resolved"), [
    ((None, TOKEN_STEPS, 1), (None, TOKEN_STEPS, 1)), ((None, None, 1), (None, TOKEN_STEPS, 1)),
    ((1, None, None), (1, TOKEN_STEPS, 8)), ((None, TOKEN_STEPS, 8), None),
    ((None, 1, 8), (None, 1, 8))])
def test_noise_shapes_are_resolved_into_the_structure(
        noise_shape: tuple[int | None, ...], resolved: tuple[int | None, ...] | None) -> None:
    """``None`` entries filled from the input; the input's own shape is no noise shape at all
    (the plain mask, the same program)."""
    keras = import_keras()
    for layer in (keras.layers.Dropout, keras.layers.AlphaDropout):
        build = functools.partial(_model, keras, layer(0.3, noise_shape=noise_shape))
        structure = build_member(_task_of(build), Cell(0.3, "x", None, 0)).structure
        kind = 0 if layer is keras.layers.Dropout else ALPHA
        found = structure.noise_shapes[0][kind] if structure.noise_shapes else None
        assert found == resolved, layer


@pytest.mark.parametrize(("middle", "fragment"), [
    (lambda k: [k.layers.Dropout(0.3, noise_shape=(None, 3, 1))], "does not broadcast"),
    (lambda k: [k.layers.Dropout(0.3, noise_shape=(32, None, 1))],
     "batch entry 32 is not None or 1"),
    (lambda k: [k.layers.AlphaDropout(0.3, noise_shape=(None, 1))], "has 2 entries"),
    (lambda k: [k.layers.GaussianNoise(0.3), k.layers.Dropout(0.3)],
     "next to another dropout layer"),
    (lambda k: [k.layers.Dropout(0.3), k.layers.AlphaDropout(0.3)],
     "next to another dropout layer"),
])
def test_noise_layers_that_cannot_be_stacked_are_named(middle: Any, fragment: str) -> None:
    keras = import_keras()
    task = _task_of(lambda: _model(keras, *middle(keras)))
    with pytest.raises(EngineError, match=fragment):
        build_member(task, Cell(0.3, "x", None, 0))


def test_the_hand_derived_dense_gradients_take_plain_masks_only() -> None:
    """A dense chain with GaussianDropout, GaussianNoise, AlphaDropout, or a noise shape that
    shares a mask between rows, takes the tape; with plain Dropout (a noise shape of the
    input's own shape too) the hand-derived gradients."""
    keras = import_keras()
    layers = keras.layers
    cases = [(None, True), (layers.Dropout(0.3), True),
             (layers.Dropout(0.3, noise_shape=(None, 4)), True),
             (layers.Dropout(0.3, noise_shape=(1, 4)), False), (layers.GaussianDropout(0.3), False),
             (layers.GaussianNoise(0.3), False), (layers.AlphaDropout(0.3), False)]
    for noise, expected in cases:
        def build(noise: Any = noise) -> Any:
            return _model(keras, layers.Dense(4, "relu"), *[noise] if noise else [],
                          inputs=(6,))
        member = build_member(_task_of(build), Cell(0.3, "x", None, 0))
        shape = population_shape([member], 1, "accuracy", 30, 30)
        assert shape.dense == expected, noise
        if noise is not None:  # with a member without it: the same program
            alone = build_member(_task_of(lambda: _model(keras, layers.Dense(4, "relu"),
                                                         inputs=(6,))), Cell(0, "x", None, 1))
            if alone.structure == member.structure:
                assert population_shape([alone], 1, "accuracy", 30, 30, peers=[member]).dense \
                    == expected
    off = (False,) * len(KINDS)
    plain = (True,) + off[1:]
    assert plain_masks((plain, off)) and plain_masks((plain, plain), ((None,) * len(KINDS),) * 2)
    assert not plain_masks((plain, (False,) * 4 + (True, False, False)))
    assert not plain_masks((plain, off), (((1, 64),) + (None,) * 6, (None,) * 7))


def test_a_member_without_noise_among_every_kind_follows_model_fit() -> None:
    """The noise MLP at rate 0 is the multi-class digits model: in a population whose program
    draws GaussianNoise, GaussianDropout and AlphaDropout for its other members, it follows the
    stored ``model.fit(shuffle=False)`` epoch by epoch."""
    stored = load("multiclass-trajectories")
    baseline = Cell(0.0, BASELINE_PLACEMENT, None, 0)
    cells = [baseline, Cell(0.5, "noise", None, 1), Cell(0.3, "gaussian", None, 2),
             Cell(0.2, "alpha", None, 3)]
    training = trained_in_order(task_named("noise-mlp"), cells, 2, BATCH)
    theirs = stored[baseline].curves
    assert theirs is not None
    np.testing.assert_allclose(training.curves[[0, 2], :, 0], theirs[[0, 2], :2], rtol=1e-4,
                               atol=1e-4)


def test_a_gru_spec_is_untouched_by_the_new_kinds() -> None:
    """The recurrent masks keep their own shapes with the kinds list grown."""
    from sweep.engines._chain_forward import mask_shape

    gru = GRUSpec(8, "tanh", "sigmoid", True, True, True)
    assert mask_shape(gru, 2, (12, 5)) == (3, 5) and mask_shape(gru, 3, (12, 5)) == (3, 8)
    assert mask_shape(gru, GAUSSIAN, (12, 5)) == (12, 5)


# ---- slow: distributions -------------------------------------------------------------------


@functools.cache
def _population_results(name: str) -> dict[str, list[CellResult]]:
    results = train_all(PopulationEngine(), task_named(name), population_cells(f"{name}-dropout"),
                        TrainSettings(NOISE_EPOCHS, BATCH))
    return {p: [r for r in results if r.cell.placement == p] for p in task_named(name).placements}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "placement"), [
    pytest.param(name, placement, marks=pytest.mark.xdist_group(f"noise-{name}"))
    for name, placement in [("noise-mlp", "gaussian"), ("noise-mlp", "noise"),
                            ("noise-mlp", "alpha"), ("text-noise-shape", "words")]])
def test_with_noise_the_engines_agree_in_distribution(name: str, placement: str) -> None:
    """120 population seeds against 40 stored ``model.fit`` seeds (15 epochs): final test loss
    and accuracy (noise off), the last epoch's train loss (noise on): Welch's t and Mann-Whitney
    at alpha 0.01."""
    population = _population_results(name)[placement]
    stored = [fit for cell, fit in load(f"{name}-dropout").items() if cell.placement == placement]
    assert len(population) == 3 * len(stored) > 0
    assert_same_distribution(f"{name} {placement}", population, stored, "accuracy")

