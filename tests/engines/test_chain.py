"""Reading a built Keras model as a chain (what the population engine can stack), and
refusing, in one line naming it, the first layer, optimizer or loss that it cannot."""

from __future__ import annotations

from typing import Any

import pytest

from sweep._keras import import_keras
from sweep.engines._chain import ComputeLayer, DropoutLayer, read_chain
from sweep.engines._chain_layers import (
    BidirectionalSpec,
    Conv1DSpec,
    ConvSpec,
    DenseSpec,
    EmbeddingSpec,
    FlattenSpec,
    GlobalPoolSpec,
    GRUSpec,
    LSTMSpec,
    Pool1DSpec,
    PoolSpec,
    SimpleRNNSpec,
)
from sweep.exceptions import EngineError, NotStackableError
from sweep.grid import Cell
from sweep.tasks import get_task

from ..conftest import REPO

pytestmark = pytest.mark.xdist_group("engines-chain")  # its module fixtures train once


@pytest.fixture(scope="module")
def keras() -> Any:
    return import_keras()


def test_the_tutorial_model_is_a_chain() -> None:
    task = get_task("circles")
    chain = read_chain(task.build_model(Cell(0.4, "both", 3.0, 0)))
    assert chain.input_shape == (2,) and chain.outputs == 1
    assert [type(layer) for layer in chain.layers] == [DropoutLayer, ComputeLayer, DropoutLayer,
                                                       ComputeLayer]
    hidden, output = chain.computing
    assert (hidden.spec, hidden.max_norm) == (DenseSpec(500, "relu", True), 3.0)
    assert (output.spec, output.max_norm) == (DenseSpec(1, "sigmoid", True), None)
    assert [layer.rate for layer in chain.layers if isinstance(layer, DropoutLayer)] == [
        pytest.approx(0.4)] * 2
    assert chain.optimizer.name == "adam"
    assert chain.optimizer.config["learning_rate"] == pytest.approx(0.001)
    assert (chain.loss, chain.from_logits, chain.metrics) == (
        "binary_crossentropy", False, ("accuracy",))


def test_a_users_functional_model_is_a_chain() -> None:
    task = get_task(str(REPO / "examples" / "two_sites.py"))
    chain = read_chain(task.build_model(Cell(0.3, "input", 1.0, 0)))
    assert chain.input_shape == (30,)
    assert [(type(layer).__name__, layer.name) for layer in chain.layers] == [
        ("DropoutLayer", "input_dropout"), ("ComputeLayer", "hidden_1"),
        ("ComputeLayer", "hidden_2"), ("ComputeLayer", "output")]
    assert [d.max_norm for d in chain.computing] == [1.0, 1.0, None]


def test_multi_class_sgd_with_momentum_no_bias_from_logits(keras: Any) -> None:
    model = keras.Sequential([
        keras.Input((8,)), keras.layers.Dense(16, activation="tanh", use_bias=False),
        keras.layers.Dropout(0.2), keras.layers.Dense(10, activation="linear")])
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    chain = read_chain(model)
    assert (chain.input_shape, chain.outputs) == ((8,), 10)
    assert chain.computing[0].spec == DenseSpec(16, "tanh", False)
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


def test_the_digits_cnn_and_the_sequence_lstm_are_chains() -> None:
    cnn = read_chain(get_task("digits-cnn").build_model(Cell(0.3, "both", 2.0, 0)))
    assert cnn.input_shape == (8, 8, 1)
    conv = ConvSpec(32, (3, 3), (1, 1), "valid", "relu", True)
    assert [(type(layer).__name__, getattr(layer, "spec", None)) for layer in cnn.layers] == [
        ("ComputeLayer", conv), ("ComputeLayer", conv), ("DropoutLayer", None),
        ("ComputeLayer", PoolSpec((2, 2), (2, 2), "valid")), ("DropoutLayer", None),
        ("ComputeLayer", FlattenSpec()), ("ComputeLayer", DenseSpec(10, "softmax", True))]
    assert [layer.max_norm for layer in cnn.computing] == [2.0, 2.0, None, None, None]
    spatial, plain = (layer for layer in cnn.layers if isinstance(layer, DropoutLayer))
    assert (spatial.spatial, plain.spatial) == (True, False)
    lstm = read_chain(get_task("sequence-lstm").build_model(Cell(0.25, "variational", None, 0)))
    assert lstm.input_shape == (15, 6)
    first, last = lstm.computing
    assert first.spec == LSTMSpec(32, "tanh", "sigmoid", True, False)
    assert first.inner_rates == (0.25, 0.25) and last.spec == DenseSpec(1, "sigmoid", True)


