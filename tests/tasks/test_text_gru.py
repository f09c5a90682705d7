"""The text-gru task: its corpus, its layers per placement, that it stacks on the population
engine, and its name beside the test model of the same name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sweep.config import build_config
from sweep.exceptions import ConfigError
from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import get_task, text_gru

from ..references.models import task_named

TASK = get_task("text-gru")


def test_registered_with_its_placements_and_the_population_engine_first() -> None:
    assert TASK is text_gru.TEXT_GRU
    assert TASK.placements == ("embedding", "recurrent", "after")
    assert TASK.engines == ("population", "keras")
    assert not TASK.supports_max_norm
    assert build_config({"task": "text-gru"}).resolved_engine == "population"
    # the references' small test model keeps its name; the built-in task is get_task's
    assert task_named("text-gru") is not TASK
    assert task_named("text-gru").placements == ("embedding", "recurrent", "output")


def _rule(x: np.ndarray) -> np.ndarray:
    """The documented label before the noise, read off the tokens one sentence at a time."""
    labels = []
    for row in x:
        good = np.flatnonzero(np.isin(row, text_gru.POSITIVE))
        bad = np.flatnonzero(np.isin(row, text_gru.NEGATIVE))
        if len(good) == len(bad) == 0:
            labels.append(2)
            continue
        (g,), (b,) = good, bad  # one of each
        labels.append(0 if g > b else 1)
    return np.array(labels)


def test_corpus_labels_vocabulary_and_split() -> None:
    data = TASK.load_data()
    length = text_gru.LENGTH
    assert data.train_x.shape == (400, length) and data.test_x.shape == (400, length)
    assert data.train_x.dtype == np.int32 and data.train_y.dtype == np.int32
    for x, y in ((data.train_x, data.train_y), (data.test_x, data.test_y)):
        assert x.min() >= 1 and x.max() < text_gru.VOCABULARY
        agree = (_rule(x) == y).mean()
        assert 0.88 < agree < 0.96  # one label in ten redrawn at random (a third unchanged)
        assert all(0.25 < (y == c).mean() < 0.42 for c in range(3))
    # order decides: as often positive-then-negative as the other way round
    y = _rule(data.train_x)
    assert 0.4 < (y == 0).sum() / (y < 2).sum() < 0.6


def test_generator_is_deterministic() -> None:
    x, y = text_gru.generate(800)
    again_x, again_y = text_gru.generate(800)
    np.testing.assert_array_equal(x, again_x)
    np.testing.assert_array_equal(y, again_y)
    data = text_gru.load_data.__wrapped__()  # bypass the cache
    np.testing.assert_array_equal(data.train_x, x[:400])
    np.testing.assert_array_equal(data.test_y, y[400:])
    other, _ = text_gru.generate(800, seed=text_gru.DATA_SEED + 1)
    assert not np.array_equal(other, x)


def _layers(cell: Cell) -> list[tuple[Any, ...]]:
    model = TASK.build_model(cell)
    out: list[tuple[Any, ...]] = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Bidirectional":
            gru = layer.forward_layer
            out.append((kind, gru.units, gru.cell.dropout, gru.cell.recurrent_dropout,
                        gru.return_sequences, layer.merge_mode))
        elif kind == "Dropout":
            out.append((kind, layer.rate))
        elif kind == "Embedding":
            out.append((kind, layer.input_dim, layer.output_dim))
        else:
            out.append((kind, layer.units, layer.activation.__name__))
    return out


EMBEDDING = ("Embedding", 200, text_gru.EMBEDDING)
DENSE = ("Dense", text_gru.DENSE, "relu")
OUTPUT = ("Dense", 3, "softmax")


def _grus(rate: float) -> list[tuple[Any, ...]]:
    units = text_gru.UNITS
    return [("Bidirectional", units, rate, rate, True, "concat"),
            ("Bidirectional", units, rate, rate, False, "concat")]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (Cell(0.0, BASELINE_PLACEMENT, None, 0), [EMBEDDING, *_grus(0.0), DENSE, OUTPUT]),
        (Cell(0.3, "embedding", None, 0),
         [EMBEDDING, ("Dropout", 0.3), *_grus(0.0), DENSE, OUTPUT]),
        (Cell(0.4, "recurrent", None, 0), [EMBEDDING, *_grus(0.4), DENSE, OUTPUT]),
        (Cell(0.5, "after", None, 0),
         [EMBEDDING, _grus(0.0)[0], ("Dropout", 0.5), _grus(0.0)[1], ("Dropout", 0.5), DENSE,
          ("Dropout", 0.5), OUTPUT]),
    ],
)
def test_layers_per_placement(cell: Cell, expected: list[tuple[Any, ...]]) -> None:
    assert _layers(cell) == expected


def test_max_norm_is_refused() -> None:
    assert build_config({"task": "text-gru"}).max_norms == (None,)
    with pytest.raises(ConfigError, match="has no max-norm"):
        build_config({"task": "text-gru", "max_norms": "none,2"})
    with pytest.raises(ValueError, match="no max-norm"):
        TASK.build_model(Cell(0.3, "after", 2.0, 0))


@pytest.mark.parametrize(("placement", "dropouts", "inner"), [
    ("embedding", 1, (0.0, 0.0)), ("recurrent", 0, (0.5, 0.5)), ("after", 3, (0.0, 0.0))])
def test_every_placement_is_a_chain_the_population_engine_stacks(
        placement: str, dropouts: int, inner: tuple[float, float]) -> None:
    """No fallback to ``model.fit``: read as a chain, every layer a spec the engine stacks."""
    from sweep.engines._chain import read_chain
    from sweep.engines._chain_layers import (
        BidirectionalSpec,
        DenseSpec,
        DropoutLayer,
        EmbeddingSpec,
        GRUSpec,
    )

    chain = read_chain(TASK.build_model(Cell(0.5, placement, None, 0)))
    assert chain.input_shape == (text_gru.LENGTH,)
    assert sum(isinstance(layer, DropoutLayer) for layer in chain.layers) == dropouts
    embedding, first, second, dense, output = chain.computing
    assert embedding.spec == EmbeddingSpec(200, text_gru.EMBEDDING)
    for layer, sequences in ((first, True), (second, False)):
        assert layer.spec == BidirectionalSpec(
            GRUSpec(text_gru.UNITS, "tanh", "sigmoid", True, sequences, True), "concat")
        assert layer.inner_rates == inner
    assert (dense.spec, output.spec) == (DenseSpec(text_gru.DENSE, "relu", True),
                                         DenseSpec(3, "softmax", True))
