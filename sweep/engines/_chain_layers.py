"""The layers a stacked population can hold, read from built Keras layers.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def read_layer(layer: Any, index: int) -> ComputeLayer | DropoutLayer:
    kind = type(layer).__name__
    config = layer.get_config()
    what = f"layer {index} {layer.name!r} ({kind})"
    if kind not in LAYERS:
        raise refuse(what, f"only {', '.join(LAYERS)} layers are stacked")
    if kind in NOISE_LAYERS:
        return _noise(kind, layer.name, config, what)
    if kind in ("Dropout", *SPATIAL_DROPOUTS):
        if kind in SPATIAL_DROPOUTS and config.get("noise_shape") is not None:
            raise refuse(what, "a noise_shape is not supported")
        if kind == "SpatialDropout2D" and config.get("data_format") == "channels_first":
            raise refuse(what, "channels_first is not supported")
        return DropoutLayer(layer.name, float(config["rate"]), kind in SPATIAL_DROPOUTS,
                            noise_shape=_noise_shape(config, what))
    if config.get("data_format", "channels_last") != "channels_last":
        raise refuse(what, "channels_first is not supported")
    if kind == "Flatten":
        return ComputeLayer(layer.name, FlattenSpec())
    if kind == "Embedding":
        return ComputeLayer(layer.name, _embedding(config, what))
    if kind == "Bidirectional":
        return _bidirectional(layer, index, what)
    if kind in POOLING:
        return ComputeLayer(layer.name, _pooling(kind, config, what))
    if kind in GLOBAL_POOLING:
        mode, rank = GLOBAL_POOLING[kind]
        return ComputeLayer(layer.name, GlobalPoolSpec(mode, rank, bool(config["keepdims"])))
    activation = _activation(config, "activation", what)
    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                "bias_constraint", "recurrent_regularizer", "recurrent_constraint"):
        if config.get(key) is not None:
            raise refuse(what, f"its {key} is not supported")
    if kind == "Dense":
        spec: Spec = DenseSpec(int(config["units"]), activation, bool(config["use_bias"]))
        return ComputeLayer(layer.name, spec, _max_norm(config.get("kernel_constraint"), what, 1))
    if kind == "Conv2D":
        if _pair(config.get("dilation_rate", 1)) != (1, 1) or config.get("groups", 1) != 1:
            raise refuse(what, "dilation_rate and groups are not supported")
        spec = ConvSpec(int(config["filters"]), _pair(config["kernel_size"]),
                        _pair(config["strides"]), str(config["padding"]), activation,
                        bool(config["use_bias"]))
        return ComputeLayer(layer.name, spec, _max_norm(config.get("kernel_constraint"), what, 3))
    if kind == "Conv1D":
        if config.get("groups", 1) != 1:
            raise refuse(what, f"groups={config['groups']} is not supported (only groups=1)")
        spec = Conv1DSpec(int(config["filters"]), _single(config["kernel_size"]),
                          _single(config["strides"]), str(config["padding"]),
                          _single(config.get("dilation_rate", 1)), activation,
                          bool(config["use_bias"]))
        return ComputeLayer(layer.name, spec, _max_norm(config.get("kernel_constraint"), what, 2))
    return _recurrent(kind, layer.name, config, what, activation)


def _pooling(kind: str, config: Mapping[str, Any], what: str) -> PoolSpec | Pool1DSpec:
    """Keras' pooling layers: strides default to the pool size; the padding as TF reads it
    (the layer keeps the user's spelling; its TF op upper-cases it)."""
    mode, rank = POOLING[kind]
    padding = str(config["padding"]).lower()
    if padding not in ("valid", "same"):
        raise refuse(what, f"padding {config['padding']!r} is not valid or same")
    strides = config["strides"] or config["pool_size"]
    if rank == 1:
        return Pool1DSpec(_single(config["pool_size"]), _single(strides), padding, mode)
    return PoolSpec(_pair(config["pool_size"]), _pair(strides), padding, mode)


def _noise(kind: str, name: str, config: Mapping[str, Any], what: str) -> DropoutLayer:
    """GaussianDropout(rate), GaussianNoise(stddev), AlphaDropout(rate[, noise_shape])."""
    value = float(config["stddev" if kind == "GaussianNoise" else "rate"])
    if kind != "GaussianNoise" and value >= 1:  # Keras divides by 1 - rate: it cannot train
        raise refuse(what, f"rate {value} is not below 1")
    return DropoutLayer(name, value, noise=NOISE_LAYERS[kind],
                        noise_shape=_noise_shape(config, what))


def _noise_shape(config: Mapping[str, Any], what: str) -> tuple[int | None, ...] | None:
    shape = config.get("noise_shape")
    if shape is None:
        return None
    entries = tuple(shape)
    if not all(n is None or (isinstance(n, int) and n > 0) for n in entries):
        raise refuse(what, f"noise_shape {shape!r} has entries that are neither None nor "
                     "positive integers")
    return entries


def _embedding(config: Mapping[str, Any], what: str) -> EmbeddingSpec:
    if config.get("mask_zero"):
        raise refuse(what, "mask_zero=True is not supported (the layers after it would have to "
                     "skip padded steps); pad with a token of its own and mask_zero=False")
    for key in ("embeddings_regularizer", "activity_regularizer", "embeddings_constraint",
                "lora_rank", "quantization_config"):
        if config.get(key):
            raise refuse(what, f"its {key} is not supported")
    return EmbeddingSpec(int(config["input_dim"]), int(config["output_dim"]))


def _bidirectional(layer: Any, index: int, what: str) -> ComputeLayer:
    """Keras' Bidirectional: the backward layer is the forward one's config run backwards."""
    if layer.merge_mode not in MERGE_MODES:
        raise refuse(what, f"merge_mode={layer.merge_mode!r} is not supported; use one of "
                     f"{', '.join(MERGE_MODES)}")
    forward, backward = layer.forward_layer, layer.backward_layer
    if type(forward).__name__ not in RECURRENT:
        raise refuse(what, f"only a Bidirectional {' or '.join(RECURRENT)} is stacked, not "
                     f"{type(forward).__name__}")
    mine, theirs = ({k: v for k, v in part.get_config().items() if k not in ("name",
                                                                                "go_backwards")}
                    for part in (forward, backward))
    if type(backward) is not type(forward) or mine != theirs or not backward.go_backwards:
        raise refuse(what, "a backward_layer other than the forward layer run backwards is not "
                     "supported")
    inner = read_layer(forward, index)
    assert isinstance(inner, ComputeLayer) and isinstance(inner.spec, RecurrentSpec)
    return ComputeLayer(layer.name, BidirectionalSpec(inner.spec, str(layer.merge_mode)), None,
                        inner.inner_rates)


def _recurrent(kind: str, name: str, config: Mapping[str, Any], what: str,
               activation: str) -> ComputeLayer:
    for key in ("go_backwards", "stateful", "return_state", "unroll"):
        if config.get(key):
            raise refuse(what, f"{key}=True is not supported")
    if config.get("kernel_constraint") is not None:
        raise refuse(what, f"a kernel_constraint is not supported on an {kind}")
    use_bias, sequences = bool(config.get("use_bias", True)), bool(config.get("return_sequences"))
    if kind == "SimpleRNN":  # one gate, no recurrent activation
        return ComputeLayer(name, SimpleRNNSpec(int(config["units"]), activation, use_bias,
                                                sequences), None,
                            (float(config.get("dropout", 0.0)),
                             float(config.get("recurrent_dropout", 0.0))))
    recurrent_activation = _activation(config, "recurrent_activation", what)
    spec: Spec = (LSTMSpec(int(config["units"]), activation, recurrent_activation, use_bias,
                           sequences) if kind == "LSTM" else
                  GRUSpec(int(config["units"]), activation, recurrent_activation, use_bias,
                          sequences, bool(config.get("reset_after", True))))
    return ComputeLayer(name, spec, None,
                        (float(config.get("dropout", 0.0)),
                         float(config.get("recurrent_dropout", 0.0))))


def _activation(config: Mapping[str, Any], key: str, what: str) -> str:
    activation = config[key]
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise refuse(what, f"{key.replace('_', ' ')} {activation!r} is not one of "
                     f"{', '.join(ACTIVATIONS)}")
    return activation


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def _single(value: Any) -> int:
    if isinstance(value, int):
        return value
    (only,) = value
    return int(only)


def _max_norm(constraint: Mapping[str, Any] | None, what: str, input_axes: int) -> float | None:
    """A MaxNorm over every axis of the kernel but the last (Dense ``axis=0``, Conv1D
    ``axis=[0, 1]``, Conv2D ``axis=[0, 1, 2]``), or None."""
    if constraint is None:
        return None
    name = constraint.get("class_name")
    axis = constraint.get("config", {}).get("axis", 0)
    axes = sorted(axis) if isinstance(axis, list | tuple) else [axis]
    if name != "MaxNorm" or axes != list(range(input_axes)):
        wanted = "axis=0" if input_axes == 1 else f"axis={list(range(input_axes))}"
        raise refuse(what, f"kernel constraint {name!r} is not MaxNorm over the input axes "
                     f"({wanted})")
    return float(constraint["config"]["max_value"])


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
