"""Cells of any stackable task as population members, starting where the Keras engine starts.

For a cell, ``clear_session``, ``set_random_seed(cell.seed)`` and the task's own
``build_model(cell)`` give the real model (30-60 ms): its initial weights are exactly the Keras
engine's for that seed, and :func:`._chain.read_chain` reads what it is. Cells whose models
share a structure (input shape, computing layers, optimizer, loss) stack into one population;
their dropout rates and MaxNorm limits are per member (rate 0 where a cell's model has no
dropout of that kind at that place).

:class:`MemberBuilder` builds one real model per group (rate, placement, max-norm) and replays
the other seeds in about a millisecond per weight: Keras' ``set_random_seed`` seeds Python's
``random``, and every random initializer built without a seed draws ``randint(1, 10**9)`` when
it is constructed (as does each dropout's seed generator). The template build shows which draw
each weight's initializer took; another seed's weights are that initializer rebuilt with the
same draw of the other seed's sequence, and weights from fixed initializers (zeros, ones, an
LSTM's unit-forget bias) are copied. The replay is used for a group only when it reproduces
that group's real model bit for bit (else every cell of the group is built for real), so a model
whose construction draws otherwise is never mistrained.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .._keras import import_keras
from ..grid import Cell, Group
from ..tasks import Task
from ._chain import Chain, ComputeLayer, DropoutLayer, read_chain
from ._chain_layers import KINDS, DenseSpec, Spec, output_shape, refuse
from ._chain_math import Rule, check_loss, check_metric, optimizer_rule
from ._chain_noise import NOISE_KINDS, NoiseShape
from ._chain_shape import ChainPopulation, Shape
from ._population_rng import member_key

KERAS_SEED_RANGE = (1, int(1e9))  # keras.src.random.seed_generator.make_default_seed
_FIXED = ("Zeros", "Ones", "Constant")
_UNREPLAYABLE = object()
_DRAWS = 256
"""How far into a seed's sequence of draws the replay looks for an initializer's seed."""


@dataclass(frozen=True)
class Structure:
    """What members of one population share (hashable)."""

    input_shape: tuple[int, ...]
    specs: tuple[Spec, ...]
    rule: Rule
    loss: str
    noise_shapes: tuple[tuple[NoiseShape | None, ...], ...] = ()
    """Per computing layer, per kind (KINDS): a resolved noise shape or None; () for none."""


@dataclass(frozen=True)
class Member:
    cell: Cell
    structure: Structure
    weights: tuple[np.ndarray, ...]  # every computing layer's, in order
    rates: tuple[tuple[float, ...], ...]  # per computing layer, per kind (KINDS); 0: none
    max_norms: tuple[float | None, ...]  # per computing layer


@dataclass(frozen=True)
class _Recipe:
    """How to make one weight for another seed: rebuild ``initializer`` with that seed's
    ``position``-th draw, or (``initializer`` None) copy the template's."""

    initializer: Any
    position: int
    shape: tuple[int, ...]


def build_member(task: Task, cell: Cell) -> Member:
    """``cell``'s model, built as the Keras engine builds it, read as a member (or
    :class:`~sweep.exceptions.NotStackableError` naming what cannot be stacked)."""
    return _built(task, cell)[0]


def _built(task: Task, cell: Cell) -> tuple[Member, tuple[_Recipe, ...] | None]:
    """The member, and how to replay its weights for other seeds (None: cannot)."""
    keras = import_keras()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    model = task.build_model(cell)
    chain = read_chain(model)
    structure, rates = _structure(chain, task.metric)
    draws = _draws(cell.seed)
    weights: list[np.ndarray] = []
    recipes: list[_Recipe] | None = []
    for layer in chain.computing:
        built = model.get_layer(layer.name)
        for variable, initializer in zip(built.weights, _initializers(built), strict=True):
            value = np.asarray(variable.numpy(), np.float32)
            weights.append(value)
            recipe = _recipe(initializer, value.shape, draws)
            recipes = None if recipes is None or recipe is None else [*recipes, recipe]
    member = Member(cell, structure, tuple(weights), rates,
                    tuple(layer.max_norm for layer in chain.computing))
    return member, None if recipes is None else tuple(recipes)


