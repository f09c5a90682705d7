"""The layers a stacked population can hold: their specs and shapes (:mod:`._chain_read`
reads them from built Keras layers).

Each computing layer is read as a hashable spec (what members of one population share) plus
what may differ per member: a MaxNorm limit, and an LSTM's, GRU's or SimpleRNN's own ``dropout``
and ``recurrent_dropout`` rates. Dropout layers are read apart: a member's rate before each
computing layer (plain ``Dropout``, ``SpatialDropout1D/2D``, ``GaussianDropout``,
``AlphaDropout``, or a ``GaussianNoise``'s stddev) is per member too; a noise shape is shared
(the structure's).

Supported, with Keras' own semantics (``docs/keras-semantics.md``):

- ``Dense`` (any input rank: it acts on the last axis), ``Conv2D`` (channels last, ``valid`` or
  ``same`` padding, any strides, no dilation or groups), ``Conv1D`` (channels last, ``valid``,
  ``same`` or ``causal`` padding, any strides, any ``dilation_rate``, no groups),
  ``MaxPooling1D/2D`` and ``AveragePooling1D/2D`` (``valid`` or ``same``),
  ``GlobalAveragePooling1D/2D`` and ``GlobalMaxPooling1D/2D`` (``keepdims`` either way),
  ``Flatten``, ``LSTM`` and ``GRU`` (one layer's last output or whole sequence; Keras' gate
  order and activations, an LSTM's ``unit_forget_bias``, a GRU's ``reset_after`` either way,
  input and recurrent dropout), ``SimpleRNN`` (the same, one gate: ``h = act(x W + b + h U)``),
  ``Bidirectional`` over any of the three (every merge mode but None), and ``Embedding`` as the
  first layer (token ids; no ``mask_zero``);
- activations :data:`ACTIVATIONS`, bias on or off, no regularizers, no bias constraint;
  ``MaxNorm`` over a kernel's input axes (``axis=0`` for Dense, ``axis=[0, 1]`` for Conv1D,
  ``axis=[0, 1, 2]`` for Conv2D: each unit's or filter's whole incoming weights);
- ``Dropout`` (with or without a ``noise_shape``: a mask per element of the noise shape,
  broadcast over the rest), ``SpatialDropout1D`` and ``SpatialDropout2D`` (one mask per feature
  map, held over its steps or pixels);
- ``GaussianDropout``, ``GaussianNoise`` (its ``stddev`` is the member's value) and
  ``AlphaDropout`` (with or without a ``noise_shape``): :mod:`._chain_noise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..exceptions import NotStackableError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "linear", "gelu", "elu")
KINDS = ("plain", "spatial", "input", "recurrent", "gaussian", "noise", "alpha")
"""A member's dropout before/inside a computing layer: ``Dropout`` before it,
``SpatialDropout1D/2D`` before it, a recurrent layer's ``dropout`` and its ``recurrent_dropout``,
``GaussianDropout``, ``GaussianNoise`` and ``AlphaDropout`` before it."""
NOISE_LAYERS = {"GaussianDropout": "gaussian", "GaussianNoise": "noise", "AlphaDropout": "alpha"}
LAYERS = ("Dense", "Dropout", "Conv2D", "SpatialDropout2D", "MaxPooling2D", "Flatten", "LSTM",
          "GRU", "Bidirectional", "Embedding", "SimpleRNN", "Conv1D", "SpatialDropout1D",
          "MaxPooling1D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
          "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", *NOISE_LAYERS)
SPATIAL_DROPOUTS = ("SpatialDropout1D", "SpatialDropout2D")
POOLING = {"MaxPooling1D": ("max", 1), "MaxPooling2D": ("max", 2),
           "AveragePooling1D": ("average", 1), "AveragePooling2D": ("average", 2)}
GLOBAL_POOLING = {"GlobalAveragePooling1D": ("average", 1),
                  "GlobalAveragePooling2D": ("average", 2),
                  "GlobalMaxPooling1D": ("max", 1), "GlobalMaxPooling2D": ("max", 2)}
RECURRENT = ("LSTM", "GRU", "SimpleRNN")
MERGE_MODES = ("concat", "sum", "mul", "ave")


@dataclass(frozen=True)
class DenseSpec:
    units: int
    activation: str
    use_bias: bool


@dataclass(frozen=True)
class ConvSpec:
    filters: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    padding: str  # "valid" or "same"
    activation: str
    use_bias: bool


@dataclass(frozen=True)
class Conv1DSpec:
    filters: int
    kernel_size: int
    strides: int
    padding: str  # "valid", "same" or "causal"
    dilation: int
    activation: str
    use_bias: bool


@dataclass(frozen=True)
class PoolSpec:
    pool_size: tuple[int, int]
    strides: tuple[int, int]
    padding: str
    mode: str = "max"  # or "average"


@dataclass(frozen=True)
class Pool1DSpec:
    pool_size: int
    strides: int
    padding: str  # "valid" or "same"
    mode: str  # "max" or "average"


@dataclass(frozen=True)
class GlobalPoolSpec:
    mode: str  # "max" or "average"
    rank: int  # 1: over the steps of (steps, channels); 2: over (height, width, channels)
    keepdims: bool


@dataclass(frozen=True)
class FlattenSpec:
    pass


@dataclass(frozen=True)
class LSTMSpec:
    units: int
    activation: str
    recurrent_activation: str
    use_bias: bool
    return_sequences: bool


@dataclass(frozen=True)
class GRUSpec:
    units: int
    activation: str
    recurrent_activation: str
    use_bias: bool
    return_sequences: bool
    reset_after: bool


@dataclass(frozen=True)
class SimpleRNNSpec:
    units: int
    activation: str
    use_bias: bool
    return_sequences: bool


RecurrentSpec = LSTMSpec | GRUSpec | SimpleRNNSpec


def gates(spec: RecurrentSpec) -> int:
    """How many gates a recurrent layer's kernels hold side by side (LSTM i, f, c, o; GRU z, r,
    h; SimpleRNN its one)."""
    return 4 if isinstance(spec, LSTMSpec) else 3 if isinstance(spec, GRUSpec) else 1


@dataclass(frozen=True)
class EmbeddingSpec:
    input_dim: int
    output_dim: int


@dataclass(frozen=True)
class BidirectionalSpec:
    layer: RecurrentSpec  # the forward layer's; the backward one runs the steps reversed
    merge_mode: str  # one of MERGE_MODES


Spec = (DenseSpec | ConvSpec | PoolSpec | FlattenSpec | LSTMSpec | GRUSpec | BidirectionalSpec
        | EmbeddingSpec | SimpleRNNSpec | Conv1DSpec | Pool1DSpec | GlobalPoolSpec)


@dataclass(frozen=True)
class ComputeLayer:
    """A layer with a spec; its weights' initializers (for replaying other seeds) are read from
    the built layer when needed."""

    name: str
    spec: Spec
    max_norm: float | None = None  # on the kernel, per member
    inner_rates: tuple[float, float] = (0.0, 0.0)  # a recurrence's dropout, recurrent_dropout


@dataclass(frozen=True)
class DropoutLayer:
    name: str
    rate: float  # a GaussianNoise's stddev
    spatial: bool = False
    noise: str | None = None  # "gaussian", "noise" or "alpha" (NOISE_LAYERS)
    noise_shape: tuple[int | None, ...] | None = None  # Keras' (batch entry first)

    @property
    def kind(self) -> int:
        """Its index in :data:`KINDS`."""
        return KINDS.index(self.noise) if self.noise else int(self.spatial)


def refuse(what: str, why: str) -> NotStackableError:
    return NotStackableError(f"the population engine cannot stack {what}: {why}")


def output_shape(spec: Spec, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A layer's output shape (rows left out) for input ``shape``, or ValueError."""
    if isinstance(spec, DenseSpec):
        return (*shape[:-1], spec.units)
    if isinstance(spec, FlattenSpec):
        return (math.prod(shape),)
    if isinstance(spec, EmbeddingSpec):
        if len(shape) != 1:
            raise ValueError(f"an Embedding takes (steps,) token ids, not {shape}")
        return (shape[0], spec.output_dim)
    if isinstance(spec, BidirectionalSpec):
        inner = output_shape(spec.layer, shape)
        return (*inner[:-1], 2 * inner[-1]) if spec.merge_mode == "concat" else inner
    if isinstance(spec, RecurrentSpec):
        if len(shape) != 2:
            raise ValueError(f"a recurrent layer takes (steps, features), not {shape}")
        return (shape[0], spec.units) if spec.return_sequences else (spec.units,)
    if isinstance(spec, GlobalPoolSpec):
        if len(shape) != spec.rank + 1:
            wanted = "(steps, channels)" if spec.rank == 1 else "(height, width, channels)"
            raise ValueError(f"a {spec.rank}D global pooling takes {wanted}, not {shape}")
        return (*[1] * spec.rank, shape[-1]) if spec.keepdims else (shape[-1],)
    if isinstance(spec, Conv1DSpec | Pool1DSpec):
        if len(shape) != 2:
            raise ValueError(f"a 1D convolution or pooling takes (steps, channels), not {shape}")
        if isinstance(spec, Pool1DSpec):
            return (_side(shape[0], spec.pool_size, spec.strides, spec.padding), shape[1])
        span = spec.dilation * (spec.kernel_size - 1) + 1
        padding = "same" if spec.padding == "causal" else spec.padding  # ceil(steps / strides)
        return (_side(shape[0], span, spec.strides, padding), spec.filters)
    if len(shape) != 3:
        raise ValueError(f"a 2D convolution or pooling takes (height, width, channels), not "
                         f"{shape}")
    window = spec.kernel_size if isinstance(spec, ConvSpec) else spec.pool_size
    sides = tuple(_side(shape[a], window[a], spec.strides[a], spec.padding) for a in (0, 1))
    channels = spec.filters if isinstance(spec, ConvSpec) else shape[2]
    return (sides[0], sides[1], channels)