def test_conv1d_its_poolings_and_spatial_dropout_1d_are_a_chain() -> None:
    from ..references.models import pool2d_layers_model, signal_cnn_model

    chain = read_chain(signal_cnn_model(Cell(0.3, "both", 2.0, 0)))
    assert chain.input_shape == (8, 8)
    assert [getattr(layer, "spec", None) for layer in chain.layers] == [
        Conv1DSpec(8, 3, 1, "causal", 2, "relu", True), None, Pool1DSpec(2, 2, "valid", "max"),
        None, Conv1DSpec(8, 3, 1, "same", 1, "relu", True),
        Pool1DSpec(2, 2, "valid", "average"), GlobalPoolSpec("average", 1, False),
        DenseSpec(10, "softmax", True)]
    spatial, plain = (layer for layer in chain.layers if isinstance(layer, DropoutLayer))
    assert (spatial.spatial, plain.spatial) == (True, False)
    assert [layer.max_norm for layer in chain.computing] == [2.0, None, 2.0, None, None, None]
    images = read_chain(pool2d_layers_model(Cell(0.0, "none", None, 0)))
    assert [layer.spec for layer in images.computing][1:4] == [
        PoolSpec((3, 3), (2, 2), "same", "average"), PoolSpec((2, 1), (1, 1), "valid", "average"),
        GlobalPoolSpec("average", 2, True)]


