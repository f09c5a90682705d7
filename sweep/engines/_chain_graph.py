"""The training program for K stacked members of any chain (:mod:`._chain`).

Member k is ``x -> [dropout] -> layer_0 -> [dropout] -> layer_1 -> ...``
(:mod:`._chain_forward`), with per-member dropout rates of each kind at each layer and a
MaxNorm per member on each kernel; the optimizer, loss and metric are shared by the population
(:mod:`._chain_math`). Each member's gradient is exactly its own (of its mean loss), inside one
XLA program: from a ``GradientTape`` of the members' summed losses, or, for a dense chain
(:mod:`._chain_dense`, chosen by the model's structure), written out by hand so that XLA fuses
the forward pass, the backward pass and the masks. Every formula follows Keras 3 on the
TensorFlow backend (``docs/keras-semantics.md`` gives the Keras sources and why):

- the optimizer's step (:class:`._chain_math.Rule`: Adam's epsilon on the uncorrected
  ``sqrt(v)``, constants rounded to float32 as Keras rounds them), then MaxNorm on the updated
  kernel, ``w * (clip(norms, 0, c) / (1e-7 + norms))`` over every axis but the last; members
  without a constraint keep their kernel untouched (a mask, not ``c = inf``, which would still
  rescale);
- inverted dropout: keep where ``uniform >= rate``, kept values times ``float32(1 / (1 - rate))``,
  a fresh mask per step, member, row and unit (or per element of a ``noise_shape``, broadcast);
  rate 0 multiplies by exactly 1; GaussianDropout, GaussianNoise and AlphaDropout as Keras
  computes them (:mod:`._chain_noise`), a value of 0 leaving the input exactly as it is;
- ``fit``'s batches: each epoch reshuffles the training rows (one shuffle stream per member, from
  its seed's key; a full shuffle as Keras' array adapter does), then takes ``batch_size`` rows
  per step with a last partial batch; the optimizer's step counter counts batches; one batch per
  epoch (``batch_size`` >= rows, as in the tutorial) takes every row in order;
- History: the epoch's train loss and metric are the means over every row seen, dropout on,
  each batch with the weights before its update; the compared split is evaluated after the
  epoch with dropout off. With ``shuffle=False`` (for the equivalence tests) batches follow the
  rows' order, as ``model.fit(shuffle=False)`` does.

Dropout and shuffles come from :mod:`._population_rng`'s counter-based hash, not TF's
generators: the engines agree in distribution with dropout, and without it (and without
shuffling) step by step up to float32 rounding.

The program trains a runtime number of epochs (at most :data:`CHUNK_EPOCHS`) from a given epoch
and hands back the state, so it is compiled once per population shape whatever ``--epochs`` is,
and chunked training is bit-identical to one long run.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from . import _chain_dense as dense
from ._chain_evaluate import compiled_evaluation, evaluated, losses, row_figures
from ._chain_forward import Keeps, mask_counters
from ._chain_layers import KINDS, EmbeddingSpec
from ._chain_mc import compiled_mc, layer_keeps
from ._chain_noise import NOISE_KINDS, member_constants
from ._chain_recurrent import embedding
from ._chain_shape import ChainPopulation, Shape
from ._population_rng import dropout_counters, dropout_step_key, dropout_uniform

MAX_NORM_EPSILON = np.float32(1e-7)  # keras.backend.epsilon()
CHUNK_EPOCHS = 1024
"""The most epochs one compiled call trains: the static size of its curves buffer (16 KB per
member). A stop request is honoured between calls, which the caller paces to about a second."""
_SHUFFLE_SALT = np.uint32(0x5BD1E995)


class ChainTraining:
    """One population's training, chunk by chunk (as :class:`PopulationTraining`)."""

    def __init__(self, shape: Shape, population: ChainPopulation, train: tuple[Any, Any],
                 compared: tuple[Any, Any], epochs: int) -> None:
        import tensorflow as tf

        self._shape = shape
        self._program = _compiled_program(shape)
        weights = [tf.constant(w, tf.float32) for w in population.weights]
        slots = [tf.zeros_like(w) for _ in range(shape.rule.slots) for w in weights]
        self._state: tuple[Any, ...] = (*weights, *slots)
        column = (shape.members, 1, 1)
        self._settings = (
            tuple(tuple(tf.constant(r.astype(np.float32).reshape(column)) for r in layer)
                  for layer in population.rates),
            tuple(tuple(tf.constant(member_constants(kind, r) if kind in NOISE_KINDS
                                    else dropout_scale(r).reshape(column))
                        for kind, r in enumerate(layer))
                  for layer in population.rates),
            tuple(tf.constant(c.astype(np.float32).reshape(shape.members, 1, 1))
                  for c in population.max_norms),
            tuple(tf.constant(h.astype(bool).reshape(shape.members, 1, 1))
                  for h in population.has_max_norm),
            tf.constant(population.keys.astype(np.uint32).reshape(column)),
            _tensor(train[0], shape, False), _tensor(train[1], shape, True),
            _tensor(compared[0], shape, False), _tensor(compared[1], shape, True),
        )
        self.epochs = epochs
        self.epochs_done = 0
        self._curves = np.empty((4, epochs, shape.members), np.float32)
        self._evaluate = compiled_evaluation(shape)

    @property
    def remaining(self) -> int:
        return self.epochs - self.epochs_done

    @property
    def weights(self) -> tuple[Any, ...]:
        return self._state[: len(self._state) // (1 + self._shape.rule.slots)]

    def train(self, epochs: int) -> None:
        import tensorflow as tf

        if not 1 <= epochs <= min(CHUNK_EPOCHS, self.remaining):
            raise ValueError(
                f"a chunk has 1 to {min(CHUNK_EPOCHS, self.remaining)} epochs, got {epochs}")
        state, curves = self._program(
            self._state, tf.constant(self.epochs_done, tf.int32), tf.constant(epochs, tf.int32),
            *self._settings)
        self._state = tuple(state)
        self._curves[:, self.epochs_done : self.epochs_done + epochs] = (
            np.asarray(curves)[:, :epochs])
        self.epochs_done += epochs

    @property
    def curves(self) -> np.ndarray:
        """(4, epochs, K): train loss, train metric (dropout on), compared loss and metric."""
        return self._curves

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every member's dropout-off (loss, metric) on ``x``, ``y``, each (K,)."""
        loss, metric = self._evaluate(self.weights, _tensor(x, self._shape, False),
                                      _tensor(y, self._shape, True))
        return np.asarray(loss), np.asarray(metric)

    def mc_outputs(self, x: np.ndarray, passes: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every member's (K, rows, outputs) outputs on ``x`` with dropout off, and the mean
        and variance of ``passes`` passes with it on (:mod:`._chain_mc`)."""
        rates, scales, *_, keys = self._settings[:5]
        found = compiled_mc(self._shape, passes)(
            self.weights, _tensor(x, self._shape, False), rates, scales, keys)
        standard, mean, variance = (np.asarray(a) for a in found)
        return standard, mean, variance


def dropout_scale(rate: np.ndarray) -> np.ndarray:
    """``float32(1 / (1 - rate))`` computed in double first, as TF's dropout does."""
    return (1.0 / (1.0 - np.asarray(rate, dtype=np.float64))).astype(np.float32)


def _tensor(array: Any, shape: Shape, labels: bool) -> Any:
    """Inputs as float32 (rows, ...one row's shape); labels as (rows, outputs) floats, or
    (rows,) int32 for sparse labels."""
    import tensorflow as tf

    array = np.asarray(array)
    if not labels:
        return tf.constant(array.reshape(len(array), *shape.input_shape), tf.float32)
    if shape.sparse_labels:
        return tf.constant(array.reshape(len(array)).astype(np.int32))
    return tf.constant(array.reshape(len(array), -1).astype(np.float32))


def embedding_gradients(ids: Any, upstream: Any, vocabulary: int) -> tuple[Any, Any]:
    """An embedding table's gradient (K, vocabulary, dim) from the gradient of its gathered rows
    ``upstream`` (K, rows, steps, dim) at token ``ids`` (K, rows, steps), and what Keras squares
    in its place: TensorFlow gives a gather's gradient as one slice per occurrence, which Keras'
    Adam and RMSprop square slice by slice (``ops.square`` of ``IndexedSlices``) before the sum,
    so a token seen twice in a batch adds ``g1**2 + g2**2``, not ``(g1 + g2)**2``, to the second
    moment."""
    import tensorflow as tf

    members, dim = int(upstream.shape[0]), int(upstream.shape[-1])
    segments = ids + vocabulary * tf.range(members)[:, None, None]
    flat = tf.reshape(segments, (-1,))

    def summed(values: Any) -> Any:
        total = tf.math.unsorted_segment_sum(tf.reshape(values, (-1, dim)), flat,
                                             members * vocabulary)
        return tf.reshape(total, (members, vocabulary, dim))

    return summed(upstream), summed(tf.square(upstream))


@functools.cache
def _compiled_program(shape: Shape) -> Any:
    import tensorflow as tf

    full_batches, last = divmod(shape.rows, shape.batch_size)
    single = shape.batch_size >= shape.rows  # one batch per epoch: no order to shuffle
    steps_per_epoch = full_batches + (last > 0)

    batch_rows = {shape.rows} if single else {shape.batch_size, last} - {0}
    counters: dict[tuple[int, int, int], Any] = {}  # hoisted out of the loops by program()

    embedded = isinstance(shape.specs[0], EmbeddingSpec)

    def hoist_counters() -> None:
        for rows in batch_rows:
            for i, spec in enumerate(shape.specs):
                for kind in range(len(KINDS)):
                    if shape.dropout[i][kind]:
                        counters[rows, i, kind] = mask_counters(
                            spec, kind, i, shape.in_shapes[i], rows, shape.noise_shape(i, kind))

    def keeps_of(rows: int, step_key: Any, rates: Any, scales: Any) -> Keeps:
        return layer_keeps(shape, rows, step_key, rates, scales,
                           {(i, kind): c for (r, i, kind), c in counters.items() if r == rows})

    def step(t: Any, weights: tuple[Any, ...], slots: tuple[Any, ...], settings: tuple[Any, ...],
             x: Any, y: Any) -> tuple[Any, ...]:
        rates, scales, max_norms, has_max_norm, keys = settings
        keeps = keeps_of(int(x.shape[1]), dropout_step_key(keys, t), rates, scales)
        squares: dict[int, Any] = {}
        if shape.dense:  # hand-derived gradients (:mod:`._chain_dense`)
            logits, outputs, gradients = dense.gradients(
                shape.specs, shape.counts, shape.loss, weights, x, y, [k[0] for k in keeps],
                [layer[0] for layer in scales])
            rows_loss, rows_metric = row_figures(shape, logits, outputs, y)
        elif embedded:  # the table's gradient from the gathered rows' (Keras' sparse slices)
            ids = tf.cast(x, tf.int32)
            with tf.GradientTape() as tape:
                tape.watch(weights)
                rows = embedding(weights[:1], ids)
                tape.watch(rows)
                rows_loss, rows_metric = losses(shape, weights, rows, y, keeps, first=1)
                total = tf.reduce_sum(tf.reduce_mean(rows_loss, axis=1))
            upstream, *rest = tape.gradient(total, (rows, *weights[1:]))
            table, squares[0] = embedding_gradients(ids, upstream, weights[0].shape[1])
            gradients = (table, *rest)
        else:
            with tf.GradientTape() as tape:
                tape.watch(weights)
                rows_loss, rows_metric = losses(shape, weights, x, y, keeps)
                total = tf.reduce_sum(tf.reduce_mean(rows_loss, axis=1))
            gradients = tape.gradient(total, weights)
        count = len(weights)
        constrained = {shape.kernels[i]: i for i in range(shape.layers) if shape.constrained[i]}
        updated = []
        new_slots: list[list[Any]] = [[] for _ in range(shape.rule.slots)]
        for j in range(count):
            state = tuple(slots[s * count + j] for s in range(shape.rule.slots))
            weight, state = shape.rule.apply(t, weights[j], gradients[j], state, squares.get(j))
            if j in constrained:  # MaxNorm after the update, over all axes but the last
                i = constrained[j]
                axes = list(range(1, weight.shape.rank - 1))
                norms = tf.sqrt(tf.reduce_sum(tf.square(weight), axis=axes, keepdims=True))
                column = (shape.members, *[1] * (weight.shape.rank - 1))
                limit = tf.reshape(max_norms[i], column)
                scaled = weight * (tf.clip_by_value(norms, 0.0, limit)
                                   / (MAX_NORM_EPSILON + norms))
                weight = tf.where(tf.reshape(has_max_norm[i], column), scaled, weight)
            updated.append(weight)
            for s in range(shape.rule.slots):
                new_slots[s].append(state[s])
        return (tuple(updated), tuple(v for s in new_slots for v in s),
                tf.reduce_sum(rows_loss, axis=1), tf.reduce_sum(rows_metric, axis=1))

    # the loops are tf.while_loop already: AutoGraph would only re-read the source per trace
    @tf.function(jit_compile=True, reduce_retracing=False, autograph=False)
    def program(state: tuple[Any, ...], epoch0: Any, epochs: Any, rates: Any, scales: Any,
                max_norms: Any, has_max_norm: Any, keys: Any, train_x: Any, train_y: Any,
                compared_x: Any, compared_y: Any) -> tuple[Any, Any]:
        settings = (rates, scales, max_norms, has_max_norm, keys)
        count = len(state) // (1 + shape.rule.slots)
        members = shape.members
        hoist_counters()
        shuffle_keys = tf.bitwise.bitwise_xor(keys, tf.constant(_SHUFFLE_SALT, tf.uint32))
        row_counters = dropout_counters(1, shape.rows, 0x7F000000)

        def order(epoch: Any) -> Any:
            if not shape.shuffle:
                return tf.broadcast_to(tf.range(shape.rows)[None], (members, shape.rows))
            noise = dropout_uniform(row_counters, dropout_step_key(shuffle_keys, epoch))
            return tf.argsort(tf.reshape(noise, (members, shape.rows)), axis=1, stable=True)

        def rows_of(indices: Any) -> tuple[Any, Any]:
            return tf.gather(train_x, indices), tf.gather(train_y, indices)

        def epoch_body(i: Any, weights: tuple[Any, ...], slots: tuple[Any, ...],
                       curves: Any) -> tuple[Any, ...]:
            epoch = epoch0 + i
            t0 = epoch * steps_per_epoch
            sums = (tf.zeros(members), tf.zeros(members))
            if single:
                x = tf.broadcast_to(train_x[None], (members, *train_x.shape))
                weights, slots, loss_sum, metric_sum = step(
                    t0, weights, slots, settings, x, train_y[None])
                sums = (loss_sum, metric_sum)
            else:
                indices = order(epoch)

                def batch_body(b: Any, weights: tuple[Any, ...], slots: tuple[Any, ...],
                               sums: tuple[Any, Any]) -> tuple[Any, ...]:
                    chosen = tf.slice(indices, [0, b * shape.batch_size],
                                      [members, shape.batch_size])
                    x, y = rows_of(chosen)
                    weights, slots, loss_sum, metric_sum = step(
                        t0 + b, weights, slots, settings, x, y)
                    return b + 1, weights, slots, (sums[0] + loss_sum, sums[1] + metric_sum)

                _, weights, slots, sums = tf.while_loop(
                    lambda b, *_: b < full_batches, batch_body,
                    (tf.constant(0), weights, slots, sums))
                if last:
                    x, y = rows_of(indices[:, full_batches * shape.batch_size :])
                    weights, slots, loss_sum, metric_sum = step(
                        t0 + full_batches, weights, slots, settings, x, y)
                    sums = (sums[0] + loss_sum, sums[1] + metric_sum)
            compared = evaluated(shape, weights, compared_x, compared_y)
            row = tf.stack([sums[0] / shape.rows, sums[1] / shape.rows, *compared])
            return i + 1, weights, slots, curves.write(i, row)

        curves = tf.TensorArray(tf.float32, size=CHUNK_EPOCHS, element_shape=(4, members))
        _, weights, slots, curves = tf.while_loop(
            lambda i, *_: i < epochs, epoch_body,
            (tf.constant(0), tuple(state[:count]), tuple(state[count:]), curves),
            maximum_iterations=CHUNK_EPOCHS)
        return (*weights, *slots), tf.transpose(curves.stack(), (1, 0, 2))

    return program
