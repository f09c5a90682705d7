"""MC dropout for K stacked members: every member's outputs on shared rows with dropout off,
and the mean of T stochastic passes with every dropout layer on, in one compiled program.

Each pass draws its masks as training does (:func:`._chain_forward.keep_multipliers`, the
engine's counter hash, per member, row, layer and kind) on the step key of pass ``t`` under the
member key XORed with :data:`MC_SALT`: a stream of its own, apart from every training step's
and every shuffle's (:data:`._chain_graph._SHUFFLE_SALT`). The passes' outputs, less the first
pass's, and their squares are summed in float32: the mean is the first pass plus the mean
shift, the variance the mean squared shift less the squared mean shift (shifted sums: no
cancellation when the passes are close). A member whose passes were all equal (no dropout) gets
its dropout-off outputs exactly and a variance of 0 (a pass through multipliers of 1 can round
differently from the dropout-off program once XLA fuses it), as
:func:`sweep.calibration.mc_probabilities` gives a Keras model's identical passes. The figures are
computed from these outputs in NumPy (:func:`sweep.calibration.cell_figures`).

The layers before the first one where some member drops (:func:`first_stochastic`) give every
pass the same outputs: they run once, with the dropout-off outputs, and the passes start after
them (text-gru's `after` placement alone: its first recurrent layer runs once instead of once a
pass; the members of a claim share one program, so one dropping earlier moves the start). A
population in which no member drops runs no passes.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._chain_forward import Keeps, forward, keep_multipliers, mask_counters
from ._chain_layers import KINDS
from ._chain_shape import Shape
from ._population_rng import dropout_step_key

MC_SALT = np.uint32(0x2C1B3C6D)
"""XORed into the member keys of the MC passes (training steps use the keys as they are, the
shuffles XOR ``0x5BD1E995``)."""


def layer_keeps(shape: Shape, rows: int, step_key: Any, rates: Any, scales: Any,
                counters: dict[tuple[int, int], Any]) -> Keeps:
    """Every layer's and kind's multipliers for ``rows`` rows on ``step_key`` (None where no
    member drops), for a training step (:mod:`._chain_graph`) or an MC pass; ``counters``:
    :func:`._chain_forward.mask_counters` per (layer, kind)."""
    import tensorflow as tf

    per_gate = tuple(tf.reshape(layer[3] > 0, (-1, 1, 1, 1)) for layer in rates)
    return tuple(
        tuple(keep_multipliers(spec, kind, i, shape.in_shapes[i], rows, step_key,
                               rates[i][kind], scales[i][kind], per_gate[i], counters[i, kind],
                               shape.noise_shape(i, kind))
              if shape.dropout[i][kind] else None for kind in range(len(KINDS)))
        for i, spec in enumerate(shape.specs))


def first_stochastic(shape: Shape) -> int:
    """The first layer at which some member drops (or adds noise): the layers before it are
    deterministic in every pass. ``len(shape.specs)`` when no member drops anywhere."""
    return next((i for i, kinds in enumerate(shape.dropout) if any(kinds)), len(shape.specs))


def mc_outputs(shape: Shape, passes: int, weights: tuple[Any, ...], x: Any, rates: Any,
               scales: Any, keys: Any) -> tuple[Any, Any, Any]:
    """(K, rows, outputs) outputs with dropout off, and the mean and the (population)
    variance of ``passes`` passes with it on, for rows ``x`` shared by the members."""
    import tensorflow as tf

    rows = int(x.shape[0])
    shared = tf.broadcast_to(x[None], (shape.members, *x.shape))
    start = first_stochastic(shape) if passes else len(shape.specs)
    # the layers before it give every pass the same outputs: computed once
    shared = forward(shape.specs[:start], shape.counts[:start], weights, shared, None)[1]
    standard = forward(shape.specs, shape.counts, weights, shared, None, start)[1]
    if start == len(shape.specs):
        return standard, standard, tf.zeros_like(standard)
    counters = {(i, kind): mask_counters(spec, kind, i, shape.in_shapes[i], rows,
                                         shape.noise_shape(i, kind))
                for i, spec in enumerate(shape.specs) for kind in range(len(KINDS))
                if shape.dropout[i][kind]}
    mc_keys = tf.bitwise.bitwise_xor(keys, tf.constant(MC_SALT, tf.uint32))

    def one(t: Any) -> Any:
        keeps = layer_keeps(shape, rows, dropout_step_key(mc_keys, t), rates, scales, counters)
        return forward(shape.specs, shape.counts, weights, shared, keeps, start)[1]

    first = one(tf.constant(0))
    axes = list(range(1, first.shape.rank))

    def body(t: Any, total: Any, squares: Any, same: Any) -> tuple[Any, Any, Any, Any]:
        out = one(t) - first  # shifted by the first pass: no cancellation in the variance
        return (t + 1, total + out, squares + out * out,
                same & tf.reduce_all(tf.equal(out, 0.0), axis=axes))

    _, total, squares, same = tf.while_loop(
        lambda t, *_: t < passes, body,
        (tf.constant(1), tf.zeros_like(first), tf.zeros_like(first),
         tf.ones(shape.members, tf.bool)))
    column = tf.reshape(same, (shape.members, *[1] * (first.shape.rank - 1)))
    shift = total / passes
    variance = tf.maximum(squares / passes - shift * shift, 0.0)
    return (standard, tf.where(column, standard, first + shift),
            tf.where(column, tf.zeros_like(first), variance))


@functools.cache
def compiled_mc(shape: Shape, passes: int) -> Any:
    import tensorflow as tf

    @tf.function(jit_compile=True, reduce_retracing=False, autograph=False)
    def program(weights: tuple[Any, ...], x: Any, rates: Any, scales: Any,
                keys: Any) -> tuple[Any, Any, Any]:
        return mc_outputs(shape, passes, weights, x, rates, scales, keys)

    return program
