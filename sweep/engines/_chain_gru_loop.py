"""K stacked members' GRU over a long sequence as one loop with its own backward pass: Keras'
default cell (``reset_after=True``, tanh and sigmoid), the form of the reader's model and of
text-gru, past :data:`._chain_recurrent.UNROLLED_STEPS` steps.

TensorFlow's gradient of a scanned GRU step (``tf.scan``) is slow on this CPU: the step read its
inputs sliced out of the whole sequence with its three gates interleaved, which XLA compiled to
scalar code, and the backward loop did two batched matmuls a step (the state's gradient and the
recurrent kernel's). Here every gate's block is contiguous and time is the second axis,
(K, gates, steps, rows, units), so a step's inputs and gradients are 192 blocks of rows x units
read or written in place; the forward loop keeps z, r, the candidate and the recurrent
candidate ``h U_h + b_h`` of each step; the backward loop does one batched matmul a step
(the gradient into the previous state) and writes each step's gate gradients, and the recurrent
kernel's gradient is one matmul over every step and row after it. The backward direction of a
Bidirectional layer walks the steps from the last (``backwards``): nothing is reversed.

The cell, per member, row and step (``m_g``: the gate's recurrent dropout mask, 1 without):

    z = sigmoid(x_z + (h m_z) U_z + b_z),  r = sigmoid(x_r + (h m_r) U_r + b_r)
    a = (h m_h) U_h + b_h,  c = tanh(x_h + r a),  h' = z h + (1 - z) c

and its gradient, for ``g`` = dL/dh' (the output's plus the next step's):

    dc~ = g (1 - z)(1 - c^2)        dz~ = g (h - c) z (1 - z)        dr~ = dc~ a r (1 - r)
    dx = (dz~, dr~, dc~)   da = (dz~, dr~, dc~ r)   dU_g = sum (h m_g)^T da_g   db = sum da
    dL/dh = g z + sum_g (da_g U_g^T) m_g

``tests/engines/test_stacked_equivalence.py`` checks the outputs and every gradient against the
unrolled step's autodiff.
"""

from __future__ import annotations

from typing import Any

from ._chain_layers import GRUSpec


def handles(spec: GRUSpec) -> bool:
    """Whether this loop computes ``spec``'s cell (the others run as ``tf.scan`` of the step)."""
    return spec.reset_after and (spec.activation, spec.recurrent_activation) == ("tanh",
                                                                                   "sigmoid")


def gru_loop(spec: GRUSpec, weights: Any, x: Any, input_keep: Any, recurrent_keep: Any,
             backwards: bool) -> Any:
    """(K, rows, steps, units), or the last step's (K, rows, units), in step order; ``x``
    (K, rows, steps, features), the keeps (K, rows, gates, features or units) or None."""
    import tensorflow as tf

    kernel, recurrent = weights[0], weights[1]
    k, rows, steps, features = x.shape
    units = spec.units
    by_time = tf.transpose(x, (0, 2, 1, 3))[:, None]  # (K, 1, steps, rows, features)
    if input_keep is None:
        gated = tf.broadcast_to(by_time, (k, 3, steps, rows, features))
    else:
        gated = by_time * tf.transpose(input_keep[:, :, :3], (0, 2, 1, 3))[:, :, None]
    gate_kernel = tf.transpose(tf.reshape(kernel, (k, features, 3, units)), (0, 2, 1, 3))
    xs = tf.reshape(tf.matmul(tf.reshape(gated, (k, 3, steps * rows, features)), gate_kernel),
                    (k, 3, steps, rows, units))
    if spec.use_bias:  # (K, 2, 3 units): input bias, recurrent bias
        xs = xs + tf.reshape(weights[2][:, 0], (k, 3, 1, 1, units))
        recurrent_bias = tf.reshape(weights[2][:, 1], (k, 3, 1, units))
    else:
        recurrent_bias = tf.zeros((k, 3, 1, units))
    gate_recurrent = tf.transpose(tf.reshape(recurrent, (k, units, 3, units)), (0, 2, 1, 3))
    keep = (None if recurrent_keep is None
            else tf.transpose(recurrent_keep[:, :, :3], (0, 2, 1, 3)))  # (K, 3, rows, units)
    states = _sequence(xs, gate_recurrent, recurrent_bias, keep, backwards)  # (K, steps, rows, u)
    if spec.return_sequences:
        return tf.transpose(states, (0, 2, 1, 3))
    return states[:, 0 if backwards else steps - 1]


