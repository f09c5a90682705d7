"""A built Keras model read as a dense chain: what the population engine can stack.

A chain is ``Input -> (Dense | Dropout)* `` with one input and one output, each layer fed by the
one before: a ``keras.Sequential`` of such layers, or a functional model wired the same way.
:func:`read_chain` reads it from the compiled model itself (layer configs, the optimizer's class
and config, the loss, the metrics), so a user's ``build_model`` needs no extra code; anything
else is refused with one line naming the first thing that cannot be stacked, and the fix
(``--engine keras`` trains any model).

Supported, each with Keras' own semantics: Dense with any units, activations
:data:`ACTIVATIONS`, bias on or off, no regularizer, no bias constraint, and no kernel
constraint or ``MaxNorm`` over the input axis; Dropout without ``noise_shape``; optimizers
:data:`OPTIMIZERS` with a constant learning rate and no clipping, EMA or gradient accumulation;
losses :data:`LOSSES` (cross-entropies from probabilities or from logits) without label
smoothing or loss weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import EngineError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "linear", "gelu", "elu")
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
FIX = "train it with --engine keras"
_METRIC_CLASSES = {"MeanSquaredError": "mean_squared_error",
                   "MeanAbsoluteError": "mean_absolute_error", "BinaryAccuracy": "binary_accuracy",
                   "CategoricalAccuracy": "categorical_accuracy",
                   "SparseCategoricalAccuracy": "sparse_categorical_accuracy"}


@dataclass(frozen=True)
class DenseLayer:
    name: str
    units: int
    activation: str
    use_bias: bool
    max_norm: float | None  # MaxNorm(max_value) over the input axis, or no constraint


@dataclass(frozen=True)
class DropoutLayer:
    name: str
    rate: float


@dataclass(frozen=True)
class Optimizer:
    """The optimizer's class (lower case) and the config values its update rule reads."""

    name: str
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chain:
    inputs: int  # features per row
    layers: tuple[DenseLayer | DropoutLayer, ...]
    optimizer: Optimizer
    loss: str  # one of LOSSES
    from_logits: bool
    metrics: tuple[str, ...]

    @property
    def dense(self) -> tuple[DenseLayer, ...]:
        return tuple(layer for layer in self.layers if isinstance(layer, DenseLayer))

    @property
    def outputs(self) -> int:
        return self.dense[-1].units


def _refuse(what: str, why: str) -> EngineError:
    return EngineError(f"the population engine cannot stack {what}: {why}; {FIX}")


def read_chain(model: Any) -> Chain:
    """The dense chain of a built, compiled Keras model, or :class:`EngineError` naming the
    first layer (or the optimizer, or the loss) that cannot be stacked."""
    layers = _chain_layers(model)
    stacked = tuple(_layer(layer) for layer in layers)
    if not stacked or not isinstance(stacked[-1], DenseLayer):
        raise _refuse(f"model {model.name!r}", "it must end in a Dense layer")
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    if not compiled:
        raise _refuse(f"model {model.name!r}", "it is not compiled; build_model must return "
                      "model.compile(...)'s model")
    loss, from_logits = _loss(compiled)
    return Chain(int(model.inputs[0].shape[-1]), stacked, _optimizer(compiled["optimizer"]),
                 loss, from_logits, _metrics(compiled.get("metrics")))