def test_an_output_with_more_than_one_vector_per_row_is_refused(keras: Any) -> None:
    """A last Dense on a global pooling that keeps its axis gives (1, 10) per row."""
    from sweep.engines._chain_members import build_member
    from sweep.tasks import Task

    from ..references.models import digits_rows

    def build(cell: Cell) -> Any:
        layers = keras.layers
        model = keras.Sequential([keras.Input((8, 8)), layers.Conv1D(4, 3),
                                  layers.GlobalAveragePooling1D(keepdims=True),
                                  layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    task = Task(name="kept-axis", placements=("after",), load_data=digits_rows, build_model=build)
    with pytest.raises(NotStackableError, match=r"an output of shape \(1, 10\) per row: the "
                       "model must end in one vector per row"):
        build_member(task, Cell(0.0, "none", None, 0))


def test_an_embedding_and_grus_are_a_chain() -> None:
    from ..references.models import TOKEN_STEPS, text_gru_model

    chain = read_chain(text_gru_model(Cell(0.2, "recurrent", None, 0)))
    assert chain.input_shape == (TOKEN_STEPS,)
    embedding, first, second, output = chain.computing
    assert embedding.spec == EmbeddingSpec(40, 8)
    assert first.spec == GRUSpec(8, "tanh", "sigmoid", True, True, True)
    assert second.spec == GRUSpec(6, "tanh", "sigmoid", True, False, False)
    assert first.inner_rates == second.inner_rates == (pytest.approx(0.2), pytest.approx(0.2))
    assert output.spec == DenseSpec(1, "sigmoid", True)


def test_bidirectional_layers_are_read_with_their_merge_mode() -> None:
    from ..references.models import text_bidirectional_model

    chain = read_chain(text_bidirectional_model(Cell(0.0, "mul", None, 0)))
    _, gru, lstm, _ = chain.computing
    assert gru.spec == BidirectionalSpec(GRUSpec(5, "tanh", "sigmoid", True, True, True), "mul")
    assert lstm.spec == BidirectionalSpec(LSTMSpec(4, "tanh", "sigmoid", True, False), "mul")


def test_simple_rnns_are_read_alone_and_bidirectional() -> None:
    from ..references.models import text_simple_rnn_model

    chain = read_chain(text_simple_rnn_model(Cell(0.3, "recurrent", None, 0)))
    _, first, both, _ = chain.computing
    assert first.spec == SimpleRNNSpec(6, "relu", True, True)
    assert both.spec == BidirectionalSpec(SimpleRNNSpec(5, "tanh", True, False), "concat")
    assert first.inner_rates == both.inner_rates == (pytest.approx(0.3), pytest.approx(0.3))


def _tokens(keras: Any, *layers: Any) -> Any:
    model = keras.Sequential([keras.Input((5,), dtype="int32"), *layers,
                              keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _images(keras: Any, *layers: Any) -> Any:
    model = keras.Sequential([keras.Input((6, 6, 2)), *layers, keras.layers.Flatten(),
                              keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _steps(keras: Any, *layers: Any) -> Any:
    model = keras.Sequential([keras.Input((5, 3)), *layers, keras.layers.Dense(1, "sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def _unmerged(keras: Any) -> Any:
    """A Bidirectional GRU with merge_mode=None, its two outputs concatenated by hand."""
    inputs = keras.Input((5, 3))
    forward, backward = keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode=None)(inputs)
    joined = keras.layers.Concatenate()([forward, backward])
    model = keras.Model(inputs, keras.layers.Dense(1, "sigmoid")(joined))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


@pytest.mark.parametrize(("build", "fragment"), [
    (lambda k: _images(k, k.layers.Conv2D(4, 3, kernel_constraint=k.constraints.MaxNorm(2))),
     "kernel constraint 'MaxNorm' is not MaxNorm over the input axes (axis=[0, 1, 2])"),
    (lambda k: _images(k, k.layers.Conv2D(4, 3, dilation_rate=2)),
     "dilation_rate and groups are not supported"),
    (lambda k: _images(k, k.layers.UpSampling2D(2)),
     "layer 1 'up_sampling2d' (UpSampling2D): only Dense"),
    (lambda k: _steps(k, k.layers.Conv1D(3, 2, groups=3), k.layers.Flatten()),
     "(Conv1D): groups=3 is not supported (only groups=1)"),
    (lambda k: _steps(k, k.layers.Conv1D(4, 2, kernel_constraint=k.constraints.MaxNorm(2)),
                      k.layers.Flatten()),
     "kernel constraint 'MaxNorm' is not MaxNorm over the input axes (axis=[0, 1])"),
    (lambda k: _steps(k, k.layers.Conv1D(4, 2, data_format="channels_first"),
                      k.layers.Flatten()),
     "(Conv1D): channels_first is not supported"),
    (lambda k: _steps(k, k.layers.LSTM(4, go_backwards=True)), "go_backwards=True is not"),
    (lambda k: _steps(k, k.layers.LSTM(4, recurrent_activation="hard_sigmoid")),
     "recurrent activation 'hard_sigmoid' is not one of"),
    (lambda k: _steps(k, k.layers.SimpleRNN(4, go_backwards=True)), "go_backwards=True is not"),
    (lambda k: _steps(k, k.layers.SimpleRNN(4, recurrent_constraint="non_neg")),
     "its recurrent_constraint is not supported"),
    (lambda k: _steps(k, k.layers.GRU(4, go_backwards=True)), "go_backwards=True is not"),
    (lambda k: _unmerged(k),
     "merge_mode=None is not supported; use one of concat, sum, mul, ave"),
    (lambda k: _steps(k, k.layers.Bidirectional(k.layers.RNN(k.layers.SimpleRNNCell(4)))),
     "only a Bidirectional LSTM or GRU or SimpleRNN is stacked, not RNN"),
    (lambda k: _steps(k, k.layers.Bidirectional(
        k.layers.GRU(4), backward_layer=k.layers.GRU(3, go_backwards=True))),
     "a backward_layer other than the forward layer run backwards is not supported"),
    (lambda k: _tokens(k, k.layers.Embedding(9, 4, mask_zero=True), k.layers.GRU(3)),
     "mask_zero=True is not supported"),
    (lambda k: _tokens(k, k.layers.Dropout(0.2), k.layers.Embedding(9, 4), k.layers.GRU(3)),
     "an Embedding must be the model's first layer"),
])
def test_what_cannot_be_stacked_among_images_and_sequences_is_named(
        keras: Any, build: Any, fragment: str) -> None:
    with pytest.raises(EngineError) as caught:
        read_chain(build(keras))
    assert fragment in str(caught.value) and str(caught.value).endswith(
        "train it with --engine keras")


@pytest.mark.parametrize(("build", "fragment"), [
    (lambda k: _sequential(k, k.layers.Reshape((6, 1)), k.layers.Flatten()),
     "cannot stack layer 1 'reshape' (Reshape): only Dense, Dropout, Conv2D, SpatialDropout2D, "
     "MaxPooling2D, Flatten, LSTM, GRU, Bidirectional, Embedding, SimpleRNN, Conv1D, "
     "SpatialDropout1D, MaxPooling1D, AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, "
     "GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D, GaussianDropout, "
     "GaussianNoise, AlphaDropout layers are stacked"),
    (lambda k: _sequential(k, k.layers.Dense(4, activation="selu")),
     "activation 'selu' is not one of relu, tanh, sigmoid, softmax, linear, gelu, elu"),
    (lambda k: _sequential(k, k.layers.Dense(4, kernel_regularizer="l2")),
     "its kernel_regularizer is not supported"),
    (lambda k: _sequential(k, k.layers.Dense(4, kernel_constraint=k.constraints.NonNeg())),
     "kernel constraint 'NonNeg' is not MaxNorm over the input axes (axis=0)"),
    (lambda k: _sequential(k, k.layers.GaussianDropout(1.0)),
     "layer 1 'gaussian_dropout' (GaussianDropout): rate 1.0 is not below 1"),
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
    assert isinstance(caught.value, NotStackableError)  # its reason without the fix, for notices
    assert message == f"{caught.value.reason}; train it with --engine keras"


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
