"""The population's training loop: K stacked one-hidden-layer MLPs, trained by one XLA program.

Each member k is ``x -> [Dropout(input_rate[k])] -> Dense(H, relu) [MaxNorm(c[k])] ->
[Dropout(hidden_rate[k])] -> Dense(1, sigmoid)``, trained on the whole training set as one batch
per epoch with binary cross-entropy from the logits (mean over the batch) and Keras' Adam.
The per-member losses are independent, so the gradients below are exactly what each member would
get alone (the gradient of the summed loss); they are written out by hand rather than taken with
a ``GradientTape`` so that XLA fuses the forward pass, the backward pass and the dropout masks
into a few loops over the (K, rows, H) activations. Every formula follows Keras 3 on the
TensorFlow backend (``docs/keras-semantics.md`` gives the Keras sources and why):

- Adam: ``m += (g - m)(1 - b1)``; ``v += (g^2 - v)(1 - b2)``;
  ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)``; ``w -= m alpha / (sqrt(v) + eps)``, eps added to
  the uncorrected ``sqrt(v)``; all constants rounded to float32 as Keras rounds them.
- MaxNorm after the update, on the hidden kernel only:
  ``w * (clip(norms, 0, c) / (1e-7 + norms))`` with norms over the input axis; members without
  a constraint keep their kernel untouched (a mask, not ``c = inf``, which would still rescale).
- Inverted dropout: keep where ``uniform >= rate``, kept values times ``float32(1 / (1 - rate))``,
  a fresh mask per step, member, row and unit; rate 0 multiplies by exactly 1.
- History semantics: train loss/accuracy from the dropout-on forward pass before the update;
  test loss/accuracy after the update with dropout off; accuracy is ``sigmoid(z) > 0.5``.

Dropout randomness comes from :mod:`._population_rng` (a counter-based hash, not TF's Philox):
with dropout the two engines agree in distribution, not per seed.

The program trains a chunk of at most :data:`CHUNK_EPOCHS` epochs per call, from a given
global step, and hands back the weights and Adam's moments for the next call; the number of
epochs is a runtime argument, so it is compiled once per (K, F, H, training rows) whatever
``--epochs`` is. Chunks let the caller report progress and honour a stop request between calls;
because every step is keyed on the global step, chunked training is bit-identical to one long
run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._population_rng import (
    INPUT_COUNTER_OFFSET,
    dropout_counters,
    dropout_step_key,
    dropout_uniform,
)

# Keras' Adam defaults and the float32 constants it computes from them.
LEARNING_RATE = np.float32(0.001)
BETA_1 = np.float32(0.9)
BETA_2 = np.float32(0.999)
ONE_MINUS_BETA_1 = np.float32(1 - 0.9)
ONE_MINUS_BETA_2 = np.float32(1 - 0.999)
EPSILON = np.float32(1e-7)
MAX_NORM_EPSILON = np.float32(1e-7)  # keras.backend.epsilon()


CURVE_NAMES = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")

CHUNK_EPOCHS = 1024
"""The most epochs one compiled call trains: the static size of its curves buffer (16 KB per
member). About 25 ms of work per member on the project's machine, so a 32-member call of this
length takes under a second and a stop request is honoured between calls."""


@dataclass(frozen=True)
class Population:
    """K members' initial weights and per-member dropout and max-norm settings (host arrays).

    Shapes: ``hidden_kernel`` (K, F, H), ``hidden_bias`` (K, H), ``output_kernel`` (K, H),
    ``output_bias`` (K,); the rest (K,). ``max_norm`` is ignored where ``has_max_norm`` is False.
    """

    hidden_kernel: np.ndarray
    hidden_bias: np.ndarray
    output_kernel: np.ndarray
    output_bias: np.ndarray
    input_rate: np.ndarray
    hidden_rate: np.ndarray
    max_norm: np.ndarray
    has_max_norm: np.ndarray
    keys: np.ndarray

    @property
    def size(self) -> int:
        return int(self.hidden_kernel.shape[0])


@dataclass(frozen=True)
class PopulationRun:
    """What one run returns: ``curves`` (4, epochs, K) in :data:`CURVE_NAMES` order and the final
    dropout-off ``train_loss``, ``train_accuracy``, ``test_loss``, ``test_accuracy`` (each (K,))."""

    curves: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray


def dropout_scale(rate: np.ndarray) -> np.ndarray:
    """``float32(1 / (1 - rate))`` computed in double first, as TF's dropout does."""
    return (1.0 / (1.0 - np.asarray(rate, dtype=np.float64))).astype(np.float32)


# ---- the graph ----------------------------------------------------------------------------------


