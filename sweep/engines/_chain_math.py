"""Keras' arithmetic for a stacked chain: activations, losses, metrics and optimizers.

Every function works on K members at once (a leading member axis) and follows Keras 3 on the
TensorFlow backend, read from its sources (``docs/keras-semantics.md``):

- Losses reduce over the last axis, then ``sum_over_batch_size`` (a mean over the batch's rows).
  A cross-entropy after a sigmoid or softmax output is computed from the layer's logits, as
  Keras' TensorFlow backend does (the ``_keras_logits`` it attaches to those outputs).
- ``accuracy`` resolves as ``compile`` resolves it: binary accuracy (``output > 0.5``) for one
  output, sparse categorical for integer labels, categorical for one-hot rows.
- Optimizers, all constants rounded to float32 as Keras does, ``t`` the 0-based step:
  Adam ``m += (g - m)(1 - b1)``, ``v += (g^2 - v)(1 - b2)``, ``w -= m a / (sqrt(v) + eps)``
  with ``a = lr sqrt(1 - b2^(t+1)) / (1 - b1^(t+1))``; AdamW first ``w -= w wd lr`` on every
  variable; SGD ``m = momentum m - lr g``, ``w += m`` (nesterov ``w += momentum m - lr g``), or
  ``w -= lr g``; RMSprop ``v = rho v + (1 - rho) g^2``, ``inc = lr g / sqrt(v + eps)``, then
  ``w -= inc`` or, with momentum, ``m = momentum m + inc``, ``w -= m``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import NotStackableError

CROSS_ENTROPIES = ("binary_crossentropy", "categorical_crossentropy",
                   "sparse_categorical_crossentropy")
METRICS = ("loss", "accuracy", "acc", "binary_accuracy", "categorical_accuracy",
           "sparse_categorical_accuracy", "mae", "mean_absolute_error", "mse",
           "mean_squared_error")
_DEFAULTS: dict[str, dict[str, float]] = {
    "adam": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "adamw": {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7,
              "weight_decay": 0.004},
    "sgd": {"learning_rate": 0.01, "momentum": 0.0},
    "rmsprop": {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7},
}


def activate(name: str, x: Any) -> Any:
    import tensorflow as tf

    if name == "relu":
        return tf.nn.relu(x)
    if name == "tanh":
        return tf.tanh(x)
    if name == "sigmoid":
        return tf.sigmoid(x)
    if name == "softmax":
        return tf.nn.softmax(x, axis=-1)
    if name == "gelu":
        return tf.nn.gelu(x, approximate=False)
    if name == "elu":
        return tf.nn.elu(x)
    return x  # linear


def check_loss(loss: str, from_logits: bool, activation: str) -> None:
    """A cross-entropy needs logits: a sigmoid/softmax output, or a linear one from_logits."""
    if loss not in CROSS_ENTROPIES:
        return
    fine = (activation in ("sigmoid", "softmax") and not from_logits) or (
        activation == "linear" and from_logits)
    if not fine:
        raise NotStackableError(
            f"the population engine cannot stack loss {loss!r} after a {activation!r} output "
            f"with from_logits={from_logits}: it computes cross-entropies from logits (a "
            "sigmoid or softmax output, or a linear one with from_logits=True)"
        )


def check_metric(metric: str, loss: str, outputs: int) -> None:
    if metric not in METRICS:
        raise NotStackableError(
            f"the population engine does not compute metric {metric!r} (it computes "
            f"{', '.join(METRICS)})"
        )
    if metric in ("accuracy", "acc") and loss not in CROSS_ENTROPIES:
        raise NotStackableError(
            f"the population engine computes accuracy for a cross-entropy loss, not {loss!r}",
            fix="use metric 'mae' or 'mse', or --engine keras")


def loss_per_row(loss: str, logits: Any, outputs: Any, y: Any) -> Any:
    """(K, rows) losses of each row: from ``logits`` for the cross-entropies (the output
    layer's pre-activation), from ``outputs`` for MSE and MAE. ``y`` is (rows, units) or, for
    sparse labels, (rows,) integers."""
    import tensorflow as tf

    if loss == "binary_crossentropy":
        labels = tf.broadcast_to(y, tf.shape(logits))
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)
    if loss == "categorical_crossentropy":
        labels = tf.broadcast_to(y, tf.shape(logits))
        return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if loss == "sparse_categorical_crossentropy":
        labels = tf.broadcast_to(y, tf.shape(logits)[:-1])
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if loss == "mean_squared_error":
        return tf.reduce_mean(tf.square(outputs - y), axis=-1)
    return tf.reduce_mean(tf.abs(outputs - y), axis=-1)  # mean_absolute_error


def metric_per_row(metric: str, loss: str, rows_loss: Any, outputs: Any, y: Any) -> Any:
    """(K, rows) values of the task's metric per row (its mean over rows is Keras')."""
    import tensorflow as tf

    if metric == "loss":
        return rows_loss
    if metric in ("mae", "mean_absolute_error"):
        return tf.reduce_mean(tf.abs(outputs - y), axis=-1)
    if metric in ("mse", "mean_squared_error"):
        return tf.reduce_mean(tf.square(outputs - y), axis=-1)
    kind = accuracy_kind(metric, loss, int(outputs.shape[-1]))
    if kind == "binary":
        predicted = tf.cast(outputs > 0.5, tf.float32)
        return tf.reduce_mean(tf.cast(tf.equal(predicted, y), tf.float32), axis=-1)
    guess = tf.argmax(outputs, axis=-1, output_type=tf.int32)
    truth = (tf.cast(y, tf.int32) if kind == "sparse"
             else tf.argmax(y, axis=-1, output_type=tf.int32))
    return tf.cast(tf.equal(guess, truth), tf.float32)


def accuracy_kind(metric: str, loss: str, outputs: int) -> str:
    if metric == "binary_accuracy" or (metric in ("accuracy", "acc") and outputs == 1):
        return "binary"
    if metric == "sparse_categorical_accuracy" or loss == "sparse_categorical_crossentropy":
        return "sparse"
    return "categorical"


@dataclass(frozen=True)
class Rule:
    """An optimizer's update rule with its float32 constants (Keras' defaults filled in)."""

    name: str
    constants: tuple[tuple[str, np.float32], ...]

    @property
    def slots(self) -> int:
        """Per-weight state tensors: Adam's m and v, SGD's or RMSprop's momentum..."""
        if self.name in ("adam", "adamw"):
            return 2
        if self.name == "sgd":
            return 1
        return 2  # rmsprop: velocity and momentum (unused when momentum is 0)

    def apply(self, t: Any, weight: Any, gradient: Any, state: tuple[Any, ...],
              squared: Any = None) -> tuple[Any, tuple[Any, ...]]:
        """The weight after step ``t`` (0-based) and its new state. ``squared`` replaces the
        gradient's square in Adam's and RMSprop's second moments: an embedding's, whose
        gradient Keras keeps sparse, one slice per occurrence of a token, and squares slice by
        slice before summing (:func:`._chain_graph.embedding_gradients`)."""
        import tensorflow as tf

        c = dict(self.constants)
        if squared is None:
            squared = tf.square(gradient)
        lr = c["learning_rate"]
        if self.name in ("adam", "adamw"):
            if self.name == "adamw":
                weight = weight - weight * c["weight_decay"] * lr
            m, v = state
            step = tf.cast(t + 1, tf.float32)
            alpha = lr * tf.sqrt(1.0 - tf.pow(c["beta_2"], step)) / (
                1.0 - tf.pow(c["beta_1"], step))
            m = m + (gradient - m) * c["one_minus_beta_1"]
            v = v + (squared - v) * c["one_minus_beta_2"]
            return weight - (m * alpha) / (tf.sqrt(v) + c["epsilon"]), (m, v)
        if self.name == "sgd":
            (m,) = state
            if c["momentum"] == 0:
                return weight - gradient * lr, (m,)
            m = m * c["momentum"] - gradient * lr
            if c["nesterov"]:
                return weight + (m * c["momentum"] - gradient * lr), (m,)
            return weight + m, (m,)
        velocity, m = state
        velocity = c["rho"] * velocity + c["one_minus_rho"] * squared
        increment = (lr * gradient) / tf.sqrt(velocity + c["epsilon"])
        if c["momentum"] > 0:
            m = c["momentum"] * m + increment
            return weight - m, (velocity, m)
        return weight - increment, (velocity, m)


def optimizer_rule(name: str, config: Mapping[str, Any]) -> Rule:
    """The rule for a Keras optimizer's class name and config (as :mod:`._chain` reads them)."""
    values = {key: default if config.get(key) is None else float(config[key])
              for key, default in _DEFAULTS[name].items()}
    constants = {key: np.float32(value) for key, value in values.items()}
    if name in ("adam", "adamw"):
        constants["one_minus_beta_1"] = np.float32(1 - values["beta_1"])
        constants["one_minus_beta_2"] = np.float32(1 - values["beta_2"])
    if name == "sgd":
        constants["nesterov"] = np.float32(bool(config.get("nesterov", False)))
    if name == "rmsprop":
        constants["one_minus_rho"] = np.float32(1 - values["rho"])
    return Rule(name, tuple(sorted(constants.items())))
