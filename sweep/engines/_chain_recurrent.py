"""K stacked members' recurrent layers (LSTM, GRU, SimpleRNN) and embeddings, with Keras 3's
semantics (``docs/keras-semantics.md``; keras-team/keras ``layers/rnn/lstm.py``, ``gru.py``,
``simple_rnn.py``, ``dropout_rnn_cell.py``, ``bidirectional.py``, ``layers/core/embedding.py``).

Activations are (K, rows, steps, features). The inputs go through the kernel for every step at
once, then one step per time step, from a zero state (unrolled up to :data:`UNROLLED_STEPS`
steps, a loop beyond; Keras' default GRU cell loops with a backward pass of its own,
:mod:`._chain_gru_loop`):

- LSTM: ``z = x_t W + h U + b``, gates (i, f, c, o), ``c = f c + i act(c~)``, ``h = o act(c)``;
- GRU: gates (z, r, h); ``reset_after=True`` (Keras' default, bias (2, 3 units): input and
  recurrent) resets after the recurrent matmul, ``hh = act(x_h + r (h U_h + b_h))``; ``False``
  (bias (3 units,)) before it, ``hh = act(x_h + (r h) U_h)``; then ``h = z h + (1 - z) hh``;
- SimpleRNN: one gate, ``h = act((x_t m) W + b + (h m_rec) U)``; the output is the state.

Dropout inside a recurrence is one mask per sequence, held for every time step (Keras'
``DropoutRNNCell`` caches it for the batch). With ``recurrent_dropout`` > 0 Keras runs
implementation 1, which draws one input mask and one recurrent mask per gate: the masks here
are (K, rows, gates, features), and a member without recurrent dropout uses gate 0's mask for
every gate (:func:`._chain_forward.keep_multipliers`). A SimpleRNN cell draws one input mask
(rows, features) and one recurrent mask (rows, units), as a gate axis of one here.

A Bidirectional layer runs its forward layer on the steps in order and its backward layer (the
same config, its own weights and dropout masks) on them reversed, flips the backward sequence
back (``return_sequences``), and merges the two: concat, sum, mul or ave.

An Embedding is a gather per member of its own table, (K, input_dim, output_dim), at the token
ids (the inputs, cast to int32 as Keras casts them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._chain_gru_loop import gru_loop, handles
from ._chain_layers import BidirectionalSpec, GRUSpec, LSTMSpec, RecurrentSpec, SimpleRNNSpec
from ._chain_math import activate


def embedding(weights: Sequence[Any], x: Any) -> Any:
    import tensorflow as tf

    return tf.gather(weights[0], tf.cast(x, tf.int32), batch_dims=1)


def _projected(x: Any, kernel: Any, gates: int, units: int, input_keep: Any) -> Any:
    """(K, rows, steps, gates x units): every step's inputs through the kernel, each gate's
    inputs masked apart when ``input_keep`` (K, rows, gates, features) is given."""
    import tensorflow as tf

    k, rows, steps, features = x.shape
    if input_keep is None:
        return tf.einsum("krtf,kfg->krtg", x, kernel)
    gated = x[:, :, :, None, :] * input_keep[:, :, None]
    return tf.reshape(
        tf.einsum("krtgf,kfgu->krtgu", gated, tf.reshape(kernel, (k, features, gates, units))),
        (k, rows, steps, gates * units))


def _carried(h: Any, recurrent: Any, gates: int, recurrent_keep: Any) -> Any:
    """(K, rows, gates x units): the state through the recurrent kernel (its first ``gates``
    gates), each gate's state masked apart when ``recurrent_keep`` is given."""
    import tensorflow as tf

    if recurrent_keep is None:
        return tf.einsum("kru,kug->krg", h, recurrent)
    k, rows, units = h.shape
    masked = h[:, :, None, :] * recurrent_keep[:, :, :gates]
    return tf.reshape(tf.einsum("krga,kagb->krgb", masked,
                                tf.reshape(recurrent, (k, units, gates, units))),
                      (k, rows, gates * units))


UNROLLED_STEPS = 16
"""Sequences up to this many steps are unrolled in the program; longer ones loop over their
steps (``tf.scan``), so compiling does not grow with the length."""


def _over_steps(step: Any, projected: Any, state: tuple[Any, ...],
                return_sequences: bool) -> Any:
    """``step(state, inputs_t) -> state`` (the state's first element is the output) over the
    steps of ``projected`` (K, rows, steps, ...): the last output, or every step's."""
    import tensorflow as tf

    steps = projected.shape[2]
    if steps <= UNROLLED_STEPS:
        outputs = []
        for t in range(steps):
            state = step(state, projected[:, :, t])
            outputs.append(state[0])
        return tf.stack(outputs, axis=2) if return_sequences else outputs[-1]
    states = tf.scan(lambda carried, x_t: step(carried, x_t),
                     tf.transpose(projected, (2, 0, 1, 3)), initializer=state)
    if return_sequences:
        return tf.transpose(states[0], (1, 2, 0, 3))
    return states[0][-1]


