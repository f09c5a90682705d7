"""K stacked members' forward pass, layer by layer, and their dropout masks.

Activations carry a leading member axis: (K, rows, ...one row's shape). Each member has its own
weights (a leading K on every weight), so every layer is a batched computation:

- Dense: one batched matmul over the last axis (``einsum kri,kio->kro``).
- Conv2D: the image patches of every output pixel (gathered in the kernel's (row, column,
  channel) order) times the member's kernel reshaped to (kh kw C, F): a batched matmul. XLA's
  CPU backend runs this far faster than ``feature_group_count`` grouped convolutions, whose
  backward pass took seconds per step here (``benchmarks/bench_stacked_layers.py``). ``same``
  padding pads as TensorFlow does (the odd pixel after).
- Conv1D: the same gathered patches on a height-1 image, each output step's taps ``dilation``
  steps apart; ``same`` pads as TensorFlow does for the dilated span ``dilation (k - 1) + 1``,
  ``causal`` pads ``dilation (k - 1)`` zeros before the first step only (Keras' ``Conv1D.call``)
  and then runs ``valid``.
- MaxPooling1D/2D, AveragePooling1D/2D: Keras' own ops (``tf.nn.max_pool``, ``tf.nn.avg_pool``)
  with the members folded into the batch; a ``same`` average divides by the window's real,
  unpadded elements, as TensorFlow's does.
- GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D: ``reduce_mean``/``reduce_max`` over the
  steps or pixels (Keras' ``ops.mean``/``ops.max``), ``keepdims`` either way.
- LSTM, GRU, SimpleRNN, Bidirectional and Embedding: :mod:`._chain_recurrent`.

Masks (Keras' inverted dropout: keep where uniform >= rate, scale 1 / (1 - rate)) come from
:mod:`._population_rng`'s hash, keyed on member, step, layer and kind: ``Dropout`` has one value
per element, ``SpatialDropout1D`` and ``SpatialDropout2D`` one per (row, channel), held over
the steps or pixels, a recurrent layer's masks one per (row, gate, feature) held for every time
step of the sequence, as Keras' ``DropoutRNNCell`` caches them (a SimpleRNN has one gate). A
``Dropout`` with a ``noise_shape`` has one value per element of its noise shape, broadcast over
the rest. GaussianDropout, GaussianNoise and AlphaDropout (kinds 4-6): :mod:`._chain_noise`.
Before a layer the kinds apply in :data:`._chain_layers.KINDS`' order; a member has at most one
of the new kinds there, and no other (:mod:`._chain_members`), so only one of them changes its
values.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._chain_layers import (
    BidirectionalSpec,
    Conv1DSpec,
    ConvSpec,
    DenseSpec,
    EmbeddingSpec,
    FlattenSpec,
    GlobalPoolSpec,
    Pool1DSpec,
    PoolSpec,
    RecurrentSpec,
    Spec,
    gates,
)
from ._chain_math import activate
from ._chain_noise import NOISE_KINDS, NoiseShape, apply, mask_rows, noise, streams
from ._chain_recurrent import bidirectional, embedding, recurrent
from ._population_rng import dropout_counters, dropout_uniform

KIND_OFFSETS = (0, 0x4000000, 0x8000000, 0xC000000, 0x2000000, 0x6000000, 0xA000000)
"""Counter offsets of each dropout kind within a layer's slot (plain, spatial, input,
recurrent, gaussian, noise, alpha: :data:`._chain_layers.KINDS`), 2^25 apart; layer i's slot
starts at i x :data:`SLOT_OFFSET`."""
SLOT_OFFSET = 0x10000000

Keeps = tuple[tuple[Any, ...], ...]
"""Per computing layer, per kind: a multiplier tensor or None."""


def mask_shape(spec: Spec, kind: int, shape: tuple[int, ...],
               noise_shape: NoiseShape | None = None) -> tuple[int, ...]:
    """One row's mask shape for dropout kind ``kind`` before/inside a layer taking ``shape``
    (a ``noise_shape``'s own dims if it has one)."""
    if noise_shape is not None:  # resolved: only its batch entry may be None
        dims = tuple(n for n in noise_shape[1:] if n is not None)
        assert len(dims) == len(noise_shape) - 1
        return dims
    if kind == 0 or kind in NOISE_KINDS:
        return shape
    if kind == 1:  # one value per channel, held over the steps (1D) or pixels (2D)
        return (*[1] * (len(shape) - 1), shape[-1])
    inner = spec.layer if isinstance(spec, BidirectionalSpec) else spec
    assert isinstance(inner, RecurrentSpec)
    dims = (gates(inner), shape[-1] if kind == 2 else inner.units)
    return (2, *dims) if isinstance(spec, BidirectionalSpec) else dims  # a mask per direction


def mask_counters(spec: Spec, kind: int, layer: int, shape: tuple[int, ...], rows: int,
                  noise_shape: NoiseShape | None = None) -> Any:
    """The hashed element counters of one mask (the same every step: a program computes them
    once, outside its loops); two per element for the kinds that draw normals."""
    size = math.prod(mask_shape(spec, kind, shape, noise_shape)) * streams(kind)
    return dropout_counters(mask_rows(rows, noise_shape), size,
                            layer * SLOT_OFFSET + KIND_OFFSETS[kind])


def keep_multipliers(spec: Spec, kind: int, layer: int, shape: tuple[int, ...], rows: int,
                     step_key: Any, rate: Any, scale: Any, per_gate: Any,
                     counters: Any = None, noise_shape: NoiseShape | None = None) -> Any:
    """(K, rows, *mask) multipliers: ``scale`` where a member keeps a value, else 0.
    ``rate``/``scale`` are (K, 1, 1); ``per_gate`` (K, 1, 1, 1) says which members draw one
    input mask per gate (their recurrence has recurrent dropout) rather than one for all gates;
    ``counters``: :func:`mask_counters`, computed here if not given; ``noise_shape``: a
    resolved noise shape (rows 1 where its batch entry is 1). The kinds of
    :mod:`._chain_noise` give what :func:`._chain_noise.noise` gives (``scale``: their
    :func:`._chain_noise.member_constants`)."""
    import tensorflow as tf

    dims = mask_shape(spec, kind, shape, noise_shape)
    if counters is None:
        counters = mask_counters(spec, kind, layer, shape, rows, noise_shape)
    uniform = dropout_uniform(counters, step_key)
    rows = mask_rows(rows, noise_shape)
    if kind in NOISE_KINDS:
        return noise(kind, uniform, rows, dims, rate, scale)
    keep = tf.where(uniform >= rate, scale, 0.0)
    keep = tf.reshape(keep, (-1, rows, *dims))
    if kind == 2:  # gate 0's mask for every gate (of each direction)
        per_gate = tf.reshape(per_gate, (-1, *[1] * (len(dims) + 1)))
        keep = tf.where(per_gate, keep, keep[..., :1, :])
    return keep


def forward(specs: Sequence[Spec], counts: Sequence[int], weights: Sequence[Any], x: Any,
            keeps: Keeps | None, first: int = 0) -> tuple[Any, Any]:
    """(logits, outputs) of the last layer for (K, rows, ...) inputs; ``counts`` is each
    layer's number of weights; ``keeps`` None runs with dropout off; ``first`` > 0 starts at
    that layer, ``x`` being the output of the one before."""
    h = x
    z = x
    position = sum(counts[:first])
    for i in range(first, len(specs)):
        spec = specs[i]
        keep = keeps[i] if keeps is not None else (None,) * 4
        for multiplier in keep[:2]:
            if multiplier is not None:
                h = h * multiplier
        for kind in NOISE_KINDS:
            if kind < len(keep) and keep[kind] is not None:
                h = apply(kind, h, keep[kind])
        own = weights[position : position + counts[i]]
        position += counts[i]
        z, h = _layer(spec, own, h, keep[2], keep[3])
    return z, h


def _layer(spec: Spec, weights: Sequence[Any], h: Any, input_keep: Any, recurrent_keep: Any
           ) -> tuple[Any, Any]:
    import tensorflow as tf

    if isinstance(spec, DenseSpec):
        shape = h.shape
        flat = tf.reshape(h, (shape[0], -1, shape[-1]))
        z = tf.einsum("kri,kio->kro", flat, weights[0])
        if spec.use_bias:
            z = z + weights[1][:, None, :]
        z = tf.reshape(z, (*shape[:-1], spec.units))
        return z, activate(spec.activation, z)
    if isinstance(spec, ConvSpec):
        z = _convolution(spec, h, weights)
        return z, activate(spec.activation, z)
    if isinstance(spec, Conv1DSpec):
        z = _convolution_1d(spec, h, weights)
        return z, activate(spec.activation, z)
    if isinstance(spec, PoolSpec | Pool1DSpec):
        pool = tf.nn.max_pool if spec.mode == "max" else tf.nn.avg_pool
        k, rows, *one = h.shape
        pooled = pool(tf.reshape(h, (k * rows, *one)), spec.pool_size, spec.strides,
                      spec.padding.upper())
        out = tf.reshape(pooled, (k, rows, *pooled.shape[1:]))
        return out, out
    if isinstance(spec, GlobalPoolSpec):
        reduce = tf.reduce_max if spec.mode == "max" else tf.reduce_mean
        out = reduce(h, axis=list(range(2, 2 + spec.rank)), keepdims=spec.keepdims)
        return out, out
    if isinstance(spec, FlattenSpec):
        out = tf.reshape(h, (h.shape[0], h.shape[1], -1))
        return out, out
    if isinstance(spec, EmbeddingSpec):
        out = embedding(weights, h)
    elif isinstance(spec, BidirectionalSpec):
        out = bidirectional(spec, weights, h, input_keep, recurrent_keep)
    else:
        assert isinstance(spec, RecurrentSpec)
        out = recurrent(spec, weights, h, input_keep, recurrent_keep)
    return out, out


def _convolution(spec: ConvSpec, h: Any, weights: Sequence[Any]) -> Any:
    import tensorflow as tf

    kh, kw = spec.kernel_size
    if spec.padding == "same":
        h = tf.pad(h, [[0, 0], [0, 0], _same_pad(h.shape[2], kh, spec.strides[0]),
                       _same_pad(h.shape[3], kw, spec.strides[1]), [0, 0]])
    k, rows, height, width, channels = h.shape
    out_h = (height - kh) // spec.strides[0] + 1
    out_w = (width - kw) // spec.strides[1] + 1
    patches = _patches(h, _patch_tables(height, width, spec.kernel_size, spec.strides))
    patches = tf.reshape(patches, (k, rows * out_h * out_w, kh * kw * channels))
    kernel = tf.reshape(weights[0], (k, kh * kw * channels, spec.filters))
    z = tf.reshape(tf.linalg.matmul(patches, kernel), (k, rows, out_h, out_w, spec.filters))
    if spec.use_bias:
        z = z + weights[1][:, None, None, None, :]
    return z


def _convolution_1d(spec: Conv1DSpec, h: Any, weights: Sequence[Any]) -> Any:
    """Keras' ``Conv1D``: the steps as a height-1 image, the taps ``dilation`` apart."""
    import tensorflow as tf

    size, dilation = spec.kernel_size, spec.dilation
    span = dilation * (size - 1) + 1
    if spec.padding == "same":
        h = tf.pad(h, [[0, 0], [0, 0], _same_pad(h.shape[2], span, spec.strides), [0, 0]])
    elif spec.padding == "causal":  # before the first step only, then valid
        h = tf.pad(h, [[0, 0], [0, 0], [span - 1, 0], [0, 0]])
    k, rows, steps, channels = h.shape
    out = (steps - span) // spec.strides + 1
    tables = _patch_tables(1, steps, (1, size), (1, spec.strides), (1, dilation))
    patches = _patches(tf.reshape(h, (k, rows, 1, steps, channels)), tables)
    patches = tf.reshape(patches, (k, rows * out, size * channels))
    kernel = tf.reshape(weights[0], (k, size * channels, spec.filters))
    z = tf.reshape(tf.linalg.matmul(patches, kernel), (k, rows, out, spec.filters))
    if spec.use_bias:
        z = z + weights[1][:, None, None, :]
    return z


@functools.cache
def _patch_tables(height: int, width: int, window: tuple[int, int], strides: tuple[int, int],
                  dilation: tuple[int, int] = (1, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Where each patch value comes from (flat pixel indices, output pixel-major then the
    kernel's row and column, taps ``dilation`` apart), and for each input pixel the patch
    values it feeds (padded with the index one past the last, which reads a zero)."""
    (kh, kw), (sh, sw), (dh, dw) = window, strides, dilation
    out_h = (height - dh * (kh - 1) - 1) // sh + 1
    out_w = (width - dw * (kw - 1) - 1) // sw + 1
    source = np.array([(i * sh + a * dh) * width + (j * sw + b * dw)
                       for i in range(out_h) for j in range(out_w)
                       for a in range(kh) for b in range(kw)], np.int32)
    feeds: list[list[int]] = [[] for _ in range(height * width)]
    for position, pixel in enumerate(source):
        feeds[pixel].append(position)
    most = max(1, *(len(f) for f in feeds))
    table = np.array([f + [len(source)] * (most - len(f)) for f in feeds], np.int32)
    return source, table


def _patches(h: Any, tables: tuple[np.ndarray, np.ndarray]) -> Any:
    """(K, rows, out pixels x window, C) patch values: a gather, whose gradient is a gather
    too (each input pixel sums the patch values it fed). XLA's CPU backend runs these gathers
    several times faster than the concatenated shifted slices or the scatter-add that
    ``tf.gather``'s own gradient is (``benchmarks/bench_stacked_layers.py``)."""
    import tensorflow as tf

    source, table = tables
    k, rows, height, width, channels = h.shape

    @tf.custom_gradient
    def gathered(pixels: Any) -> Any:
        def gradient(upstream: Any) -> Any:
            padded = tf.concat([upstream, tf.zeros((k, rows, 1, channels))], axis=2)
            fed = tf.gather(padded, table.reshape(-1), axis=2)
            summed = tf.reduce_sum(tf.reshape(fed, (k, rows, *table.shape, channels)), axis=3)
            return tf.reshape(summed, (k, rows, height, width, channels))

        flat = tf.reshape(pixels, (k, rows, height * width, channels))
        return tf.gather(flat, source, axis=2), gradient

    return gathered(h)


def _same_pad(size: int, window: int, stride: int) -> list[int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return [total // 2, total - total // 2]
