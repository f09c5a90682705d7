"""Initial weights: each member starts exactly where the Keras engine's model starts for its seed.

The reference path builds the real model (``clear_session``; ``set_random_seed(seed)``;
``task.build_model(cell)``) and reads its weights: always right, about 30 ms per cell.

The fast path for the circles MLP replays what that build does with Keras' own initialiser,
bit for bit, in about 0.5 ms: ``set_random_seed`` seeds Python's ``random``, and each layer that
needs randomness draws ``random.randint(1, 10**9)`` when it is constructed, in model order
(input Dropout's seed generator, the hidden kernel's GlorotUniform, the hidden Dropout's seed
generator, the output kernel's GlorotUniform). A kernel is then
``GlorotUniform(seed=draw)(shape)``; biases are zeros. That order is a Keras implementation
detail, so the first use in a process checks the fast path against a real model and falls back to
the real model (with a warning) if they differ; ``tests/engines/test_population.py`` checks it
for every placement.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._keras import import_keras
from ..grid import Cell
from ..tasks import Task
from ..tasks.circles import on_hidden, on_input

KERAS_SEED_RANGE = (1, int(1e9))  # keras.src.random.seed_generator.make_default_seed


@dataclass(frozen=True)
class MemberWeights:
    """One member's weights: kernel (F, H), bias (H,), output kernel (H,), output bias (1,)."""

    hidden_kernel: np.ndarray
    hidden_bias: np.ndarray
    output_kernel: np.ndarray
    output_bias: np.ndarray

    def equals(self, other: MemberWeights) -> bool:
        return all(
            np.array_equal(a, b)
            for a, b in zip(self.arrays(), other.arrays(), strict=True)
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.hidden_kernel, self.hidden_bias, self.output_kernel, self.output_bias)


FastInit = Callable[[Cell], MemberWeights]


def keras_initial_weights(
    task: Task, cell: Cell, hidden_layer: str = "hidden", output_layer: str = "output"
) -> MemberWeights:
    """The weights of the Keras engine's freshly built model for ``cell`` (the reference)."""
    keras = import_keras()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    model = task.build_model(cell)
    hidden, output = model.get_layer(hidden_layer), model.get_layer(output_layer)
    return MemberWeights(
        hidden_kernel=np.asarray(hidden.kernel.numpy(), dtype=np.float32),
        hidden_bias=np.asarray(hidden.bias.numpy(), dtype=np.float32),
        output_kernel=np.asarray(output.kernel.numpy(), dtype=np.float32).reshape(-1),
        output_bias=np.asarray(output.bias.numpy(), dtype=np.float32).reshape(1),
    )


def dense_mlp_initial_weights(cell: Cell, features: int, hidden_units: int) -> MemberWeights:
    """Replay ``set_random_seed(seed); build_model(cell)`` for input -> [Dropout] -> Dense(H) ->
    [Dropout] -> Dense(1) with Keras' default initialisers (glorot_uniform kernels, zero biases)."""
    keras = import_keras()
    draws = random.Random(cell.seed)

    def layer_seed() -> int:
        return draws.randint(*KERAS_SEED_RANGE)

    if on_input(cell):
        layer_seed()
    hidden_seed = layer_seed()
    if on_hidden(cell):
        layer_seed()
    output_seed = layer_seed()
    glorot = keras.initializers.GlorotUniform
    hidden_kernel = glorot(seed=hidden_seed)((features, hidden_units), dtype="float32")
    output_kernel = glorot(seed=output_seed)((hidden_units, 1), dtype="float32")
    return MemberWeights(
        hidden_kernel=np.asarray(hidden_kernel, dtype=np.float32),
        hidden_bias=np.zeros(hidden_units, np.float32),
        output_kernel=np.asarray(output_kernel, dtype=np.float32).reshape(-1),
        output_bias=np.zeros(1, np.float32),
    )


class InitialWeights:
    """Initial weights for cells of one task: the fast path once it has matched a real model."""

    def __init__(
        self,
        task: Task,
        fast: FastInit | None,
        hidden_layer: str = "hidden",
        output_layer: str = "output",
    ) -> None:
        self._task = task
        self._fast = fast
        self._layers = (hidden_layer, output_layer)
        self._checked = False

    def __call__(self, cell: Cell) -> MemberWeights:
        if self._fast is None:
            return self._reference(cell)
        if self._checked:
            return self._fast(cell)
        self._checked = True
        fast, reference = self._fast(cell), self._reference(cell)
        if fast.equals(reference):
            return fast
        warnings.warn(
            f"population engine: the fast initial weights for task {self._task.name!r} differ "
            "from the Keras model's (has Keras changed its initialisation order?); building each "
            "cell's real model instead (about 30 ms per cell)",
            RuntimeWarning,
            stacklevel=2,
        )
        self._fast = None
        return reference

    def _reference(self, cell: Cell) -> MemberWeights:
        return keras_initial_weights(self._task, cell, *self._layers)