class PopulationTraining:
    """One population's training for ``epochs`` epochs, a chunk of at most
    :data:`CHUNK_EPOCHS` epochs per compiled call (the caller picks each chunk's length).

    The weights and Adam's moments stay TensorFlow tensors between calls (no copies through
    NumPy); each call continues from global step :attr:`epochs_done`, which Adam's bias
    correction and the dropout masks are keyed on, so any split of the epochs into chunks trains
    exactly as one long run would, bit for bit.
    """

    def __init__(
        self,
        population: Population,
        train_x: np.ndarray,
        train_y: np.ndarray,
        test_x: np.ndarray,
        test_y: np.ndarray,
        epochs: int,
    ) -> None:
        import tensorflow as tf

        members, features, hidden = population.hidden_kernel.shape
        self._program = _compiled_program(members, features, hidden, train_x.shape[0])
        f32 = np.float32
        column = (members, 1, 1)
        weights = (
            tf.constant(population.hidden_kernel, tf.float32),
            tf.constant(population.hidden_bias, tf.float32),
            tf.constant(population.output_kernel, tf.float32),
            tf.constant(population.output_bias.reshape(members, 1), tf.float32),
        )
        zeros = tuple(tf.zeros_like(w) for w in weights)
        self._state: tuple[Any, ...] = (*weights, *zeros, *zeros)  # weights, Adam m, Adam v
        self._settings = (
            tf.constant(population.input_rate.astype(f32).reshape(column)),
            tf.constant(dropout_scale(population.input_rate).reshape(column)),
            tf.constant(population.hidden_rate.astype(f32).reshape(column)),
            tf.constant(dropout_scale(population.hidden_rate).reshape(column)),
            tf.constant(population.max_norm.astype(f32).reshape(column)),
            tf.constant(population.has_max_norm.astype(bool).reshape(column)),
            tf.constant(population.keys.astype(np.uint32).reshape(column)),
            tf.constant(train_x, tf.float32),
            tf.constant(np.asarray(train_y, f32).reshape(1, -1)),
            tf.constant(test_x, tf.float32),
            tf.constant(np.asarray(test_y, f32).reshape(1, -1)),
        )
        self.epochs = epochs
        self.epochs_done = 0
        self._curves = np.empty((4, epochs, members), np.float32)
        self._final: Any = None

    @property
    def remaining(self) -> int:
        return self.epochs - self.epochs_done

    def train(self, epochs: int) -> None:
        """Train the next ``epochs`` epochs (1 to :data:`CHUNK_EPOCHS`) in one compiled call;
        returns once they are done."""
        import tensorflow as tf

        if not 1 <= epochs <= min(CHUNK_EPOCHS, self.remaining):
            raise ValueError(
                f"a chunk has 1 to {min(CHUNK_EPOCHS, self.remaining)} epochs, got {epochs}"
            )
        state, curves, self._final = self._program(
            self._state,
            tf.constant(self.epochs_done, tf.int32),
            tf.constant(epochs, tf.int32),
            *self._settings,
        )
        self._state = tuple(state)
        done = self.epochs_done
        self._curves[:, done : done + epochs] = np.asarray(curves)[:, :epochs]
        self.epochs_done += epochs

    def run(self) -> PopulationRun:
        """The finished run: every epoch's curves and the final dropout-off metrics."""
        if self.remaining:
            raise RuntimeError(f"{self.remaining} of {self.epochs} epochs are still to train")
        final = np.asarray(self._final)
        return PopulationRun(self._curves, final[0], final[1], final[2], final[3])