def _initializers(layer: Any) -> list[Any]:
    """The initializers of ``layer.weights``, in order (None for a computed one)."""
    if type(layer).__name__ == "Bidirectional":  # the forward layer's weights, then the backward's
        found = _initializers(layer.forward_layer) + _initializers(layer.backward_layer)
        return found if len(found) == len(layer.weights) else [_UNREPLAYABLE] * len(layer.weights)
    owner = getattr(layer, "cell", layer)
    if not layer.weights:
        return []
    found = [getattr(owner, "kernel_initializer", None)
             or getattr(owner, "embeddings_initializer", _UNREPLAYABLE)]
    if hasattr(owner, "recurrent_initializer"):
        found.append(owner.recurrent_initializer)
    if getattr(owner, "use_bias", False):
        bias = owner.bias_initializer
        if getattr(owner, "unit_forget_bias", False):  # computed: copied if otherwise fixed
            bias = None if type(bias).__name__ in _FIXED else _UNREPLAYABLE
        found.append(bias)
    if len(found) != len(layer.weights):
        return [_UNREPLAYABLE] * len(layer.weights)
    return found


def _draws(seed: int) -> list[int]:
    sequence = random.Random(seed)
    return [sequence.randint(*KERAS_SEED_RANGE) for _ in range(_DRAWS)]


def _recipe(initializer: Any, shape: tuple[int, ...], draws: list[int]) -> _Recipe | None:
    """A fixed weight (an LSTM's unit-forget bias, a constant initializer, or a random one given
    its own seed) is copied; a random one is rebuilt from its draw; None for anything else
    (an initializer that is not Keras', a seed not among the draws)."""
    if initializer is None or type(initializer).__name__ in _FIXED:
        return _Recipe(None, -1, shape)
    keras = import_keras()
    seed = getattr(initializer, "seed", None)
    if not isinstance(initializer, keras.initializers.Initializer) or not isinstance(seed, int):
        return None
    if getattr(initializer, "_init_seed", None) is not None:
        return _Recipe(None, -1, shape)
    if seed not in draws:
        return None
    return _Recipe(initializer, draws.index(seed), shape)


