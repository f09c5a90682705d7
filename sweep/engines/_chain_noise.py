"""The dropout family beyond Dropout, for K stacked members: GaussianDropout, GaussianNoise and
AlphaDropout, and the noise shapes of Dropout and AlphaDropout (``docs/keras-semantics.md``;
keras-team/keras ``layers/regularization/{dropout,gaussian_dropout,gaussian_noise,
alpha_dropout}.py``, ``backend/tensorflow/random.py``).

All are off at evaluation and, in training, per member (a member's value is its layer's rate,
or GaussianNoise's stddev; 0 where the member has no such layer, which leaves its input exactly
as it is):

- GaussianDropout: ``x * (z s + 1)``, ``s = float32(sqrt(rate / (1 - rate)))`` (in double first),
  ``z`` one standard normal per element and step;
- GaussianNoise: ``x + z stddev``;
- AlphaDropout: ``keep = uniform >= rate`` drawn in the noise shape, then Keras' own order,
  ``a (x keep + alpha_p (1 - keep)) + b`` with ``alpha_p = -alpha scale`` (SELU's constants),
  ``a = ((1 - rate) (1 + rate alpha_p^2))^-0.5``, ``b = -a alpha_p rate`` (in double, then float32).

The normals come from the engine's counter hash (:mod:`._population_rng`), not TF's generators:
``z = sqrt(-2 ln(1 - u1)) cos(2 pi u2)`` (Box-Muller, its cosine half) from two uniforms per
element, drawn at two disjoint counter ranges of the kind's slot; ``1 - u1`` lies in
``(0, 1]``, so ``z`` is finite (at most 5.8 in size) and a value of 0 multiplies it away exactly.

A noise shape (Keras' ``noise_shape``, its ``None`` entries filled from the input's shape) is one
per row, ``(rows or 1, *dims)`` with each dim the input's or 1: the mask is drawn in that shape
and broadcast over the rest (``(None, steps, 1)`` after an Embedding drops whole words, ``(None,
1, features)`` whole feature columns for every step, a first entry of 1 one mask for the batch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

GAUSSIAN, NOISE, ALPHA = 4, 5, 6
"""The kinds' indices in :data:`._chain_layers.KINDS`."""
NOISE_KINDS = (GAUSSIAN, NOISE, ALPHA)
NORMAL_KINDS = (GAUSSIAN, NOISE)
"""The kinds that draw two uniforms per element (a normal)."""
SELU_ALPHA = 1.6732632423543772848170429916717  # alpha_dropout.py
SELU_SCALE = 1.0507009873554804934193349852946
ALPHA_P = -SELU_ALPHA * SELU_SCALE

NoiseShape = tuple[int | None, ...]
"""A resolved noise shape: ``(None or 1, *one row's mask dims)``."""


def streams(kind: int) -> int:
    """How many uniforms the kind draws per mask element."""
    return 2 if kind in NORMAL_KINDS else 1


def member_constants(kind: int, values: np.ndarray) -> np.ndarray:
    """(K, 1, n) float32 per-member constants of a noise kind from each member's value (rate or
    stddev): GaussianDropout's stddev, GaussianNoise's stddev, AlphaDropout's (a, b)."""
    values = np.asarray(values, dtype=np.float64)
    members = len(values)
    if kind == GAUSSIAN:
        return np.sqrt(values / (1.0 - values)).astype(np.float32).reshape(members, 1, 1)
    if kind == NOISE:
        return values.astype(np.float32).reshape(members, 1, 1)
    assert kind == ALPHA
    a = ((1.0 - values) * (1.0 + values * ALPHA_P**2)) ** -0.5
    b = -a * ALPHA_P * values
    return np.stack([a, b], axis=-1).astype(np.float32).reshape(members, 1, 2)


def mask_rows(rows: int, noise_shape: NoiseShape | None) -> int:
    """The rows one mask is drawn for: 1 where the noise shape's batch entry is 1."""
    return 1 if noise_shape is not None and noise_shape[0] == 1 else rows


def normals(uniform: Any, rows: int, dims: tuple[int, ...]) -> Any:
    """(K, rows, *dims) standard normals from (K, rows, 2 x size) uniforms (Box-Muller)."""
    import tensorflow as tf

    pair = tf.reshape(uniform, (-1, rows, 2, math.prod(dims)))
    radius = tf.sqrt(-2.0 * tf.math.log(1.0 - pair[:, :, 0]))
    z = radius * tf.cos(np.float32(2 * math.pi) * pair[:, :, 1])
    return tf.reshape(z, (-1, rows, *dims))


def noise(kind: int, uniform: Any, rows: int, dims: tuple[int, ...], rate: Any,
          constants: Any) -> Any:
    """What a noise kind applies (:func:`apply`): GaussianDropout's multiplier, GaussianNoise's
    addend, AlphaDropout's (keep, a, b). ``rate`` (K, 1, 1): each member's rate;
    ``constants``: :func:`member_constants`."""
    import tensorflow as tf

    column = (-1, *[1] * (len(dims) + 1))
    if kind == ALPHA:
        keep = tf.reshape(tf.where(uniform >= rate, 1.0, 0.0), (-1, rows, *dims))
        return (keep, tf.reshape(constants[..., 0], column),
                tf.reshape(constants[..., 1], column))
    z = normals(uniform, rows, dims) * tf.reshape(constants, column)
    return z + 1.0 if kind == GAUSSIAN else z


def apply(kind: int, h: Any, drawn: Any) -> Any:
    """``h`` (K, rows, ...) through a noise kind's draw (:func:`noise`)."""
    if kind == GAUSSIAN:
        return h * drawn
    if kind == NOISE:
        return h + drawn
    keep, a, b = drawn
    return a * (h * keep + np.float32(ALPHA_P) * (1.0 - keep)) + b