@functools.cache
def _compiled_program(members: int, features: int, hidden: int, n_train: int) -> Any:
    """One XLA program per (K, F, H, training rows), compiled once per process whatever the
    number of epochs: it runs a runtime number of epochs (at most :data:`CHUNK_EPOCHS`) from
    a given global step and returns the new state, that chunk's curves and the final metrics."""
    import tensorflow as tf

    def head(activations: Any, w2: Any, b2: Any) -> Any:
        return tf.einsum("knh,kh->kn", activations, w2) + b2

    def loss_and_accuracy(logits: Any, y: Any) -> tuple[Any, Any]:
        rows = float(logits.shape[1])
        bce = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.broadcast_to(y, tf.shape(logits)), logits=logits
        )
        loss = tf.reduce_sum(bce, axis=1) / rows
        predicted = tf.cast(tf.sigmoid(logits) > 0.5, tf.float32)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(predicted, y), tf.float32), axis=1)
        return loss, accuracy

    def evaluate(x: Any, y: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> tuple[Any, Any]:
        """Dropout-off loss and accuracy of every member on the shared rows ``x`` (N, F)."""
        # x @ w1 written out over the F inputs, so XLA fuses it with the bias and the relu
        pre = x[None, :, 0:1] * w1[:, 0:1, :]
        for f in range(1, features):
            pre = pre + x[None, :, f : f + 1] * w1[:, f : f + 1, :]
        return loss_and_accuracy(head(tf.nn.relu(pre + b1[:, None, :]), w2, b2), y)

    def adam(weight: Any, gradient: Any, m: Any, v: Any, alpha: Any) -> tuple[Any, Any, Any]:
        m = m + (gradient - m) * ONE_MINUS_BETA_1
        v = v + (tf.square(gradient) - v) * ONE_MINUS_BETA_2
        return weight - (m * alpha) / (tf.sqrt(v) + EPSILON), m, v

    def adam_alpha(t: Any) -> Any:
        """Keras' step size for step ``t`` (0-based): lr sqrt(1 - b2^(t+1)) / (1 - b1^(t+1))."""
        local_step = tf.cast(t + 1, tf.float32)
        corrected = LEARNING_RATE * tf.sqrt(1.0 - tf.pow(BETA_2, local_step))
        return corrected / (1.0 - tf.pow(BETA_1, local_step))

    def max_norm_constraint(kernel: Any, max_norm: Any, has_max_norm: Any) -> Any:
        norms = tf.sqrt(tf.reduce_sum(tf.square(kernel), axis=1, keepdims=True))
        desired = tf.clip_by_value(norms, 0.0, max_norm)
        return tf.where(has_max_norm, kernel * (desired / (MAX_NORM_EPSILON + norms)), kernel)

    @tf.function(jit_compile=True, reduce_retracing=False)
    def program(
        state: tuple[Any, ...], t0: Any, epochs: Any,
        input_rate: Any, input_scale: Any, hidden_rate: Any, hidden_scale: Any,
        max_norm: Any, has_max_norm: Any, keys: Any,
        train_x: Any, train_y: Any, test_x: Any, test_y: Any,
    ) -> tuple[Any, Any, Any]:
        hidden_counters = dropout_counters(n_train, hidden, 0)
        input_counters = dropout_counters(n_train, features, INPUT_COUNTER_OFFSET)

        def dropout_keep(t: Any) -> tuple[Any, Any]:
            """Step t's masks as multipliers: 1/(1 - rate) where kept, 0 where dropped."""
            step_key = dropout_step_key(keys, t)
            input_keep = tf.where(
                dropout_uniform(input_counters, step_key) >= input_rate, input_scale, 0.0
            )
            hidden_keep = tf.where(
                dropout_uniform(hidden_counters, step_key) >= hidden_rate, hidden_scale, 0.0
            )
            return input_keep, hidden_keep

        def step(
            i: Any, weights: tuple[Any, ...], ms: tuple[Any, ...], vs: tuple[Any, ...],
            curves: Any,
        ) -> tuple[Any, ...]:
            t = t0 + i  # the global step: Adam's bias correction and the masks depend on it
            w1, b1, w2, b2 = weights
            input_keep, hidden_keep = dropout_keep(t)
            # forward, dropout on
            x = train_x[None] * input_keep  # (K, N, F)
            pre = tf.einsum("knf,kfh->knh", x, w1) + b1[:, None, :]
            dropped = tf.nn.relu(pre) * hidden_keep
            logits = head(dropped, w2, b2)
            train_loss, train_accuracy = loss_and_accuracy(logits, train_y)
            # backward: d(mean BCE)/d logits = (sigmoid(z) - y) / N
            d_logits = (tf.sigmoid(logits) - train_y) / float(n_train)
            # relu and dropout gradients in one select: dropped > 0 exactly where the unit was
            # active (pre > 0) and kept, so the mask is not drawn a second time
            d_pre = tf.where(
                dropped > 0, d_logits[:, :, None] * w2[:, None, :] * hidden_scale, 0.0
            )
            gradients = (
                tf.einsum("knf,knh->kfh", x, d_pre),
                tf.reduce_sum(d_pre, axis=1),
                tf.einsum("knh,kn->kh", dropped, d_logits),
                tf.reduce_sum(d_logits, axis=1, keepdims=True),
            )
            # Keras' optimizer step: Adam on every weight, then the kernel constraint
            alpha = adam_alpha(t)
            updated = [adam(*args, alpha) for args in zip(weights, gradients, ms, vs, strict=True)]
            w1, b1, w2, b2 = (u[0] for u in updated)
            w1 = max_norm_constraint(w1, max_norm, has_max_norm)
            # validation after the update, dropout off
            test_loss, test_accuracy = evaluate(test_x, test_y, w1, b1, w2, b2)
            curves = curves.write(
                i, tf.stack([train_loss, train_accuracy, test_loss, test_accuracy])
            )
            ms = tuple(u[1] for u in updated)
            vs = tuple(u[2] for u in updated)
            return i + 1, (w1, b1, w2, b2), ms, vs, curves

        # a static-size buffer (XLA needs static shapes); entries past ``epochs`` stay zero
        curves = tf.TensorArray(tf.float32, size=CHUNK_EPOCHS, element_shape=(4, members))
        _, weights, ms, vs, curves = tf.while_loop(
            lambda i, *_: i < epochs,
            step,
            (tf.constant(0), tuple(state[0:4]), tuple(state[4:8]), tuple(state[8:12]), curves),
            maximum_iterations=CHUNK_EPOCHS,
        )
        final_train = evaluate(train_x, train_y, *weights)
        final_test = evaluate(test_x, test_y, *weights)
        stacked = tf.transpose(curves.stack(), (1, 0, 2))  # (4, CHUNK_EPOCHS, K)
        return (*weights, *ms, *vs), stacked, tf.stack([*final_train, *final_test])

    return program
