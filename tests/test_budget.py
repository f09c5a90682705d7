"""The time estimate of a ``model.fit`` sweep counts what ``model.fit`` costs: a start once, every
cell's build, compile, tracing and evaluation, and every epoch's validation pass and callbacks
beyond its batches (the figures documented in ``sweep/budget.py`` and the tasks). A sweep of
short tutorial cells was estimated at a third of its time when only epochs were counted."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sweep import budget
from sweep.budget import estimate
from sweep.config import build_config
from sweep.tasks import get_task, task_facts


def _seconds(seeds: int, epochs: int, **flags: str) -> float:
    config = build_config(None, {"engine": "keras", "rates": "0,0.4", "max_norms": "none",
                                 "seeds": str(seeds), "epochs": str(epochs),
                                 "mc_passes": "0", **flags})  # MC passes: their own test
    return estimate(config, 1, 1).seconds


def test_a_keras_estimate_counts_the_start_each_cell_and_each_epoch() -> None:
    circles = get_task("circles")
    epoch, cell = circles.epoch_seconds["keras"], circles.cell_seconds["keras"]
    # each epoch of each of the 2 cells (rate 0, rate 0.4 on the hidden layer)
    assert _seconds(1, 11, placements="hidden") - _seconds(1, 10, placements="hidden") == (
        pytest.approx(2 * epoch))
    # each cell: its epochs and its own cost beyond them
    assert _seconds(2, 10, placements="hidden") - _seconds(1, 10, placements="hidden") == (
        pytest.approx(2 * (cell + 10 * epoch)))
    # once per run: the first cell's extra tracing and the data
    assert _seconds(1, 10, placements="hidden") == pytest.approx(
        budget.KERAS_START_SECONDS + 2 * (cell + 10 * epoch))


def test_the_tutorials_keras_figures_are_what_was_measured() -> None:
    """Measured on this 2-core machine (the comments beside the figures): a tutorial epoch of
    ``model.fit`` (one batch, the validation pass, callbacks) 0.085-0.10 s, a cell's cost
    beyond its epochs 0.9-1.1 s. The user's sweep of short cells, 60 cells x 10 epochs, then
    comes to about two minutes, as it took, where 0.06 s an epoch alone said 36 s."""
    circles = get_task("circles")
    assert 0.085 <= circles.epoch_seconds["keras"] <= 0.10
    assert 0.9 <= circles.cell_seconds["keras"] <= 1.1
    short = _seconds(30, 10, placements="hidden")
    assert short >= 60 * (0.9 + 10 * 0.085) and short >= 3 * 60 * 10 * 0.06
    for name in ("digits-cnn", "sequence-lstm"):
        assert get_task(name).cell_seconds["keras"] >= 1.0, name


def test_a_users_keras_task_is_estimated_from_its_batches_epochs_and_cells(
        tmp_path: Path) -> None:
    """Without measured figures: batches of the training rows, each epoch's fixed cost and
    each cell's, as documented in ``sweep/budget.py``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 4)).round(4)
    rows = [",".join(map(str, r)) + f",{int(r[0] > 0)}" for r in x]
    table = tmp_path / "table.csv"
    table.write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")
    flags = {"task": "tabular", "data": str(table), "target": "label", "placements": "hidden"}
    train_rows = 700  # the default stratified 70/30 split
    steps = -(-train_rows // 32)
    per_epoch = budget.STEP_SECONDS * steps + budget.KERAS_EPOCH_SECONDS
    assert _seconds(1, 10, **flags) == pytest.approx(
        budget.KERAS_START_SECONDS + 2 * (budget.KERAS_CELL_SECONDS + 10 * per_epoch))
    assert _seconds(1, 11, **flags) - _seconds(1, 10, **flags) == pytest.approx(2 * per_epoch)


def test_a_population_estimate_counts_its_compile_once_for_every_task() -> None:
    """112 short cells of the built-in tutorial were "about 0 s": the program's compile, paid
    once per run whatever the task, was counted only for a user's task."""
    config = build_config(None, {"engine": "population", "rates": "0:0.9:0.1",
                                 "seeds": "2", "epochs": "30", "max_norms": "none,2"})
    seconds = estimate(config, 256, 1).seconds
    assert seconds >= budget.POPULATION_COMPILE_SECONDS
    assert estimate(build_config(None, {**{"engine": "population", "rates": "0:0.9:0.1",
                                          "seeds": "2", "max_norms": "none,2"},
                                       "epochs": "60"}), 256, 1).seconds > seconds


def test_population_workers_share_the_training_but_not_the_compile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker is a process of one intra-op thread: two on two cores halve the training
    time of a population sweep (its compile is paid by each at once); a third core-less worker
    adds nothing."""
    monkeypatch.setattr(budget, "cores", lambda: 2)
    config = build_config(None, {"task": "text-gru"})
    one, two, three = (estimate(config, 64, workers).seconds for workers in (1, 2, 3))
    once = budget.POPULATION_COMPILE_SECONDS
    assert two - once == pytest.approx((one - once) / 2)
    assert three == pytest.approx(two)


def test_mc_passes_add_a_forward_pass_per_evaluated_row_and_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """text-gru's 50 passes over its 400 test rows cost 50 x 400 forward passes per cell, each a
    third of a training row's share of an epoch (measured here: 1.06 s per cell against 0.93 s
    of training); a regression task's passes run over its validation and test rows."""
    monkeypatch.setattr(budget, "cores", lambda: 1)
    task = get_task("text-gru")
    with_mc, without = (estimate(build_config(None, {"task": "text-gru", "mc_passes": passes}),
                                 64, 1) for passes in ("50", "0"))
    cells = with_mc.cells
    per_cell = 50 * 400 * task.epoch_seconds["population"] / (3 * 400)
    assert with_mc.seconds - without.seconds == pytest.approx(cells * per_cell)
    regression = str(Path(__file__).parent.parent / "examples" / "regression.py")
    with_mc, without = (estimate(build_config(None, {"task": regression, "mc_passes": passes}),
                                 64, 1) for passes in ("50", "0"))
    shapes = task_facts(get_task(regression)).shapes
    rows = shapes["validation_x"][0][0] + shapes["test_x"][0][0]
    per_cell = 50 * rows * budget.POPULATION_STEP_SECONDS * math.ceil(
        shapes["train_x"][0][0] / 32) / (3 * shapes["train_x"][0][0])
    assert with_mc.seconds - without.seconds == pytest.approx(with_mc.cells * per_cell)


