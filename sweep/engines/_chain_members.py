"""Cells of any dense task as population members, starting where the Keras engine starts.

For a cell, ``clear_session``, ``set_random_seed(cell.seed)`` and the task's own
``build_model(cell)`` give the real model (30-60 ms): its initial weights are exactly the Keras
engine's for that seed, and :func:`._chain.read_chain` reads what it is. Cells whose models
share a structure (layer sizes, activations, biases, optimizer, loss) stack into one population;
their dropout rates and MaxNorm limits are per member (rate 0 where a cell's model has no
Dropout at that place).

:class:`MemberBuilder` builds one real model per group (rate, placement, max-norm) and replays
the other seeds in about a millisecond, as :mod:`._population_init` does for circles: Keras'
``set_random_seed`` seeds Python's ``random``, and in construction order each Dropout with a
rate above 0 draws ``randint(1, 10**9)`` for its seed generator and each default
``GlorotUniform`` kernel initializer one for its seed; biases start at zero. The replay is used
for a group only when it reproduces that group's real model bit for bit (else every cell of the
group is built for real), so a model whose construction draws otherwise is never mistrained.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._keras import import_keras
from ..exceptions import EngineError
from ..grid import Cell, Group
from ..tasks import Task
from ._chain import FIX, Chain, DenseLayer, DropoutLayer, read_chain
from ._chain_graph import ChainPopulation, Shape
from ._chain_math import Rule, check_loss, check_metric, optimizer_rule
from ._population_init import KERAS_SEED_RANGE
from ._population_rng import member_key


@dataclass(frozen=True)
class Structure:
    """What members of one population share (hashable)."""

    units: tuple[int, ...]
    activations: tuple[str, ...]
    use_bias: tuple[bool, ...]
    rule: Rule
    loss: str


@dataclass(frozen=True)
class Member:
    cell: Cell
    structure: Structure
    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]
    rates: tuple[float, ...]  # the dropout rate before each Dense layer (0: none)
    max_norms: tuple[float | None, ...]


def build_member(task: Task, cell: Cell) -> Member:
    """``cell``'s model, built as the Keras engine builds it, read as a member (or
    :class:`EngineError` naming what cannot be stacked)."""
    return _built(task, cell)[0]


def _built(task: Task, cell: Cell) -> tuple[Member, Chain, bool]:
    """The member, its chain, and whether its construction can be replayed (default
    initializers: GlorotUniform kernels without a seed, zero biases)."""
    keras = import_keras()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    model = task.build_model(cell)
    chain = read_chain(model)
    structure, rates = _structure(chain, task.metric)
    kernels, biases = [], []
    replayable = True
    for layer in chain.dense:
        built = model.get_layer(layer.name)
        config = built.get_config()
        replayable = replayable and _is(config["kernel_initializer"], "GlorotUniform") and (
            not layer.use_bias or _is(config["bias_initializer"], "Zeros"))
        kernels.append(np.asarray(built.kernel.numpy(), np.float32))
        biases.append(np.asarray(built.bias.numpy(), np.float32) if layer.use_bias else None)
    member = Member(cell, structure, tuple(kernels), tuple(biases), rates,
                    tuple(layer.max_norm for layer in chain.dense))
    return member, chain, replayable


def _is(initializer: Any, name: str) -> bool:
    if not isinstance(initializer, dict):
        return False
    config = initializer.get("config") or {}
    return bool(initializer.get("class_name") == name and config.get("seed") is None)


class MemberBuilder:
    """Members of one task: one real build per group, replayed seeds for the rest (see the
    module docstring)."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self._templates: dict[Group, tuple[Member, Chain] | None] = {}

    def __call__(self, cell: Cell) -> Member:
        if cell.group not in self._templates:
            member, chain, replayable = _built(self._task, cell)
            fits = replayable and _same(_replayed(member, chain, cell.seed), member)
            self._templates[cell.group] = (member, chain) if fits else None
            return member
        template = self._templates[cell.group]
        if template is None:
            return build_member(self._task, cell)
        return replace(_replayed(*template, cell.seed), cell=cell)


