"""What one compiled chain program is specialised on (:class:`Shape`), and a population's
starting state (:class:`ChainPopulation`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._chain_dense import applies, plain_masks
from ._chain_layers import Spec, output_shape, row_floats, weight_shapes
from ._chain_math import Rule
from ._chain_noise import NoiseShape


@dataclass(frozen=True)
class Shape:
    """What one compiled program is specialised on (hashable)."""

    members: int
    input_shape: tuple[int, ...]  # one row's
    specs: tuple[Spec, ...]  # the computing layers
    dropout: tuple[tuple[bool, ...], ...]  # per layer, per kind (KINDS): for any member
    constrained: tuple[bool, ...]  # a MaxNorm on layer i's kernel for any member
    rule: Rule
    loss: str
    metric: str
    rows: int
    batch_size: int
    shuffle: bool
    sparse_labels: bool
    noise_shapes: tuple[tuple[NoiseShape | None, ...], ...] = ()
    """Per layer, per kind: a resolved noise shape (:mod:`._chain_noise`) or None; () none."""

    @property
    def layers(self) -> int:
        return len(self.specs)

    def noise_shape(self, layer: int, kind: int) -> NoiseShape | None:
        return self.noise_shapes[layer][kind] if self.noise_shapes else None

    @functools.cached_property
    def dense(self) -> bool:
        """Whether the program takes :mod:`._chain_dense`'s hand-derived gradients."""
        return applies(self.specs, self.loss, self.input_shape) and plain_masks(
            self.dropout, self.noise_shapes)

    @functools.cached_property
    def in_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Each computing layer's input shape (one row)."""
        shapes = [self.input_shape]
        for spec in self.specs[:-1]:
            shapes.append(output_shape(spec, shapes[-1]))
        return tuple(shapes)

    @functools.cached_property
    def counts(self) -> tuple[int, ...]:
        """Each layer's number of weights (kernel, [recurrent kernel], [bias])."""
        return tuple(len(weight_shapes(spec, shape))
                     for spec, shape in zip(self.specs, self.in_shapes, strict=True))

    @functools.cached_property
    def kernels(self) -> tuple[int, ...]:
        """Each layer's kernel's index in the flat weights (-1 for a layer without)."""
        starts, position = [], 0
        for count in self.counts:
            starts.append(position if count else -1)
            position += count
        return tuple(starts)

    @functools.cached_property
    def widest(self) -> int:
        """The most floats one row holds at once in any layer."""
        return max(row_floats(spec, shape)
                   for spec, shape in zip(self.specs, self.in_shapes, strict=True))


@dataclass(frozen=True)
class ChainPopulation:
    """K members' initial weights (flat, in layer order: each layer's kernel, [recurrent
    kernel], [bias], each with a leading K) and per-member settings: the dropout rate of each
    kind at each layer (layers x KINDS arrays of (K,)), the MaxNorm of each layer's kernel."""

    weights: tuple[np.ndarray, ...]
    rates: tuple[tuple[np.ndarray, ...], ...]
    max_norms: tuple[np.ndarray, ...]  # 0 where has_max_norm is False
    has_max_norm: tuple[np.ndarray, ...]
    keys: np.ndarray
