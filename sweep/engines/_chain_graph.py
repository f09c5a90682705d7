"""The training program for K stacked members of any dense chain (:mod:`._chain`).

Member k is ``x -> [Dropout(r0[k])] -> Dense_0 -> [Dropout(r1[k])] -> Dense_1 -> ...``, each
Dense with its activation, bias and (per member) MaxNorm; the optimizer, loss and metric are
shared by the population (:mod:`._chain_math`). Gradients come from a ``GradientTape`` of the
members' summed mean losses (each member's gradient is exactly its own), inside one XLA program.

Keras' ``fit`` semantics, reproduced: each epoch reshuffles the training rows (one shuffle stream
per member, from its seed's key; a full shuffle as Keras' array adapter does), then takes
``batch_size`` rows per step with a last partial batch; the optimizer's step counter counts
batches; the epoch's train loss and metric are the means over every row seen, dropout on, each
batch with the weights before its update; the compared split is evaluated after the epoch with
dropout off. With ``shuffle=False`` (for the equivalence tests) batches follow the rows' order,
as ``model.fit(shuffle=False)`` does. Dropout and shuffles come from :mod:`._population_rng`'s
counter-based hash, not TF's generators: the engines agree in distribution with dropout, and
without it (and without shuffling) step by step up to float32 rounding.

The program trains a runtime number of epochs (at most :data:`CHUNK_EPOCHS`) from a given epoch
and hands back the state, so it is compiled once per population shape whatever ``--epochs`` is,
and chunked training is bit-identical to one long run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._chain_math import Rule, activate, loss_per_row, metric_per_row
from ._population_graph import CHUNK_EPOCHS, dropout_scale
from ._population_rng import dropout_counters, dropout_step_key, dropout_uniform

MAX_NORM_EPSILON = np.float32(1e-7)
_SHUFFLE_SALT = np.uint32(0x5BD1E995)
_SLOT_OFFSET = 0x10000000  # each dropout slot's counters start at slot x this


@dataclass(frozen=True)
class Shape:
    """What one compiled program is specialised on (hashable)."""

    members: int
    units: tuple[int, ...]  # features, then every Dense layer's units
    activations: tuple[str, ...]
    use_bias: tuple[bool, ...]
    dropout: tuple[bool, ...]  # a Dropout before Dense i for any member
    constrained: tuple[bool, ...]  # a MaxNorm on Dense i's kernel for any member
    rule: Rule
    loss: str
    metric: str
    rows: int
    batch_size: int
    shuffle: bool
    sparse_labels: bool

    @property
    def layers(self) -> int:
        return len(self.activations)


@dataclass(frozen=True)
class ChainPopulation:
    """K members' initial weights (per Dense layer: kernels (K, in, out), biases (K, out) or
    None) and per-member settings: dropout rate before each Dense layer, MaxNorm of each."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]
    rates: tuple[np.ndarray, ...]
    max_norms: tuple[np.ndarray, ...]  # 0 where has_max_norm is False
    has_max_norm: tuple[np.ndarray, ...]
    keys: np.ndarray


