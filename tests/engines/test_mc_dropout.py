"""MC dropout and calibration figures of classification cells, on both engines: a model without
dropout gives identical standard and MC figures; the figures are sweep.calibration's of the
outputs the engine produced (recomputed here from a replayed model); dropout changes them."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from sweep._keras import import_keras
from sweep.calibration import class_probabilities, figures, mc_probabilities
from sweep.engines import CellResult, TrainSettings, get_engine, train_all
from sweep.engines._chain_forward import forward, mask_counters
from sweep.engines._chain_graph import ChainTraining
from sweep.engines._chain_layers import KINDS
from sweep.engines._chain_mc import MC_SALT, first_stochastic, layer_keeps
from sweep.engines._chain_members import MemberBuilder, population_shape, stack
from sweep.engines._chain_train import most_members, padded_size
from sweep.engines._population_rng import dropout_step_key
from sweep.engines.keras_fit import calibration_figures
from sweep.engines.population import PopulationEngine
from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import get_task

from ..conftest import REPO

TASK = get_task("circles")
EPOCHS = 3
PASSES = 8
SETTINGS = TrainSettings(EPOCHS, 32, PASSES)
CELLS = [Cell(0.0, BASELINE_PLACEMENT, None, 0), Cell(0.5, "both", None, 1)]
NAMES = ("accuracy", "nll", "brier", "ece")


def _standard(result: CellResult) -> list[float]:
    return [result.calibration[name] for name in NAMES]


def _mc(result: CellResult) -> list[float]:
    return [result.calibration[f"mc_{name}"] for name in NAMES]


def _labels() -> np.ndarray:
    return np.asarray(TASK.load_data().compared[1]).reshape(-1).astype(np.int64)


@pytest.fixture(scope="module")
def keras_results() -> list[CellResult]:
    return train_all(get_engine("keras"), TASK, CELLS, SETTINGS)


@functools.cache
def _population_results(cells: tuple[Cell, ...]) -> list[CellResult]:
    return train_all(PopulationEngine(), TASK, list(cells), SETTINGS)


@pytest.fixture(scope="module")
def population_results() -> list[CellResult]:
    return _population_results(tuple(CELLS))


@pytest.mark.parametrize("engine", ["keras", "population"])
def test_without_dropout_standard_and_mc_figures_are_identical(
        engine: str, request: pytest.FixtureRequest) -> None:
    baseline, dropped = request.getfixturevalue(f"{engine}_results")
    assert set(baseline.calibration) == {*NAMES, *(f"mc_{n}" for n in NAMES)}
    assert _mc(baseline) == _standard(baseline)  # exactly
    assert _mc(dropped) != _standard(dropped)
    for result in (baseline, dropped):  # the standard figures are the engine's evaluation's
        assert result.calibration["accuracy"] == result.test_metric
        assert result.calibration["nll"] == pytest.approx(result.test_loss, rel=1e-5)


def test_a_population_without_dropout_runs_no_passes_and_gives_identical_figures() -> None:
    (baseline,) = train_all(PopulationEngine(), TASK, CELLS[:1], SETTINGS)
    assert _mc(baseline) == _standard(baseline)  # exactly
    assert baseline.calibration["accuracy"] == baseline.test_metric


def test_no_passes_no_mc_figures() -> None:
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = TASK.build_model(CELLS[1])
    x, y = TASK.load_data().compared
    assert set(calibration_figures(model, x, y, 0)) == set(NAMES)


def test_keras_figures_are_calibrations_of_the_replayed_models_outputs(
        keras_results: list[CellResult]) -> None:
    """The cell replayed as the engine trains it (seed, build, fit), then its outputs with
    dropout off and PASSES calls with it on, averaged by sweep.calibration."""
    keras = import_keras()
    data = TASK.load_data()
    x, _ = data.compared
    for cell, result in zip(CELLS, keras_results, strict=True):
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(cell.seed)
        model = TASK.build_model(cell)
        model.fit(data.train_x, data.train_y, validation_data=data.compared, epochs=EPOCHS,
                  batch_size=32, verbose=0)
        model.evaluate(data.train_x, data.train_y, verbose=0)
        model.evaluate(data.test_x, data.test_y, verbose=0)
        standard = class_probabilities(np.asarray(model(x, training=False)))
        passes = np.stack([np.asarray(model(x, training=True)) for _ in range(PASSES)])
        mc = mc_probabilities(class_probabilities(passes))
        assert _standard(result) == pytest.approx(list(figures(standard, _labels()).values()),
                                                  abs=1e-6)
        assert _mc(result) == pytest.approx(list(figures(mc, _labels()).values()), abs=1e-6)


def _trained_population(cells: list[Cell]) -> tuple[Any, ChainTraining]:
    data = TASK.load_data()
    build = MemberBuilder(TASK)
    members = [build(cell) for cell in cells]
    rows = len(data.train_x)
    size = padded_size(len(members), most_members(members[0], rows, 32))
    shape = population_shape(members, size, TASK.metric, rows, 32, peers=members)
    training = ChainTraining(shape, stack(members, size), (data.train_x, data.train_y),
                             data.compared, EPOCHS)
    training.train(EPOCHS)
    return shape, training


HIDDEN_CELLS = [Cell(0.0, BASELINE_PLACEMENT, None, 0), Cell(0.5, "hidden", None, 1)]


@pytest.mark.parametrize(("cells", "deterministic_layers"), [(CELLS, 0), (HIDDEN_CELLS, 1)],
                         ids=["input-dropout", "hidden-dropout"])
def test_population_figures_are_calibrations_of_the_members_passes(
        cells: list[Cell], deterministic_layers: int) -> None:
    """The population replayed, then every pass run eagerly one by one (outside the compiled
    program, every layer in every pass) with the engine's masks, averaged by
    sweep.calibration. With hidden dropout only, the program runs the first layer once for
    all its passes: the same figures."""
    import tensorflow as tf

    results = _population_results(tuple(cells))
    shape, training = _trained_population(cells)
    assert first_stochastic(shape) == deterministic_layers
    x = tf.constant(np.asarray(TASK.load_data().compared[0]), tf.float32)
    rates, scales, *_, keys = training._settings[:5]
    shared = tf.broadcast_to(x[None], (shape.members, *x.shape))
    rows = int(x.shape[0])
    counters = {(i, kind): mask_counters(spec, kind, i, shape.in_shapes[i], rows,
                                         shape.noise_shape(i, kind))
                for i, spec in enumerate(shape.specs) for kind in range(len(KINDS))
                if shape.dropout[i][kind]}
    mc_keys = tf.bitwise.bitwise_xor(keys, tf.constant(MC_SALT, tf.uint32))
    standard = np.asarray(forward(shape.specs, shape.counts, training.weights, shared, None)[1])
    passes = np.stack([np.asarray(forward(
        shape.specs, shape.counts, training.weights, shared,
        layer_keeps(shape, rows, dropout_step_key(mc_keys, t), rates, scales, counters))[1])
        for t in range(PASSES)])
    for k, result in enumerate(results):
        mc = mc_probabilities(class_probabilities(passes[:, k]))
        assert _standard(result) == pytest.approx(
            list(figures(class_probabilities(standard[k]), _labels()).values()), abs=1e-6)
        assert _mc(result) == pytest.approx(list(figures(mc, _labels()).values()), abs=1e-6)
    assert not np.array_equal(passes[0, 1], passes[1, 1])  # a fresh mask per pass


REGRESSION = ("gaussian_nll", "mc_mse", "mc_mae", "mc_gaussian_nll")


@pytest.mark.parametrize("engine", ["keras", "population"])
def test_a_regression_records_its_predictive_figures(engine: str) -> None:
    """The MSE loss example (compared on validation): no classifier figures; without dropout
    the MC figures are standard inference's exactly, and the Gaussian NLL is the closed form of
    the engine's own losses (the training residual variance is the train MSE with dropout off):
    ``0.5 log(2 pi r2) + mse / (2 r2)``; with dropout the MC figures differ."""
    import math

    task = get_task(str(REPO / "examples" / "regression.py"))
    trainer = get_engine("keras") if engine == "keras" else PopulationEngine()
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, 0), Cell(0.5, task.placements[0], None, 0)]
    baseline, dropped = train_all(trainer, task, cells, TrainSettings(3, 32, PASSES))
    for result in (baseline, dropped):
        assert set(result.calibration) == set(result.test_calibration) == set(REGRESSION)
        assert result.reliability == {}
    r2 = baseline.train_loss
    for found, mse in ((baseline.calibration, baseline.validation_loss),
                       (baseline.test_calibration, baseline.test_loss)):
        assert mse is not None
        assert found["mc_gaussian_nll"] == found["gaussian_nll"]  # exactly
        assert found["mc_mse"] == pytest.approx(mse, rel=1e-5)
        assert found["gaussian_nll"] == pytest.approx(
            0.5 * math.log(2 * math.pi * r2) + mse / (2 * r2), rel=1e-4)
    assert dropped.calibration["mc_gaussian_nll"] != dropped.calibration["gaussian_nll"]
    assert dropped.calibration["mc_mse"] != pytest.approx(dropped.validation_loss, rel=1e-5)


def _validated() -> Any:
    """circles with its first 35 test rows as a validation split."""
    import dataclasses

    from sweep.tasks import Dataset

    data = TASK.load_data()
    split = Dataset(data.train_x, data.train_y, data.test_x[35:], data.test_y[35:],
                    data.test_x[:35], data.test_y[:35])
    return dataclasses.replace(TASK, name="circles-validated", load_data=lambda: split)


@pytest.mark.parametrize("engine", ["keras", "population"])
def test_validated_tasks_record_the_figures_on_validation_and_on_test(engine: str) -> None:
    """Compared on validation, a cell records the figures on validation and on test (and stores
    them as validation_<figure> and test_<figure>)."""
    from sweep.storage.schema import result_attrs

    trainer = get_engine("keras") if engine == "keras" else PopulationEngine()
    result = train_all(trainer, _validated(), [CELLS[1]], SETTINGS)[0]
    everything = {*NAMES, *(f"mc_{n}" for n in NAMES)}
    assert set(result.calibration) == set(result.test_calibration) == everything
    assert result.calibration["accuracy"] == result.validation_metric
    assert result.test_calibration["accuracy"] == result.test_metric
    assert result.test_calibration["nll"] == pytest.approx(result.test_loss, rel=1e-5)
    assert result.calibration != result.test_calibration
    attrs = result_attrs(result)
    for name in everything:
        assert attrs[f"validation_{name}"] == result.calibration[name]
        assert attrs[f"test_{name}"] == result.test_calibration[name]


@functools.cache
def _population_mc(name: str) -> list[CellResult]:
    from ..references.definitions import DEFINITIONS, population_cells

    definition = DEFINITIONS[name]
    return train_all(PopulationEngine(), definition.task_of(), population_cells(name),
                     TrainSettings(definition.epochs, definition.batch_size,
                                   definition.mc_passes))


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xdist_group(f"population-{name}"))
    for name in ("circles-mc", "multiclass-mc")])
@pytest.mark.parametrize("figure", [*NAMES, *(f"mc_{n}" for n in NAMES)])
def test_mc_figures_agree_with_the_keras_engine_in_distribution(name: str, figure: str) -> None:
    """120 population seeds against 40 stored Keras-engine seeds (``model.fit``, then 50 calls
    ``model(x, training=True)``): every standard and MC figure on test, Welch's t and
    Mann-Whitney U at alpha 0.01 (the tutorial's model at rate 0.5 on its hidden layer, 200
    epochs; a ten-class softmax MLP at rate 0.3, 15 epochs)."""
    from scipy.stats import mannwhitneyu, ttest_ind

    from ..references.definitions import population_seeds
    from ..references.store import load

    population = _population_mc(name)
    stored = list(load(name).values())
    assert len(population) == population_seeds(name) >= len(stored) >= 20
    ours = np.array([r.calibration[figure] for r in population], dtype=np.float32)
    theirs = np.array([k.calibration[figure] for k in stored if k.calibration],
                      dtype=np.float32)
    assert len(theirs) == len(stored)
    welch = ttest_ind(ours, theirs, equal_var=False).pvalue
    rank = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
    print(f"{name} {figure}: population {ours.mean():.4f} +- {ours.std(ddof=1):.4f} (n="
          f"{len(ours)}), keras {theirs.mean():.4f} +- {theirs.std(ddof=1):.4f} (n="
          f"{len(theirs)}); Welch p={welch:.3g}, Mann-Whitney p={rank:.3g}")
    assert welch >= 0.01 and rank >= 0.01, f"{name} {figure}"