def _chain_layers(model: Any) -> list[Any]:
    """The model's layers in order, checked to form one chain (InputLayer dropped)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise _refuse(f"model {model.name!r}", f"it has {len(model.inputs)} inputs and "
                      f"{len(model.outputs)} outputs, not one of each")
    if len(model.inputs[0].shape) != 2:
        raise _refuse(f"model {model.name!r}", f"its input has shape "
                      f"{tuple(model.inputs[0].shape)}, not (rows, features)")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    sequential = type(model).__name__ == "Sequential"  # a chain by construction (it may have
    previous = model.inputs[0]                          # been built more than once)
    for index, layer in enumerate(layers, 1):
        kind = type(layer).__name__
        if kind not in ("Dense", "Dropout"):
            raise _refuse(f"layer {index} {layer.name!r} ({kind})",
                          "only Dense and Dropout layers are stacked")
        if not sequential and layer.input is not previous:
            raise _refuse(f"layer {index} {layer.name!r} ({kind})",
                          "it is not fed by the layer before it (the model branches)")
        previous = layer.output
    if layers and not sequential and previous is not model.outputs[0]:
        raise _refuse(f"model {model.name!r}", "its output is not its last layer's")
    return layers


def _layer(layer: Any) -> DenseLayer | DropoutLayer:
    config = layer.get_config()
    what = f"layer {layer.name!r} ({type(layer).__name__})"
    if type(layer).__name__ == "Dropout":
        if config.get("noise_shape") is not None:
            raise _refuse(what, "a noise_shape is not supported")
        return DropoutLayer(layer.name, float(config["rate"]))
    activation = config["activation"]
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise _refuse(what, f"activation {activation!r} is not one of {', '.join(ACTIVATIONS)}")
    for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                "bias_constraint"):
        if config.get(key) is not None:
            raise _refuse(what, f"its {key} is not supported")
    return DenseLayer(layer.name, int(config["units"]), activation, bool(config["use_bias"]),
                      _max_norm(config.get("kernel_constraint"), what))


def _max_norm(constraint: Mapping[str, Any] | None, what: str) -> float | None:
    if constraint is None:
        return None
    name = constraint.get("class_name")
    settings = constraint.get("config", {})
    if name != "MaxNorm" or settings.get("axis", 0) != 0:
        raise _refuse(what, f"kernel constraint {name!r} is not MaxNorm over the input axis")
    return float(settings["max_value"])


def _optimizer(serialized: Any) -> Optimizer:
    if isinstance(serialized, str):
        name, config = serialized.lower(), {}
    else:
        name, config = str(serialized["class_name"]).lower(), dict(serialized["config"])
    if name not in OPTIMIZERS:
        raise _refuse(f"optimizer {name!r}", f"use one of {', '.join(OPTIMIZERS)}")
    what = f"optimizer {name!r}"
    for key in _UNSUPPORTED_OPTIMIZER_KEYS:
        if config.get(key) is not None:
            raise _refuse(what, f"{key}={config[key]!r} is not supported")
    if config.get("gradient_accumulation_steps") not in (None, 1):
        raise _refuse(what, "gradient_accumulation_steps is not supported")
    if config.get("use_ema"):
        raise _refuse(what, "use_ema is not supported")
    if name == "adam" and config.get("amsgrad"):
        raise _refuse(what, "amsgrad is not supported")
    if name == "rmsprop" and config.get("centered"):
        raise _refuse(what, "centered=True is not supported")
    if name != "adamw" and config.get("weight_decay") is not None:
        raise _refuse(what, "weight_decay is supported on AdamW only")
    if "learning_rate" in config and not isinstance(config["learning_rate"], int | float):
        raise _refuse(what, "a learning-rate schedule is not supported; give a number")
    return Optimizer(name, config)


def _loss(compiled: Mapping[str, Any]) -> tuple[str, bool]:
    serialized = compiled.get("loss")
    if compiled.get("loss_weights") is not None:
        raise _refuse("loss", "loss_weights are not supported")
    if isinstance(serialized, str):
        key, config = serialized, {}
    elif isinstance(serialized, Mapping) and "class_name" in serialized:
        key, config = str(serialized["class_name"]), dict(serialized.get("config", {}))
    else:
        raise _refuse(f"loss {serialized!r}", f"use one of {', '.join(LOSSES)}")
    name = _LOSS_NAMES.get(key.lower().replace("-", "_"))
    if name is None:
        raise _refuse(f"loss {key!r}", f"use one of {', '.join(LOSSES)}")
    if config.get("label_smoothing"):
        raise _refuse(f"loss {key!r}", "label_smoothing is not supported")
    if config.get("reduction", "sum_over_batch_size") != "sum_over_batch_size":
        raise _refuse(f"loss {key!r}", f"reduction {config['reduction']!r} is not supported")
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
            raise _refuse(f"metric {metric!r}", "give metrics by name (e.g. 'accuracy') or as "
                          f"one of {', '.join(_METRIC_CLASSES)}")
        names.append(metric)
    return tuple(names)
