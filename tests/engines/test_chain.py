"""Reading a built Keras model as a dense chain (what the population engine can stack), and
refusing, in one line naming it, the first layer, optimizer or loss that it cannot."""

from __future__ import annotations

from typing import Any

import pytest

from sweep._keras import import_keras
from sweep.engines._chain import DenseLayer, DropoutLayer, read_chain
from sweep.exceptions import EngineError
from sweep.grid import Cell
from sweep.tasks import get_task

from ..conftest import REPO


@pytest.fixture(scope="module")
def keras() -> Any:
    return import_keras()


def test_the_tutorial_model_is_a_chain() -> None:
    task = get_task("circles")
    chain = read_chain(task.build_model(Cell(0.4, "both", 3.0, 0)))
    assert chain.inputs == 2 and chain.outputs == 1
    assert [type(layer) for layer in chain.layers] == [DropoutLayer, DenseLayer, DropoutLayer,
                                                       DenseLayer]
    hidden, output = chain.dense
    assert (hidden.units, hidden.activation, hidden.use_bias, hidden.max_norm) == (
        500, "relu", True, 3.0)
    assert (output.units, output.activation, output.max_norm) == (1, "sigmoid", None)
    assert [layer.rate for layer in chain.layers if isinstance(layer, DropoutLayer)] == [
        pytest.approx(0.4)] * 2
    assert chain.optimizer.name == "adam"
    assert chain.optimizer.config["learning_rate"] == pytest.approx(0.001)
    assert (chain.loss, chain.from_logits, chain.metrics) == (
        "binary_crossentropy", False, ("accuracy",))


def test_a_users_functional_model_is_a_chain() -> None:
    task = get_task(str(REPO / "examples" / "two_sites.py"))
    chain = read_chain(task.build_model(Cell(0.3, "input", 1.0, 0)))
    assert chain.inputs == 30
    assert [(type(layer).__name__, layer.name) for layer in chain.layers] == [
        ("DropoutLayer", "input_dropout"), ("DenseLayer", "hidden_1"),
        ("DenseLayer", "hidden_2"), ("DenseLayer", "output")]
    assert [d.max_norm for d in chain.dense] == [1.0, 1.0, None]


def test_multi_class_sgd_with_momentum_no_bias_from_logits(keras: Any) -> None:
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16, activation="tanh", use_bias=False),
        keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="linear")])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    chain = read_chain(model)
    assert (chain.inputs, chain.outputs) == (8, 10)
    assert chain.dense[0].use_bias is False and chain.dense[0].activation == "tanh"
    assert chain.optimizer.name == "sgd" and chain.optimizer.config["nesterov"] is True
    assert chain.optimizer.config["momentum"] == pytest.approx(0.9)
    assert (chain.loss, chain.from_logits) == ("sparse_categorical_crossentropy", True)


def test_regression_with_adamw_and_mse(keras: Any) -> None:
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="gelu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(weight_decay=0.01), loss="mse",
                  metrics=["mae"])
    chain = read_chain(model)
    assert (chain.loss, chain.metrics, chain.optimizer.name) == (
        "mean_squared_error", ("mae",), "adamw")
    assert chain.optimizer.config["weight_decay"] == pytest.approx(0.01)


def _sequential(keras: Any, *layers: Any, **compile_args: Any) -> Any:
    model = keras.Sequential([keras.Input((6,)), *layers, keras.layers.Dense(1, "sigmoid")])
    model.compile(**{"optimizer": "adam", "loss": "binary_crossentropy", **compile_args})
    return model


@pytest.mark.parametrize(("build", "fragment"), [
    (lambda k: _sequential(k, k.layers.Reshape((6, 1)), k.layers.Flatten()),
     "cannot stack layer 1 'reshape' (Reshape): only Dense and Dropout layers are stacked"),
    (lambda k: _sequential(k, k.layers.Dense(4, activation="selu")),
     "activation 'selu' is not one of relu, tanh, sigmoid, softmax, linear, gelu, elu"),
    (lambda k: _sequential(k, k.layers.Dense(4, kernel_regularizer="l2")),
     "its kernel_regularizer is not supported"),
    (lambda k: _sequential(k, k.layers.Dense(4, kernel_constraint=k.constraints.NonNeg())),
     "kernel constraint 'NonNeg' is not MaxNorm over the input axis"),
    (lambda k: _sequential(k, k.layers.Dropout(0.2, noise_shape=(None, 1))),
     "a noise_shape is not supported"),
    (lambda k: _sequential(k, optimizer=k.optimizers.Adam(amsgrad=True)),
     "optimizer 'adam': amsgrad is not supported"),
    (lambda k: _sequential(k, optimizer=k.optimizers.Adam(clipnorm=1.0)),
     "optimizer 'adam': clipnorm=1.0 is not supported"),
    (lambda k: _sequential(k, optimizer="adagrad"), "optimizer 'adagrad': use one of"),
    (lambda k: _sequential(k, loss="huber"), "loss 'huber': use one of"),
    (lambda k: _sequential(k, loss=k.losses.BinaryCrossentropy(label_smoothing=0.1)),
     "label_smoothing is not supported"),
])
def test_what_cannot_be_stacked_is_named(keras: Any, build: Any, fragment: str) -> None:
    with pytest.raises(EngineError) as caught:
        read_chain(build(keras))
    message = str(caught.value)
    assert fragment in message and message.endswith("train it with --engine keras")
    assert "\n" not in message


def test_a_branching_model_is_not_a_chain(keras: Any) -> None:
    inputs = keras.Input((6,))
    left = keras.layers.Dense(4, name="left")(inputs)
    right = keras.layers.Dense(4, name="right")(inputs)
    merged = keras.layers.Dense(1, activation="sigmoid", name="out")(
        keras.layers.Concatenate(name="joined")([left, right]))
    model = keras.Model(inputs, merged)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(EngineError, match="layer 2 'right' \\(Dense\\): it is not fed by the "
                                          "layer before it"):
        read_chain(model)


def test_an_uncompiled_model_is_refused(keras: Any) -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(EngineError, match="it is not compiled"):
        read_chain(model)
