"""Dense chains with hand-derived gradients: the chain program's specialisation for MLPs.

A chain whose every computing layer is ``Dense`` on flat rows, with relu or linear hidden
activations and a cross-entropy computed from the output's logits (a sigmoid output under binary
cross-entropy, a softmax under categorical or sparse categorical cross-entropy), is trained
with gradients written out here instead of taken by a ``GradientTape``. They are the same
gradients (each member's own, of its mean loss), but written as a few element-wise selects and
batched matmuls, XLA fuses the forward pass, the backward pass and the dropout masks into a few
loops over the (K, rows, units) activations. The tutorial's MLP (2-500-1, one full batch) is
such a chain, whatever its task is called; which chains qualify is decided by :func:`applies`
on their structure alone, and only where every mask is a plain ``Dropout``'s, element by
element (:func:`plain_masks`: no GaussianDropout, GaussianNoise or AlphaDropout, whose noise is
not a multiplier that is 0 or the member's scale, and no noise shape).

Per layer i, with ``a_i`` its (dropped) input, ``z_i = a_i W_i + b_i`` and the next input
``a_{i+1} = act(z_i) * keep_{i+1}``:

- the output's ``dL/dz`` is ``(sigmoid(z) - y) / (rows x units)`` for binary cross-entropy
  (Keras averages over units, then rows) and ``(softmax(z) - onehot(y)) / rows`` for the
  categorical ones;
- ``dL/dW_i = a_i^T dL/dz_i``, ``dL/db_i = sum over rows of dL/dz_i``;
- ``dL/da_i = dL/dz_i W_i^T``, and through the mask and the activation: with relu,
  ``dL/dz_{i-1} = where(a_i > 0, dL/da_i x keep_i, 0)``, one select, since ``a_i > 0`` exactly
  where the unit was active and kept (the mask is not drawn a second time); with a linear
  activation, ``dL/da_i x keep_i``.

The shared rows of an evaluation are not copied per member: the first layer multiplies them by
every member's kernel, written out over the inputs when there are few (the circles task has
two), so XLA fuses it with the bias and the activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._chain_layers import DenseSpec, Spec
from ._chain_math import activate

HIDDEN_ACTIVATIONS = ("relu", "linear")
WRITTEN_OUT_INPUTS = 8
"""At most this many inputs, the first layer of an evaluation is written out input by input."""
MEMBERS = 32
"""Members per population of a dense chain with one batch per epoch: on the tutorial's MLP
(2-500-1, 30 rows) 32 was the cheapest size per member-epoch measured here (about 22 us of CPU,
against 25 at 16, 25-31 at 64 and 75 at 128); bigger is not faster."""


def applies(specs: Sequence[Spec], loss: str, input_shape: tuple[int, ...]) -> bool:
    """Whether a chain of ``specs`` under ``loss`` takes the hand-derived gradients."""
    if len(input_shape) != 1 or not specs:
        return False
    if not all(isinstance(spec, DenseSpec) for spec in specs):
        return False
    if any(spec.activation not in HIDDEN_ACTIVATIONS for spec in specs[:-1]):  # type: ignore[union-attr]
        return False
    last = specs[-1]
    assert isinstance(last, DenseSpec)
    if loss == "binary_crossentropy":
        return last.activation == "sigmoid"
    return loss in ("categorical_crossentropy", "sparse_categorical_crossentropy") and (
        last.activation == "softmax")


def plain_masks(dropout: Sequence[Sequence[bool]],
                noise_shapes: Sequence[Sequence[object]] = ()) -> bool:
    """Whether a program's masks are all plain dropout (kind 0, one value per element), the
    only ones :func:`gradients` takes: ``dropout`` per layer, per kind (``Shape.dropout``)."""
    if any(any(flags[1:]) for flags in dropout):
        return False
    return not any(n is not None for layer in noise_shapes for n in layer)


def members_per_population(specs: Sequence[Spec], loss: str, input_shape: tuple[int, ...],
                           rows: int, batch_size: int, general: int) -> int:
    """:data:`MEMBERS` for a dense chain trained on one batch per epoch, else ``general``."""
    if applies(specs, loss, input_shape) and batch_size >= rows:
        return MEMBERS
    return general


def _layers(specs: Sequence[Spec], counts: Sequence[int], weights: Sequence[Any]
            ) -> list[tuple[DenseSpec, Any, Any]]:
    """(spec, kernel, bias or None) per layer."""
    out, position = [], 0
    for spec, count in zip(specs, counts, strict=True):
        assert isinstance(spec, DenseSpec)
        own = weights[position : position + count]
        out.append((spec, own[0], own[1] if spec.use_bias else None))
        position += count
    return out


def _affine(a: Any, kernel: Any, bias: Any) -> Any:
    import tensorflow as tf

    z = tf.einsum("kri,kio->kro", a, kernel)
    return z if bias is None else z + bias[:, None, :]


def forward_shared(specs: Sequence[Spec], counts: Sequence[int], weights: Sequence[Any],
                   x: Any) -> tuple[Any, Any]:
    """(logits, outputs) of every member on the shared rows ``x`` (rows, F), dropout off."""
    import tensorflow as tf

    layers = _layers(specs, counts, weights)
    spec, kernel, bias = layers[0]
    features = int(x.shape[-1])
    if features <= WRITTEN_OUT_INPUTS:
        z = x[None, :, 0:1] * kernel[:, 0:1, :]
        for f in range(1, features):
            z = z + x[None, :, f : f + 1] * kernel[:, f : f + 1, :]
    else:
        z = tf.einsum("ri,kio->kro", x, kernel)
    if bias is not None:
        z = z + bias[:, None, :]
    h = activate(spec.activation, z)
    for spec, kernel, bias in layers[1:]:
        z = _affine(h, kernel, bias)
        h = activate(spec.activation, z)
    return z, h


def gradients(specs: Sequence[Spec], counts: Sequence[int], loss: str, weights: Sequence[Any],
              x: Any, y: Any, keeps: Sequence[Any | None],
              scales: Sequence[Any] | None = None) -> tuple[Any, Any, tuple[Any, ...]]:
    """(logits, outputs, gradients) of a training step: every member's forward pass, dropout
    on (``keeps[i]``: the multiplier on layer i's input, or None), and the gradients of its
    mean loss over the ``x`` (K, rows, F) rows, in the flat weights' order. ``scales[i]``:
    each member's ``1 / (1 - rate)`` at layer i, (K, 1, 1), which a relu's select multiplies
    by instead of reading the whole multiplier again (the same values where it keeps)."""
    import tensorflow as tf

    layers = _layers(specs, counts, weights)
    inputs = []
    h = x
    z = x
    for (spec, kernel, bias), keep in zip(layers, keeps, strict=True):
        a = h if keep is None else h * keep
        inputs.append(a)
        z = _affine(a, kernel, bias)
        h = activate(spec.activation, z)
    rows = float(x.shape[1])
    if loss == "binary_crossentropy":
        d_z = (h - y) / (rows * float(h.shape[-1]))
    elif loss == "categorical_crossentropy":
        d_z = (h - y) / rows
    else:
        d_z = (h - tf.one_hot(tf.cast(y, tf.int32), int(h.shape[-1]))) / rows
    found: list[tuple[Any, ...]] = []
    for i in range(len(layers) - 1, -1, -1):
        spec, kernel, bias = layers[i]
        a = inputs[i]
        own: tuple[Any, ...] = (tf.einsum("kri,kro->kio", a, d_z),)
        if bias is not None:
            own += (tf.reduce_sum(d_z, axis=1),)
        found.append(own)
        if i == 0:
            break
        d_a = tf.einsum("kro,kio->kri", d_z, kernel)
        keep = keeps[i]
        relu = layers[i - 1][0].activation == "relu"
        if keep is not None:  # where it keeps, the multiplier is the member's scale
            d_a = d_a * (scales[i] if relu and scales is not None else keep)
        d_z = tf.where(a > 0, d_a, 0.0) if relu else d_a
    flat = tuple(g for own in reversed(found) for g in own)
    return z, h, flat
