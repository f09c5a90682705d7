"""A built Keras model read as a chain of layers: what the population engine can stack.

A chain is ``Input -> layer -> layer ...`` with one input and one output, each layer fed by the
one before: a ``keras.Sequential``, or a functional model wired the same way, of the layers
:mod:`._chain_layers` reads (Dense, Dropout, Conv1D/2D, SpatialDropout1D/2D, the max, average
and global poolings, Flatten, LSTM, GRU, Bidirectional, Embedding). :func:`read_chain` reads it
from the compiled model itself (layer configs, the optimizer's class and config, the loss, the
metrics), so a user's ``build_model`` needs no extra code; anything else is refused with one
line naming the first thing that cannot be stacked, and the fix (``--engine keras`` trains any
model).

Supported besides the layers: optimizers :data:`OPTIMIZERS` with a constant learning rate and no
clipping, EMA or gradient accumulation; losses :data:`LOSSES` (cross-entropies from
probabilities or from logits) without label smoothing or loss weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._chain_layers import (
    ComputeLayer,
    DenseSpec,
    DropoutLayer,
    EmbeddingSpec,
    refuse,
)
from ._chain_read import read_layer

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
          "mean_squared_error", "mean_absolute_error")
_LOSS_NAMES = {
    "binary_crossentropy": "binary_crossentropy", "binarycrossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
    "mse": "mean_squared_error", "mean_squared_error": "mean_squared_error",
    "meansquarederror": "mean_squared_error",
    "mae": "mean_absolute_error", "mean_absolute_error": "mean_absolute_error",
    "meanabsoluteerror": "mean_absolute_error",
}
_UNSUPPORTED_OPTIMIZER_KEYS = ("clipnorm", "global_clipnorm", "clipvalue", "loss_scale_factor")
_METRIC_CLASSES = {"MeanSquaredError": "mean_squared_error",
                   "MeanAbsoluteError": "mean_absolute_error", "BinaryAccuracy": "binary_accuracy",
                   "CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy"}
__all__ = ["Chain", "ComputeLayer", "DropoutLayer", "Optimizer", "read_chain"]


@dataclass(frozen=True)
class Optimizer:
    """The optimizer's class (lower case) and the config values its update rule reads."""

    name: str
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chain:
    input_shape: tuple[int, ...]  # one row's shape
    layers: tuple[ComputeLayer | DropoutLayer, ...]
    optimizer: Optimizer
    loss: str  # one of LOSSES
    from_logits: bool
    metrics: tuple[str, ...]

    @property
    def computing(self) -> tuple[ComputeLayer, ...]:
        return tuple(layer for layer in self.layers if isinstance(layer, ComputeLayer))

    @property
    def outputs(self) -> int:
        spec = self.computing[-1].spec
        assert isinstance(spec, DenseSpec)
        return spec.units

    @property
    def last_activation(self) -> str:
        spec = self.computing[-1].spec
        assert isinstance(spec, DenseSpec)
        return spec.activation


def read_chain(model: Any) -> Chain:
    """The chain of a built, compiled Keras model, or :class:`EngineError` naming the first
    layer (or the optimizer, or the loss) that cannot be stacked."""
    layers = _chain_layers(model)
    stacked = tuple(read_layer(layer, index) for index, layer in enumerate(layers, 1))
    for index, layer in enumerate(stacked[1:], 2):
        if isinstance(layer, ComputeLayer) and isinstance(layer.spec, EmbeddingSpec):
            raise refuse(f"layer {index} {layer.name!r} (Embedding)",
                         "an Embedding must be the model's first layer, with nothing before it")
    if not stacked or not (isinstance(stacked[-1], ComputeLayer)
                           and isinstance(stacked[-1].spec, DenseSpec)):
        raise refuse(f"model {model.name!r}", "it must end in a Dense layer")
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    if not compiled:
        raise refuse(f"model {model.name!r}", "it is not compiled; build_model must return "
                      "model.compile(...)'s model")
    loss, from_logits = _loss(compiled)
    input_shape = tuple(int(n) for n in model.inputs[0].shape[1:])
    return Chain(input_shape, stacked, _optimizer(compiled["optimizer"]), loss, from_logits,
                 _metrics(compiled.get("metrics")))