class ChainTraining:
    """One population's training, chunk by chunk (as :class:`PopulationTraining`)."""

    def __init__(self, shape: Shape, population: ChainPopulation, train: tuple[Any, Any],
                 compared: tuple[Any, Any], epochs: int) -> None:
        import tensorflow as tf

        self._shape = shape
        self._program = _compiled_program(shape)
        weights = [tf.constant(k, tf.float32) for k in population.kernels]
        weights += [tf.constant(b, tf.float32) for b in population.biases if b is not None]
        slots = [tf.zeros_like(w) for _ in range(shape.rule.slots) for w in weights]
        self._state: tuple[Any, ...] = (*weights, *slots)
        column = (shape.members, 1, 1)
        self._settings = (
            tuple(tf.constant(r.astype(np.float32).reshape(column)) for r in population.rates),
            tuple(tf.constant(dropout_scale(r).reshape(column)) for r in population.rates),
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
        self._evaluate = _compiled_evaluation(shape)

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


def _tensor(array: Any, shape: Shape, labels: bool) -> Any:
    """Inputs as float32 (rows, features); labels as (rows, outputs) floats, or (rows,) int32
    for sparse labels."""
    import tensorflow as tf

    array = np.asarray(array)
    if not labels:
        return tf.constant(array.reshape(len(array), -1), tf.float32)
    if shape.sparse_labels:
        return tf.constant(array.reshape(len(array)).astype(np.int32))
    return tf.constant(array.reshape(len(array), -1).astype(np.float32))


def _forward(shape: Shape, weights: tuple[Any, ...], x: Any, keeps: tuple[Any, ...] | None
             ) -> tuple[Any, Any]:
    """(logits, outputs) of the last layer for (K, rows, features) inputs; ``keeps`` are each
    slot's dropout multipliers (None: dropout off)."""
    import tensorflow as tf

    kernels = weights[: shape.layers]
    biases = iter(weights[shape.layers :])
    h = x
    z = x
    for i in range(shape.layers):
        if keeps is not None and shape.dropout[i]:
            h = h * keeps[i]
        z = tf.einsum("kri,kio->kro", h, kernels[i])
        if shape.use_bias[i]:
            z = z + next(biases)[:, None, :]
        h = activate(shape.activations[i], z)
    return z, h


def _losses(shape: Shape, weights: tuple[Any, ...], x: Any, y: Any,
            keeps: tuple[Any, ...] | None) -> tuple[Any, Any]:
    """(K, rows) losses and metric values."""
    logits, outputs = _forward(shape, weights, x, keeps)
    rows_loss = loss_per_row(shape.loss, logits, outputs, y)
    return rows_loss, metric_per_row(shape.metric, shape.loss, rows_loss, outputs, y)


@functools.cache
def _compiled_evaluation(shape: Shape) -> Any:
    import tensorflow as tf

    @tf.function(jit_compile=True, reduce_retracing=False)
    def evaluate(weights: tuple[Any, ...], x: Any, y: Any) -> tuple[Any, Any]:
        shared = tf.broadcast_to(x[None], (shape.members, *x.shape))
        rows_loss, rows_metric = _losses(shape, weights, shared, y[None], None)
        return tf.reduce_mean(rows_loss, axis=1), tf.reduce_mean(rows_metric, axis=1)

    return evaluate


@functools.cache
def _compiled_program(shape: Shape) -> Any:
    import tensorflow as tf

    full_batches, last = divmod(shape.rows, shape.batch_size)
    single = shape.batch_size >= shape.rows  # one batch per epoch: no order to shuffle
    steps_per_epoch = full_batches + (last > 0)

    def step(t: Any, weights: tuple[Any, ...], slots: tuple[Any, ...], settings: tuple[Any, ...],
             x: Any, y: Any) -> tuple[Any, ...]:
        rates, scales, max_norms, has_max_norm, keys = settings
        rows = int(x.shape[1])
        step_key = dropout_step_key(keys, t)
        keeps = tuple(
            tf.where(dropout_uniform(dropout_counters(rows, shape.units[i], i * _SLOT_OFFSET),
                                     step_key) >= rates[i], scales[i], 0.0)
            if shape.dropout[i] else None for i in range(shape.layers))
        with tf.GradientTape() as tape:
            tape.watch(weights)
            rows_loss, rows_metric = _losses(shape, weights, x, y, keeps)
            total = tf.reduce_sum(tf.reduce_mean(rows_loss, axis=1))
        gradients = tape.gradient(total, weights)
        count = len(weights)
        updated = []
        new_slots: list[list[Any]] = [[] for _ in range(shape.rule.slots)]
        for j in range(count):
            state = tuple(slots[s * count + j] for s in range(shape.rule.slots))
            weight, state = shape.rule.apply(t, weights[j], gradients[j], state)
            if j < shape.layers and shape.constrained[j]:  # MaxNorm after the update
                norms = tf.sqrt(tf.reduce_sum(tf.square(weight), axis=1, keepdims=True))
                scaled = weight * (tf.clip_by_value(norms, 0.0, max_norms[j])
                                   / (MAX_NORM_EPSILON + norms))
                weight = tf.where(has_max_norm[j], scaled, weight)
            updated.append(weight)
            for s in range(shape.rule.slots):
                new_slots[s].append(state[s])
        return (tuple(updated), tuple(v for s in new_slots for v in s),
                tf.reduce_sum(rows_loss, axis=1), tf.reduce_sum(rows_metric, axis=1))

    @tf.function(jit_compile=True, reduce_retracing=False)
    def program(state: tuple[Any, ...], epoch0: Any, epochs: Any, rates: Any, scales: Any,
                max_norms: Any, has_max_norm: Any, keys: Any, train_x: Any, train_y: Any,
                compared_x: Any, compared_y: Any) -> tuple[Any, Any]:
        settings = (rates, scales, max_norms, has_max_norm, keys)
        count = len(state) // (1 + shape.rule.slots)
        members = shape.members
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
            shared = tf.broadcast_to(compared_x[None], (members, *compared_x.shape))
            rows_loss, rows_metric = _losses(shape, weights, shared, compared_y[None], None)
            row = tf.stack([sums[0] / shape.rows, sums[1] / shape.rows,
                            tf.reduce_mean(rows_loss, axis=1), tf.reduce_mean(rows_metric, axis=1)])
            return i + 1, weights, slots, curves.write(i, row)

        curves = tf.TensorArray(tf.float32, size=CHUNK_EPOCHS, element_shape=(4, members))
        _, weights, slots, curves = tf.while_loop(
            lambda i, *_: i < epochs, epoch_body,
            (tf.constant(0), tuple(state[:count]), tuple(state[count:]), curves),
            maximum_iterations=CHUNK_EPOCHS)
        return (*weights, *slots), tf.transpose(curves.stack(), (1, 0, 2))

    return program