def _replayed(template: Member, chain: Chain, seed: int) -> Member:
    keras = import_keras()
    draws = random.Random(seed)
    kernels: list[np.ndarray] = []
    for layer in chain.layers:
        if isinstance(layer, DropoutLayer):
            if layer.rate > 0:
                draws.randint(*KERAS_SEED_RANGE)
            continue
        draw = draws.randint(*KERAS_SEED_RANGE)
        shape = template.kernels[len(kernels)].shape
        kernel = keras.initializers.GlorotUniform(seed=draw)(shape, dtype="float32")
        kernels.append(np.asarray(kernel, np.float32))
    biases = tuple(None if b is None else np.zeros_like(b) for b in template.biases)
    return replace(template, kernels=tuple(kernels), biases=biases)


def _same(a: Member, b: Member) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.kernels, b.kernels, strict=True)) and all(
        (x is None and y is None) or (x is not None and y is not None and np.array_equal(x, y))
        for x, y in zip(a.biases, b.biases, strict=True))


def _structure(chain: Chain, metric: str) -> tuple[Structure, tuple[float, ...]]:
    rates: list[float] = []
    pending: float | None = None
    for layer in chain.layers:
        if isinstance(layer, DropoutLayer):
            if pending is not None:
                raise EngineError(f"the population engine cannot stack layer {layer.name!r} "
                                  f"(Dropout): two Dropout layers in a row; {FIX}")
            pending = layer.rate
        else:
            rates.append(pending or 0.0)
            pending = None
    if pending is not None:
        raise EngineError("the population engine cannot stack a Dropout after the output "
                          f"layer; {FIX}")
    dense: tuple[DenseLayer, ...] = chain.dense
    check_loss(chain.loss, chain.from_logits, dense[-1].activation)
    check_metric(metric, chain.loss, chain.outputs)
    structure = Structure(
        units=(chain.inputs, *(layer.units for layer in dense)),
        activations=tuple(layer.activation for layer in dense),
        use_bias=tuple(layer.use_bias for layer in dense),
        rule=optimizer_rule(chain.optimizer.name, chain.optimizer.config),
        loss=chain.loss,
    )
    return structure, tuple(rates)


def population_shape(members: Sequence[Member], size: int, metric: str, rows: int,
                     batch_size: int, shuffle: bool = True) -> Shape:
    structure = members[0].structure
    return Shape(
        members=size, units=structure.units, activations=structure.activations,
        use_bias=structure.use_bias,
        dropout=tuple(any(m.rates[i] > 0 for m in members)
                      for i in range(len(structure.activations))),
        constrained=tuple(any(m.max_norms[i] is not None for m in members)
                          for i in range(len(structure.activations))),
        rule=structure.rule, loss=structure.loss, metric=metric, rows=rows,
        batch_size=batch_size, shuffle=shuffle,
        sparse_labels=structure.loss == "sparse_categorical_crossentropy"
        or (structure.units[-1] > 1 and metric == "sparse_categorical_accuracy"),
    )


def stack(members: Sequence[Member], size: int) -> ChainPopulation:
    """The members stacked, padded to ``size`` with copies of the first (results dropped)."""
    padded = list(members) + [members[0]] * (size - len(members))
    layers = range(len(padded[0].kernels))

    def bias(i: int) -> np.ndarray | None:
        biases = [m.biases[i] for m in padded]
        return None if biases[0] is None else np.stack(biases)  # type: ignore[arg-type]

    return ChainPopulation(
        kernels=tuple(np.stack([m.kernels[i] for m in padded]) for i in layers),
        biases=tuple(bias(i) for i in layers),
        rates=tuple(np.array([m.rates[i] for m in padded]) for i in layers),
        max_norms=tuple(np.array([m.max_norms[i] or 0.0 for m in padded]) for i in layers),
        has_max_norm=tuple(np.array([m.max_norms[i] is not None for m in padded])
                           for i in layers),
        keys=np.array([member_key(m.cell.seed) for m in padded], dtype=np.uint32),
    )

