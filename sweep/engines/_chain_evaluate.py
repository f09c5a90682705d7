"""Evaluating K stacked members of a chain: every member's loss and metric on shared rows,
dropout off, in blocks of rows (the compared split after each epoch, and the final figures).
A dense chain's shared rows are not copied per member (:func:`._chain_dense.forward_shared`)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import _chain_dense as dense
from ._chain_forward import Keeps, forward
from ._chain_math import loss_per_row, metric_per_row
from ._chain_shape import Shape

EVALUATION_ELEMENTS = 2**26
"""Floats per evaluated block of rows (256 MB): the compared split is evaluated in blocks of
rows whose largest activation, over all members, stays under this."""


def row_figures(shape: Shape, logits: Any, outputs: Any, y: Any) -> tuple[Any, Any]:
    """(K, rows) losses and metric values of a forward pass's ``logits`` and ``outputs``."""
    rows_loss = loss_per_row(shape.loss, logits, outputs, y)
    return rows_loss, metric_per_row(shape.metric, shape.loss, rows_loss, outputs, y)


def losses(shape: Shape, weights: tuple[Any, ...], x: Any, y: Any,
           keeps: Keeps | None, first: int = 0) -> tuple[Any, Any]:
    """(K, rows) losses and metric values (from layer ``first`` on, ``x`` being the output of
    the layer before)."""
    return row_figures(shape, *forward(shape.specs, shape.counts, weights, x, keeps, first), y)


def evaluated(shape: Shape, weights: tuple[Any, ...], x: Any, y: Any) -> tuple[Any, Any]:
    """Every member's dropout-off mean loss and metric over all rows of ``x`` (shared by the
    members), in blocks of rows sized by :data:`EVALUATION_ELEMENTS`."""
    import tensorflow as tf

    rows = int(x.shape[0])
    most = max(1, min(rows, EVALUATION_ELEMENTS // (shape.members * shape.widest)))
    blocks = -(-rows // most)
    block = -(-rows // blocks)  # equal blocks: the least padding

    def sums(xs: Any, ys: Any, real: Any = None) -> tuple[Any, Any]:
        if shape.dense:
            rows_loss, rows_metric = row_figures(
                shape, *dense.forward_shared(shape.specs, shape.counts, weights, xs), ys[None])
        else:
            shared = tf.broadcast_to(xs[None], (shape.members, *xs.shape))
            rows_loss, rows_metric = losses(shape, weights, shared, ys[None], None)
        if real is not None:
            rows_loss, rows_metric = rows_loss * real, rows_metric * real
        return tf.reduce_sum(rows_loss, axis=1), tf.reduce_sum(rows_metric, axis=1)

    if blocks == 1:
        loss, metric = sums(x, y)
        return loss / rows, metric / rows
    padding = blocks * block - rows  # the last block padded with zero rows at weight 0
    x = tf.pad(x, [[0, padding]] + [[0, 0]] * (x.shape.rank - 1))
    y = tf.pad(y, [[0, padding]] + [[0, 0]] * (y.shape.rank - 1))
    real_rows = tf.constant((np.arange(rows + padding) < rows).astype(np.float32)[None])

    def body(b: Any, loss: Any, metric: Any) -> tuple[Any, Any, Any]:
        start = b * block
        more = sums(tf.slice(x, [start, *[0] * (x.shape.rank - 1)], [block, *x.shape[1:]]),
                    tf.slice(y, [start, *[0] * (y.shape.rank - 1)], [block, *y.shape[1:]]),
                    tf.slice(real_rows, [0, start], [1, block]))
        return b + 1, loss + more[0], metric + more[1]

    zeros = tf.zeros(shape.members)
    _, loss, metric = tf.while_loop(lambda b, *_: b < blocks, body,
                                    (tf.constant(0), zeros, zeros))
    return loss / rows, metric / rows


@functools.cache
def compiled_evaluation(shape: Shape) -> Any:
    import tensorflow as tf

    # the loops are tf.while_loop already: AutoGraph would only re-read the source per trace
    @tf.function(jit_compile=True, reduce_retracing=False, autograph=False)
    def evaluate(weights: tuple[Any, ...], x: Any, y: Any) -> tuple[Any, Any]:
        return evaluated(shape, weights, x, y)

    return evaluate