class MemberBuilder:
    """Members of one task: one real build per group, replayed seeds for the rest (see the
    module docstring)."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self._templates: dict[Group, tuple[Member, tuple[_Recipe, ...]] | None] = {}

    def __call__(self, cell: Cell) -> Member:
        if cell.group not in self._templates:
            member, recipes = _built(self._task, cell)
            fits = recipes is not None and _same(_replayed(member, recipes, cell.seed), member)
            self._templates[cell.group] = (member, recipes) if fits and recipes else None
            return member
        template = self._templates[cell.group]
        if template is None:
            return build_member(self._task, cell)
        return replace(_replayed(*template, cell.seed), cell=cell)


def _replayed(template: Member, recipes: tuple[_Recipe, ...], seed: int) -> Member:
    draws = _draws(seed)
    weights = []
    for recipe, value in zip(recipes, template.weights, strict=True):
        if recipe.initializer is None:
            weights.append(value)
            continue
        config = {**recipe.initializer.get_config(), "seed": draws[recipe.position]}
        made = type(recipe.initializer).from_config(config)(recipe.shape, dtype="float32")
        weights.append(np.asarray(made, np.float32))
    return replace(template, weights=tuple(weights))


def _same(a: Member, b: Member) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights, strict=True))


def _structure(chain: Chain, metric: str) -> tuple[Structure, tuple[tuple[float, ...], ...]]:
    rates: list[tuple[float, ...]] = []
    noise_shapes: list[tuple[NoiseShape | None, ...]] = []
    pending = [0.0] * len(KINDS)
    pending_shapes: list[NoiseShape | None] = [None] * len(KINDS)
    placed: list[int] = []  # the kinds of the dropout layers since the last computing layer
    shape = chain.input_shape
    for layer in chain.layers:
        if isinstance(layer, DropoutLayer):
            kind = layer.kind
            if placed and (kind in NOISE_KINDS or set(placed) & set(NOISE_KINDS)):
                raise refuse(f"layer {layer.name!r}", "a GaussianDropout, GaussianNoise or "
                             "AlphaDropout next to another dropout layer (their order would "
                             "matter); keep one of them between two layers")
            if pending[kind]:
                raise refuse(f"layer {layer.name!r}",
                             f"two {'spatial ' if kind else ''}dropouts in a row")
            if layer.spatial and len(shape) not in (2, 3):  # Keras checks which rank is whose
                raise refuse(f"layer {layer.name!r}", "a spatial dropout needs (steps, channels) "
                             f"or (height, width, channels) inputs, not {shape}")
            pending[kind] = layer.rate
            pending_shapes[kind] = _resolved(layer, shape)
            placed.append(kind)
            continue
        pending[2:4] = layer.inner_rates
        rates.append(tuple(pending))
        noise_shapes.append(tuple(pending_shapes))
        pending = [0.0] * len(KINDS)
        pending_shapes = [None] * len(KINDS)
        placed = []
        shape = _checked_shape(layer, shape)
    if any(pending):
        raise refuse("a Dropout after the output layer", "the output must be a Dense layer")
    if len(shape) != 1:
        raise refuse(f"an output of shape {shape} per row", "the model must end in one vector "
                     "per row: put a Flatten or a global pooling before its last Dense")
    check_loss(chain.loss, chain.from_logits, chain.last_activation)
    check_metric(metric, chain.loss, chain.outputs)
    structure = Structure(
        input_shape=chain.input_shape,
        specs=tuple(layer.spec for layer in chain.computing),
        rule=optimizer_rule(chain.optimizer.name, chain.optimizer.config),
        loss=chain.loss,
        noise_shapes=tuple(noise_shapes) if any(n for layer in noise_shapes for n in layer)
        else (),
    )
    return structure, tuple(rates)


def _resolved(layer: DropoutLayer, shape: tuple[int, ...]) -> NoiseShape | None:
    """Keras' noise shape for inputs of one row's ``shape``: ``None`` entries filled from the
    input, each dim the input's or 1, the batch entry None (a mask per row) or 1 (one for the
    batch); None where it is the input's own shape (the layer's default mask)."""
    noise_shape = layer.noise_shape
    if noise_shape is None:
        return None
    what = f"layer {layer.name!r}"
    if len(noise_shape) != len(shape) + 1:
        raise refuse(what, f"its noise_shape {noise_shape} has {len(noise_shape)} entries, its "
                     f"inputs (rows, {', '.join(map(str, shape))}) {len(shape) + 1}")
    if noise_shape[0] not in (None, 1):
        raise refuse(what, f"its noise_shape's batch entry {noise_shape[0]} is not None or 1 "
                     "(a fixed batch size breaks on the last partial batch)")
    dims = []
    for entry, size in zip(noise_shape[1:], shape, strict=True):
        if entry not in (None, 1, size):
            raise refuse(what, f"its noise_shape {noise_shape} does not broadcast over inputs "
                         f"of shape (rows, {', '.join(map(str, shape))})")
        dims.append(size if entry is None else int(entry))
    if noise_shape[0] is None and tuple(dims) == shape:
        return None
    return (noise_shape[0], *dims)


def _checked_shape(layer: ComputeLayer, shape: tuple[int, ...]) -> tuple[int, ...]:
    try:
        return output_shape(layer.spec, shape)
    except ValueError as e:
        raise refuse(f"layer {layer.name!r}", str(e)) from e


def population_shape(members: Sequence[Member], size: int, metric: str, rows: int,
                     batch_size: int, shuffle: bool = True,
                     peers: Sequence[Member] = ()) -> Shape:
    """The program for ``members`` padded to ``size``: it masks and constrains wherever any
    of them, or of ``peers`` (members of other populations that should share the program),
    has dropout or a MaxNorm. A member with rate 0 where the program masks is multiplied by
    exactly 1, so the extra places change no result."""
    structure = members[0].structure
    members = [*members, *peers]
    layers = range(len(structure.specs))
    last = structure.specs[-1]
    outputs = last.units if isinstance(last, DenseSpec) else 1
    return Shape(
        members=size, input_shape=structure.input_shape, specs=structure.specs,
        dropout=tuple(tuple(any(m.rates[i][kind] > 0 for m in members)
                            for kind in range(len(KINDS))) for i in layers),
        constrained=tuple(any(m.max_norms[i] is not None for m in members) for i in layers),
        noise_shapes=structure.noise_shapes,
        rule=structure.rule, loss=structure.loss, metric=metric, rows=rows,
        batch_size=batch_size, shuffle=shuffle,
        sparse_labels=structure.loss == "sparse_categorical_crossentropy"
        or (outputs > 1 and metric == "sparse_categorical_accuracy"),
    )


def stack(members: Sequence[Member], size: int) -> ChainPopulation:
    """The members stacked, padded to ``size`` with copies of the first (results dropped)."""
    padded = list(members) + [members[0]] * (size - len(members))
    layers = range(len(padded[0].max_norms))
    return ChainPopulation(
        weights=tuple(np.stack([m.weights[j] for m in padded])
                      for j in range(len(padded[0].weights))),
        rates=tuple(tuple(np.array([m.rates[i][kind] for m in padded])
                          for kind in range(len(KINDS))) for i in layers),
        max_norms=tuple(np.array([m.max_norms[i] or 0.0 for m in padded]) for i in layers),
        has_max_norm=tuple(np.array([m.max_norms[i] is not None for m in padded])
                           for i in layers),
        keys=np.array([member_key(m.cell.seed) for m in padded], dtype=np.uint32),
    )