def _sequence(xs: Any, recurrent: Any, recurrent_bias: Any, keep: Any, backwards: bool) -> Any:
    """Every step's state (K, steps, rows, units), at its step's position; ``xs`` (K, 3, steps,
    rows, units) with the input bias, ``recurrent`` (K, 3, units, units), ``recurrent_bias``
    (K, 3, 1, units), ``keep`` (K, 3, rows, units) or None."""
    import tensorflow as tf
    from tensorflow.compiler.tf2xla.python import xla  # XLA's in-place dynamic (update) slice

    k, _, steps, rows, units = xs.shape

    def position(t: Any) -> Any:
        return steps - 1 - t if backwards else t

    def gate_inputs(a: Any, p: Any) -> Any:  # (K, 3, steps, rows, units) -> step p's
        return tf.reshape(xla.dynamic_slice(a, [0, 0, p, 0, 0], [k, 3, 1, rows, units]),
                          (k, 3, rows, units))

    def state(a: Any, p: Any) -> Any:  # (K, steps, rows, units) -> step p's
        return tf.reshape(xla.dynamic_slice(a, [0, p, 0, 0], [k, 1, rows, units]),
                          (k, rows, units))

    def masked(h: Any) -> Any:  # (K, 3, rows, units): each gate's masked state
        return (tf.broadcast_to(h[:, None], (k, 3, rows, units)) if keep is None
                else h[:, None] * keep)

    @tf.custom_gradient
    def run(xs: Any, recurrent: Any, recurrent_bias: Any) -> Any:
        def step(t: Any, h: Any, x_t: Any, states: Any, kept: Any) -> tuple[Any, ...]:
            inner = tf.matmul(masked(h), recurrent) + recurrent_bias
            z = tf.sigmoid(x_t[:, 0] + inner[:, 0])
            r = tf.sigmoid(x_t[:, 1] + inner[:, 1])
            c = tf.tanh(x_t[:, 2] + r * inner[:, 2])
            h = z * h + (1 - z) * c
            after = position(tf.minimum(t + 1, steps - 1))
            return (t + 1, h, gate_inputs(xs, after),
                    xla.dynamic_update_slice(states, h[:, None], [0, position(t), 0, 0]),
                    kept.write(t, tf.stack([z, r, c, inner[:, 2]], 1)))

        _, _, _, states, kept = tf.while_loop(
            lambda t, *_: t < steps, step,
            (tf.constant(0), tf.zeros((k, rows, units)), gate_inputs(xs, position(0)),
             tf.zeros((k, steps, rows, units)), tf.TensorArray(tf.float32, size=steps)),
            maximum_iterations=steps)
        kept = kept.stack()  # (steps, K, 4, rows, units) in the order of the steps taken

        def gradient(d_states: Any) -> tuple[Any, Any, Any]:
            zero = tf.zeros((k, 1, rows, units))
            before = (tf.concat([states[:, 1:], zero], 1) if backwards
                      else tf.concat([zero, states[:, :-1]], 1))  # each step's previous state
            transposed = tf.transpose(recurrent, (0, 1, 3, 2))

            def back(i: Any, dh: Any, now: tuple[Any, Any, Any], d_xs: Any,
                     d_inner: Any) -> tuple[Any, ...]:
                t = steps - 1 - i
                d_out, h, saved = now
                z, r, c, a = saved[:, 0], saved[:, 1], saved[:, 2], saved[:, 3]
                g = d_out + dh
                dc = g * (1 - z) * (1 - c * c)
                dz = g * (h - c) * z * (1 - z)
                dr = dc * a * r * (1 - r)
                da = tf.stack([dz, dr, dc * r], 1)
                into = tf.matmul(da, transposed)
                if keep is not None:
                    into = into * keep
                p, earlier = position(t), tf.maximum(t - 1, 0)
                q = position(earlier)
                return (i + 1, g * z + tf.reduce_sum(into, 1),
                        (state(d_states, q), state(before, q), kept[earlier]),
                        xla.dynamic_update_slice(d_xs, tf.stack([dz, dr, dc], 1)[:, :, None],
                                                 [0, 0, p, 0, 0]),
                        xla.dynamic_update_slice(d_inner, da[:, :, None], [0, 0, p, 0, 0]))

            last = position(steps - 1)
            _, _, _, d_xs, d_inner = tf.while_loop(
                lambda i, *_: i < steps, back,
                (tf.constant(0), tf.zeros((k, rows, units)),
                 (state(d_states, last), state(before, last), kept[steps - 1]),
                 tf.zeros_like(xs), tf.zeros_like(xs)), maximum_iterations=steps)
            masked_before = (tf.broadcast_to(before[:, None], d_inner.shape) if keep is None
                             else before[:, None] * keep[:, :, None])
            d_recurrent = tf.einsum("kgtra,kgtrb->kgab", masked_before, d_inner)
            return d_xs, d_recurrent, tf.reduce_sum(d_inner, axis=(2, 3))[:, :, None]

        return states, gradient

    return run(xs, recurrent, recurrent_bias)