def lstm(spec: LSTMSpec, weights: Sequence[Any], x: Any, input_keep: Any,
         recurrent_keep: Any) -> Any:
    import tensorflow as tf

    kernel, recurrent = weights[0], weights[1]
    k, rows, _, _ = x.shape
    projected = _projected(x, kernel, 4, spec.units, input_keep)
    if spec.use_bias:
        projected = projected + weights[2][:, None, None, :]

    def step(state: tuple[Any, ...], x_t: Any) -> tuple[Any, ...]:
        h, c = state
        i, f, candidate, o = tf.split(x_t + _carried(h, recurrent, 4, recurrent_keep), 4,
                                      axis=-1)
        i = activate(spec.recurrent_activation, i)
        f = activate(spec.recurrent_activation, f)
        c = f * c + i * activate(spec.activation, candidate)
        return activate(spec.recurrent_activation, o) * activate(spec.activation, c), c

    zeros = tf.zeros((k, rows, spec.units))
    return _over_steps(step, projected, (zeros, zeros), spec.return_sequences)


def gru(spec: GRUSpec, weights: Sequence[Any], x: Any, input_keep: Any,
        recurrent_keep: Any) -> Any:
    import tensorflow as tf

    kernel, recurrent = weights[0], weights[1]
    k, rows, _, _ = x.shape
    units = spec.units
    projected = _projected(x, kernel, 3, units, input_keep)
    recurrent_bias = None
    if spec.use_bias:
        bias = weights[2]
        if spec.reset_after:  # (K, 2, 3 units): input bias, recurrent bias
            bias, recurrent_bias = bias[:, 0], bias[:, 1]
        projected = projected + bias[:, None, None, :]

    def step(state: tuple[Any, ...], x_t: Any) -> tuple[Any, ...]:
        (h,) = state
        x_z, x_r, x_h = tf.split(x_t, 3, axis=-1)
        if spec.reset_after:
            inner = _carried(h, recurrent, 3, recurrent_keep)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias[:, None, :]
            h_z, h_r, h_h = tf.split(inner, 3, axis=-1)
        else:
            h_z, h_r = tf.split(_carried(h, recurrent[:, :, : 2 * units], 2, recurrent_keep),
                                2, axis=-1)
        z = activate(spec.recurrent_activation, x_z + h_z)
        r = activate(spec.recurrent_activation, x_r + h_r)
        if spec.reset_after:
            candidate = activate(spec.activation, x_h + r * h_h)
        else:
            masked = h if recurrent_keep is None else h * recurrent_keep[:, :, 2]
            candidate = activate(spec.activation,
                                 x_h + tf.einsum("kru,kuv->krv", r * masked,
                                                 recurrent[:, :, 2 * units :]))
        return (z * h + (1 - z) * candidate,)

    return _over_steps(step, projected, (tf.zeros((k, rows, units)),), spec.return_sequences)


def simple_rnn(spec: SimpleRNNSpec, weights: Sequence[Any], x: Any, input_keep: Any,
               recurrent_keep: Any) -> Any:
    """Keras' SimpleRNNCell: the input mask on ``x_t`` before the kernel, the recurrent mask on
    the previous output before the recurrent kernel (the state carried on is unmasked)."""
    import tensorflow as tf

    kernel, recurrent = weights[0], weights[1]
    k, rows, _, _ = x.shape
    projected = _projected(x, kernel, 1, spec.units, input_keep)
    if spec.use_bias:
        projected = projected + weights[2][:, None, None, :]

    def step(state: tuple[Any, ...], x_t: Any) -> tuple[Any, ...]:
        (h,) = state
        return (activate(spec.activation, x_t + _carried(h, recurrent, 1, recurrent_keep)),)

    return _over_steps(step, projected, (tf.zeros((k, rows, spec.units)),),
                       spec.return_sequences)


def recurrent(spec: RecurrentSpec, weights: Sequence[Any], x: Any, input_keep: Any,
              recurrent_keep: Any, backwards: bool = False) -> Any:
    """The layer over the steps in order, or from the last (``backwards``, a Bidirectional
    layer's backward direction: its sequence comes out in step order)."""
    import tensorflow as tf

    if isinstance(spec, GRUSpec) and x.shape[2] > UNROLLED_STEPS and handles(spec):
        return gru_loop(spec, weights, x, input_keep, recurrent_keep, backwards)
    if backwards:
        x = tf.reverse(x, [2])
    if isinstance(spec, LSTMSpec):
        out = lstm(spec, weights, x, input_keep, recurrent_keep)
    elif isinstance(spec, SimpleRNNSpec):
        out = simple_rnn(spec, weights, x, input_keep, recurrent_keep)
    else:
        out = gru(spec, weights, x, input_keep, recurrent_keep)
    return tf.reverse(out, [2]) if backwards and spec.return_sequences else out


def bidirectional(spec: BidirectionalSpec, weights: Sequence[Any], x: Any, input_keep: Any,
                  recurrent_keep: Any) -> Any:
    """Keras' Bidirectional: the forward layer on the steps in order, the backward layer (its
    own weights and masks) on them reversed, its sequence flipped back; then merged."""
    import tensorflow as tf

    half = len(weights) // 2
    forward = recurrent(spec.layer, weights[:half], x,
                        None if input_keep is None else input_keep[:, :, 0],
                        None if recurrent_keep is None else recurrent_keep[:, :, 0])
    backward = recurrent(spec.layer, weights[half:], x,
                         None if input_keep is None else input_keep[:, :, 1],
                         None if recurrent_keep is None else recurrent_keep[:, :, 1],
                         backwards=True)
    if spec.merge_mode == "concat":
        return tf.concat([forward, backward], axis=-1)
    if spec.merge_mode == "sum":
        return forward + backward
    if spec.merge_mode == "ave":
        return (forward + backward) / 2
    return forward * backward