@pytest.mark.parametrize(("seeds", "workers"), [("1", 1), ("10", 2)])
def test_auto_workers_are_one_per_core_only_for_a_sweep_over_a_minute(
        monkeypatch: pytest.MonkeyPatch, seeds: str, workers: int) -> None:
    """``--workers auto`` (the default): the tutorial's grid on one seed is about 30 s for one
    worker, trained in the launching process; on ten seeds it is minutes, one worker per core.
    A worker is a process of one intra-op thread, so a second core is otherwise idle."""
    from sweep.runner import plan

    monkeypatch.setattr(budget, "cores", lambda: 2)
    config = build_config(None, {"seeds": seeds})
    assert config.workers == "auto"
    one = estimate(config, 256, 1).seconds
    assert (one > budget.AUTO_WORKERS_SECONDS) == (workers == 2)
    _, work, chosen, notices, _ = plan(config)
    assert (chosen, work.workers, notices) == (workers, workers, [])
    assert f"with {workers} worker" in work.describe()


@pytest.mark.parametrize(("value", "parsed"), [("auto", "auto"), ("AUTO", "auto"), ("3", 3),
                                               (2, 2)])
def test_workers_take_a_count_or_auto(value: object, parsed: object) -> None:
    assert build_config(None, {"workers": value}).workers == parsed


def test_auto_workers_are_no_more_than_the_sweeps_claims(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4000-epoch model.fit cell takes minutes, but one cell is one claim: one worker."""
    from sweep.runner import plan

    monkeypatch.setattr(budget, "cores", lambda: 2)
    one_cell = build_config(None, {"engine": "keras", "rates": "0", "max_norms": "none",
                                   "seeds": "1", "epochs": "4000"})
    assert estimate(one_cell, 1, 1).seconds > budget.AUTO_WORKERS_SECONDS
    assert plan(one_cell)[2] == 1
    assert plan(one_cell.replace(seeds=(0, 1)))[2] == 2


def test_an_explicit_worker_count_is_kept_for_a_short_sweep(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sweep.runner import plan

    monkeypatch.setattr(budget, "cores", lambda: 2)
    assert plan(build_config(None, {"seeds": "1", "workers": "2"}))[2] == 2
    assert plan(build_config(None, {"seeds": "10", "workers": "1"}))[2] == 1