def _side(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return -(-size // stride)
    return (size - window) // stride + 1


def weight_shapes(spec: Spec, shape: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The layer's weights' shapes in Keras' order (kernel, [recurrent kernel], [bias])."""
    if isinstance(spec, DenseSpec):
        return ((shape[-1], spec.units),) + (((spec.units,),) if spec.use_bias else ())
    if isinstance(spec, ConvSpec):
        kernel = (*spec.kernel_size, shape[-1], spec.filters)
        return (kernel,) + (((spec.filters,),) if spec.use_bias else ())
    if isinstance(spec, Conv1DSpec):
        return (((spec.kernel_size, shape[-1], spec.filters),)
                + (((spec.filters,),) if spec.use_bias else ()))
    if isinstance(spec, RecurrentSpec):
        width = gates(spec) * spec.units
        bias = (2, width) if isinstance(spec, GRUSpec) and spec.reset_after else (width,)
        return ((shape[-1], width), (spec.units, width)) + ((bias,) if spec.use_bias else ())
    if isinstance(spec, EmbeddingSpec):
        return ((spec.input_dim, spec.output_dim),)
    if isinstance(spec, BidirectionalSpec):  # the forward layer's, then the backward one's
        return 2 * weight_shapes(spec.layer, shape)
    return ()


def row_floats(spec: Spec, shape: tuple[int, ...]) -> int:
    """The most floats one row holds at once inside the stacked layer (its output, a
    convolution's patches, a recurrence's gate pre-activations for every step)."""
    size = math.prod(output_shape(spec, shape))
    if isinstance(spec, ConvSpec):
        return size * spec.kernel_size[0] * spec.kernel_size[1] * shape[-1] // spec.filters
    if isinstance(spec, RecurrentSpec):
        return shape[0] * gates(spec) * max(spec.units, shape[-1])
    if isinstance(spec, BidirectionalSpec):
        return 2 * row_floats(spec.layer, shape)
    if isinstance(spec, Conv1DSpec):  # the patches: each output step's kernel x channels
        return max(size, size * spec.kernel_size * shape[-1] // spec.filters)
    return size
