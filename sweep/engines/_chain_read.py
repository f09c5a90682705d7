"""Reading a built Keras layer as a stacked layer (:mod:`._chain_layers`' specs), or refusing it
in one line that names the layer and why; what is supported is listed there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._chain_layers import (
    ACTIVATIONS,
    GLOBAL_POOLING,
    LAYERS,
    MERGE_MODES,
    NOISE_LAYERS,
    POOLING,
    RECURRENT,
    SPATIAL_DROPOUTS,
    BidirectionalSpec,
    ComputeLayer,
    Conv1DSpec,
    ConvSpec,
    DenseSpec,
    DropoutLayer,
    EmbeddingSpec,
    FlattenSpec,
    GlobalPoolSpec,
    GRUSpec,
    LSTMSpec,
    Pool1DSpec,
    PoolSpec,
    RecurrentSpec,
    SimpleRNNSpec,
    Spec,
    refuse,
)


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
