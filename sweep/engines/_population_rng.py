"""Dropout randomness for the population engine: a counter-based hash, one stream per seed.

TensorFlow's Philox/ThreeFry generators are 5-20x slower than the rest of a
step under XLA on CPU, so the uniforms come from a counter-based hash instead:
``bits = triple32(triple32(counter) ^ step_key)``, ``u = (bits >> 8) / 2^24`` (24-bit uniforms;
TF's are 23-bit), with ``step_key = triple32(member_key ^ triple32(step + golden))`` and the member
key a splitmix64 hash of the cell's seed. triple32 is C. Wellons' bijective 32-bit mixer
(hash-prospector, bias ~0.02). A member's masks depend only on its seed, not on its batch mates,
so a cell trains the same whichever claim it lands in; as in Keras, cells that share a seed share
their random stream (common random numbers across rates). The masks are not Keras' masks: with
dropout the two engines agree in distribution, not per seed (``tests/engines/test_population.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_MASK32 = 0xFFFFFFFF
_GOLDEN32 = 0x9E3779B9
_TRIPLE32 = ((17, 0xED5AD4BB), (11, 0xAC4C1B51), (15, 0x31848BAB))
_TRIPLE32_LAST_SHIFT = 14


# ---- on the host ----------------------------------------------------------------------------


def triple32_numpy(x: np.ndarray) -> np.ndarray:
    """Wellons' triple32 on uint32 arrays (the same function the graph uses)."""
    x = np.asarray(x, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for shift, multiplier in _TRIPLE32:
            x = x ^ (x >> np.uint32(shift))
            x = (x * np.uint32(multiplier)).astype(np.uint32)
    return x ^ (x >> np.uint32(_TRIPLE32_LAST_SHIFT))


def member_key(seed: int) -> int:
    """A 32-bit dropout key from a cell's seed (splitmix64 finaliser, high half)."""
    z = (seed * 0x9E3779B97F4A7C15 + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return (z >> 32) & _MASK32


# ---- in the graph -----------------------------------------------------------------------------


def triple32(x: Any) -> Any:
    """triple32 on a uint32 tensor."""
    import tensorflow as tf

    for shift, multiplier in _TRIPLE32:
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(shift, tf.uint32)))
        x = x * tf.constant(multiplier, tf.uint32)
    return tf.bitwise.bitwise_xor(
        x, tf.bitwise.right_shift(x, tf.constant(_TRIPLE32_LAST_SHIFT, tf.uint32))
    )


def dropout_counters(rows: int, units: int, offset: int) -> Any:
    """(1, rows, units) hashed element counters of one dropout layer."""
    import tensorflow as tf

    counters = tf.cast(tf.range(rows * units), tf.uint32) + tf.constant(offset, tf.uint32)
    return triple32(tf.reshape(counters, (1, rows, units)))


def dropout_step_key(keys: Any, step: Any) -> Any:
    """Per-member keys of one step: ``triple32(member_key ^ triple32(step + golden))``."""
    import tensorflow as tf

    step_hash = triple32(tf.cast(step, tf.uint32) + tf.constant(_GOLDEN32, tf.uint32))
    return triple32(tf.bitwise.bitwise_xor(keys, step_hash))


def dropout_uniform(counters: Any, step_key: Any) -> Any:
    """Uniforms in [0, 1) on a 2^-24 grid, one per member and element."""
    import tensorflow as tf

    bits = triple32(tf.bitwise.bitwise_xor(counters, step_key))
    shifted = tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32))
    return tf.cast(shifted, tf.float32) * (2.0**-24)