def _chain_layers(model: Any) -> list[Any]:
    """The model's layers in order, checked to form one chain (InputLayer dropped)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise refuse(f"model {model.name!r}", f"it has {len(model.inputs)} inputs and "
                      f"{len(model.outputs)} outputs, not one of each")
    if any(n is None for n in model.inputs[0].shape[1:]):
        raise refuse(f"model {model.name!r}", f"its input shape "
                      f"{tuple(model.inputs[0].shape)} has a free dimension besides the rows")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    sequential = type(model).__name__ == "Sequential"  # a chain by construction (it may have
    previous = model.inputs[0]                          # been built more than once)
    for index, layer in enumerate(layers, 1):
        if not sequential and layer.input is not previous:
            raise refuse(f"layer {index} {layer.name!r} ({type(layer).__name__})",
                          "it is not fed by the layer before it (the model branches)")
        previous = layer.output
        if isinstance(previous, list | tuple):  # its own refusal says why, if it has one
            read_layer(layer, index)            # (a Bidirectional with merge_mode=None)
            raise refuse(f"layer {index} {layer.name!r} ({type(layer).__name__})",
                          "it has more than one output")
    if layers and not sequential and previous is not model.outputs[0]:
        raise refuse(f"model {model.name!r}", "its output is not its last layer's")
    return layers


def _optimizer(serialized: Any) -> Optimizer:
    if isinstance(serialized, str):
        name, config = serialized.lower(), {}
    else:
        name, config = str(serialized["class_name"]).lower(), dict(serialized["config"])
    if name not in OPTIMIZERS:
        raise refuse(f"optimizer {name!r}", f"use one of {', '.join(OPTIMIZERS)}")
    what = f"optimizer {name!r}"
    for key in _UNSUPPORTED_OPTIMIZER_KEYS:
        if config.get(key) is not None:
            raise refuse(what, f"{key}={config[key]!r} is not supported")
    if config.get("gradient_accumulation_steps") not in (None, 1):
        raise refuse(what, "gradient_accumulation_steps is not supported")
    if config.get("use_ema"):
        raise refuse(what, "use_ema is not supported")
    if name == "adam" and config.get("amsgrad"):
        raise refuse(what, "amsgrad is not supported")
    if name == "rmsprop" and config.get("centered"):
        raise refuse(what, "centered=True is not supported")
    if name != "adamw" and config.get("weight_decay") is not None:
        raise refuse(what, "weight_decay is supported on AdamW only")
    if "learning_rate" in config and not isinstance(config["learning_rate"], int | float):
        raise refuse(what, "a learning-rate schedule is not supported; give a number")
    return Optimizer(name, config)


def _loss(compiled: Mapping[str, Any]) -> tuple[str, bool]:
    serialized = compiled.get("loss")
    if compiled.get("loss_weights") is not None:
        raise refuse("loss", "loss_weights are not supported")
    if isinstance(serialized, str):
        key, config = serialized, {}
    elif isinstance(serialized, Mapping) and "class_name" in serialized:
        key, config = str(serialized["class_name"]), dict(serialized.get("config", {}))
    else:
        raise refuse(f"loss {serialized!r}", f"use one of {', '.join(LOSSES)}")
    name = _LOSS_NAMES.get(key.lower().replace("-", "_"))
    if name is None:
        raise refuse(f"loss {key!r}", f"use one of {', '.join(LOSSES)}")
    if config.get("label_smoothing"):
        raise refuse(f"loss {key!r}", "label_smoothing is not supported")
    if config.get("reduction", "sum_over_batch_size") != "sum_over_batch_size":
        raise refuse(f"loss {key!r}", f"reduction {config['reduction']!r} is not supported")
    return name, bool(config.get("from_logits", False))


def _metrics(metrics: Any) -> tuple[str, ...]:
    if metrics is None:
        return ()
    names = []
    for metric in metrics if isinstance(metrics, list | tuple) else [metrics]:
        if isinstance(metric, Mapping) and metric.get("class_name") in _METRIC_CLASSES:
            metric = str((metric.get("config") or {}).get("name") or
                         _METRIC_CLASSES[metric["class_name"]])
        if not isinstance(metric, str):
            raise refuse(f"metric {metric!r}", "give metrics by name (e.g. 'accuracy') or as "
                          f"one of {', '.join(_METRIC_CLASSES)}")
        names.append(metric)
    return tuple(names)
