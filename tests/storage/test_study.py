"""Runs through the library on a real SQLite file (and PostgreSQL where the queue is
concurrent): resume, extension, settings, optuna CLI."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from sweep import __version__
from sweep.config import build_config
from sweep.engines import CellResult, Curves
from sweep.exceptions import IncompatibleStudyError
from sweep.grid import Cell
from sweep.runner import run_sweep
from sweep.storage import completed, load_curves, open_study
from sweep.storage._optuna import trial_id
from sweep.storage.curves import DASHBOARD_POINTS, dashboard_epochs
from sweep.storage.schema import (
    cell_from_params,
    cell_params,
    distributions,
    library_versions,
    trial_engine,
)
from sweep.storage.synthetic import build_study

from ..conftest import TINY_EPOCHS, cell_key, sqlite_dump

FLAGS = {"study": "demo", "rates": "0,0.4", "placements": "hidden", "max_norms": "none",
         "seeds": "2", "epochs": str(TINY_EPOCHS)}
RECORDED_ATTRS = {"train_accuracy", "train_loss", "test_loss", "fit_seconds", "worker"}
CALIBRATION_ATTRS = {f"test_{mc}{name}" for mc in ("", "mc_")
                     for name in ("accuracy", "nll", "brier", "ece", "reliability")}


def _complete_counts(url: str, name: str) -> Counter[str]:
    study = optuna.load_study(study_name=name, storage=url)
    return Counter(cell_key(t) for t in study.get_trials(
        states=(optuna.trial.TrialState.COMPLETE,)))


def test_run_records_every_cell_once_with_attrs_and_curves(workdir: Path) -> None:
    outcome = run_sweep(build_config(None, FLAGS), show_progress=False)
    assert (outcome.cells, outcome.completed_now, outcome.failed_now) == (4, 4, 0)
    assert (workdir / "studies" / "demo.db").is_file()
    url = "sqlite:///studies/demo.db"
    assert set(_complete_counts(url, "demo").values()) == {1}
    study = optuna.load_study(study_name="demo", storage=url)
    trial = study.trials[0]
    assert set(trial.params) == {"rate", "placement", "seed"}  # max_norm absent = none
    assert set(trial.user_attrs) == RECORDED_ATTRS | CALIBRATION_ATTRS
    for done in study.trials:  # a classifier's figures on the compared split, MC beside
        assert done.user_attrs["test_accuracy"] == done.value
        assert done.user_attrs["test_nll"] == pytest.approx(done.user_attrs["test_loss"], 1e-5)
        if done.params["rate"] == 0:
            assert all(done.user_attrs[f"test_mc_{name}"] == done.user_attrs[f"test_{name}"]
                       for name in ("accuracy", "nll", "brier", "ece"))
        else:
            assert done.user_attrs["test_mc_nll"] != done.user_attrs["test_nll"]
    assert "fixed_params" not in trial.system_attrs
    assert study.user_attrs["sweep_engines"] == [
        {"engine": "population", **library_versions()}]
    assert library_versions()["sweep"] == __version__
    assert trial.intermediate_values and max(trial.intermediate_values) == TINY_EPOCHS
    assert study.user_attrs["sweep_settings"] == {
        "task": "circles", "epochs": TINY_EPOCHS, "batch_size": 32, "optimizer": "adam",
        "metric": "accuracy", "direction": "maximize", "compared_on": "test",
        "mc_passes": 50}
    assert study.metric_names == ["test accuracy"]
    curves = load_curves(outcome.study.engine, [trial_id(trial)])
    epochs, trial_curves = curves[trial_id(trial)]
    assert list(epochs) == list(range(1, TINY_EPOCHS + 1))
    assert float(trial_curves.test_metric[-1]) == pytest.approx(trial.value)


def test_same_command_again_trains_nothing(workdir: Path) -> None:
    config = build_config(None, FLAGS)
    run_sweep(config, show_progress=False)
    again = run_sweep(config, show_progress=False)
    assert (again.already_complete, again.completed_now) == (4, 0)


def test_extending_a_sweep_runs_only_new_cells(workdir: Path) -> None:
    run_sweep(build_config(None, FLAGS), show_progress=False)
    bigger = build_config(None, {**FLAGS, "seeds": "3", "max_norms": "none,2"})
    outcome = run_sweep(bigger, show_progress=False)
    assert outcome.already_complete == 4
    assert outcome.completed_now == len(bigger.cells()) - 4 == 8
    counts = _complete_counts("sqlite:///studies/demo.db", "demo")
    assert len(counts) == 12 and set(counts.values()) == {1}


def test_a_study_from_before_mc_passes_resumes_and_records_no_mc_figures(
        workdir: Path) -> None:
    run_sweep(build_config(None, {**FLAGS, "seeds": "1"}), show_progress=False)
    url = "sqlite:///studies/demo.db"
    study = optuna.load_study(study_name="demo", storage=url)
    older = {k: v for k, v in study.user_attrs["sweep_settings"].items() if k != "mc_passes"}
    study.set_user_attr("sweep_settings", older)  # as an older version of sweep wrote it
    outcome = run_sweep(build_config(None, FLAGS), show_progress=False)
    assert (outcome.already_complete, outcome.completed_now) == (2, 2)
    study = optuna.load_study(study_name="demo", storage=url)
    assert "mc_passes" not in study.user_attrs["sweep_settings"]
    new = [t for t in study.trials if t.params["seed"] == 1]
    assert all("test_nll" in t.user_attrs and "test_mc_nll" not in t.user_attrs for t in new)
    # a study that records them keeps its passes fixed
    other = {**FLAGS, "seeds": "1", "study": "other"}
    run_sweep(build_config(None, other), show_progress=False)
    with pytest.raises(IncompatibleStudyError, match="mc_passes: study has 50, this run has 5"):
        run_sweep(build_config(None, {**other, "mc_passes": "5"}), show_progress=False)


def test_other_fixed_settings_are_refused_without_writing(workdir: Path) -> None:
    run_sweep(build_config(None, FLAGS), show_progress=False)
    db = workdir / "studies" / "demo.db"
    before = sqlite_dump(db)
    with pytest.raises(IncompatibleStudyError, match="epochs: study has 5, this run has 6"):
        run_sweep(build_config(None, {**FLAGS, "epochs": "6"}), show_progress=False)
    study = optuna.load_study(study_name="demo", storage="sqlite:///studies/demo.db")
    assert len(study.trials) == 4
    assert sqlite_dump(db) == before


def test_failed_cells_are_rerun_next_time(workdir: Path) -> None:
    config = build_config(None, FLAGS)
    sweep_study = open_study(study_name="demo", storage_url=config.storage_url, task=None,
                             settings={"task": "circles", "epochs": TINY_EPOCHS,
                                       "batch_size": 32, "optimizer": "adam"}, access="create")
    sweep_study.enqueue_missing(config.cells())
    claims = sweep_study.claim(2)
    sweep_study.record_failure(claims, "simulated failure")
    outcome = run_sweep(config, show_progress=False)
    assert outcome.completed_now == 4
    records = sweep_study.records()
    assert len(completed(records)) == 4
    assert sum(r.state == "failed" for r in records) == 2


@pytest.mark.parametrize(("task", "engine", "rates", "test_rows", "train_rows"), [
    ("circles", "population", "0,0.4", 70, 30),  # a dense chain, hand-derived gradients
    ("circles", "keras", "0,0.4", 70, 30),  # model.fit, model.evaluate
    ("digits-cnn", "population", "0", 500, 200),  # a chain of layers, stacked
])
def test_stored_accuracies_are_the_exact_fractions_of_their_counts(
    workdir: Path, task: str, engine: str, rates: str, test_rows: int, train_rows: int
) -> None:
    """An accuracy is computed in float32 by every engine; what the study stores (the trial's
    value, which optuna-dashboard shows as the best value, and ``train_accuracy``) is k / n as
    a Python float: 32 / 70 is 0.45714285714285713, not float32's 0.4571428596973419."""
    flags = {"study": "exact", "task": task, "engine": engine, "rates": rates,
             "placements": "hidden" if task == "circles" else "pooling", "max_norms": "none",
             "seeds": "2", "epochs": "2"}
    outcome = run_sweep(build_config(None, flags), show_progress=False)
    assert outcome.failed_now == 0
    study = optuna.load_study(study_name="exact", storage="sqlite:///studies/exact.db")
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == outcome.cells
    for trial in trials:
        value, train = trial.value, trial.user_attrs["train_accuracy"]
        assert type(value) is float and value == round(value * test_rows) / test_rows, value
        assert train == round(train * train_rows) / train_rows, train
    # the check would pass by luck if every figure were a fraction float32 holds exactly
    assert any(float(np.float32(t.value)) != t.value for t in trials)


def test_optuna_cli_lists_the_trials(workdir: Path) -> None:
    run_sweep(build_config(None, FLAGS), show_progress=False)
    optuna_cli = shutil.which("optuna") or str(Path(__import__("sys").executable).parent / "optuna")
    result = subprocess.run(
        [optuna_cli, "trials", "--storage", "sqlite:///studies/demo.db", "--study-name", "demo",
         "-f", "json"], capture_output=True, text=True, cwd=workdir, check=True)
    import json

    trials = json.loads(result.stdout)
    assert len(trials) == 4
    assert {t["state"] for t in trials} == {"COMPLETE"}
    assert {(t["params"]["rate"], t["params"]["placement"]) for t in trials} == {
        (0.0, "none"), (0.4, "hidden")}
    # the study names its objective, so Optuna's CLI labels each value with the metric
    assert all(set(t["value"]) == {"test accuracy"} for t in trials)
    assert all(0.0 <= t["value"]["test accuracy"] <= 1.0 for t in trials)


def test_heartbeats_keep_live_claims_and_silence_fails_them(workdir: Path) -> None:
    import time

    from sweep.storage import heartbeat

    settings = {"task": "circles", "epochs": TINY_EPOCHS, "batch_size": 32, "optimizer": "adam"}
    config = build_config(None, FLAGS)
    sweep_study = open_study(study_name="demo", storage_url=config.storage_url, task=None,
                             settings=settings, access="create", heartbeat_seconds=1)
    sweep_study.enqueue_missing(config.cells())
    live, dead = sweep_study.claim(2), sweep_study.claim(2)
    with heartbeat(sweep_study, live, interval=1):
        time.sleep(4.5)  # past the 3 s grace period
        sweep_study.fail_stale()
    states = {r.trial_id: r.state for r in sweep_study.records()}
    assert [states[c.trial_id] for c in live] == ["running", "running"]
    assert [states[c.trial_id] for c in dead] == ["failed", "failed"]


def test_a_cell_enqueued_twice_is_trained_once(workdir: Path) -> None:
    """Two ``run`` commands starting together may both enqueue a cell: only one trains it."""
    from sweep.runner import open_for_run
    from sweep.storage import queue

    config = build_config(None, FLAGS)
    sweep_study = open_for_run(config)
    for _ in range(2):  # what two racing enqueuers leave behind
        queue.enqueue(sweep_study.storage, sweep_study.study_id, config.cells())
    outcome = run_sweep(config, show_progress=False)
    assert outcome.completed_now == 4
    trials = optuna.load_study(study_name="demo", storage=config.storage_url).trials
    assert set(_complete_counts(config.storage_url, "demo").values()) == {1}
    duplicates = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert len(duplicates) == 4
    assert all(t.state == optuna.trial.TrialState.FAIL for t in duplicates)
    assert len(completed(sweep_study.records())) == 4


def test_two_workers_that_find_the_same_cells_missing_enqueue_them_once(
        storage_url: str) -> None:
    """Two workers (two connections, as two processes) look at the study at the same moment,
    both find the same cells missing (a confirmation's, once the grid is done) and enqueue:
    the second looks again under the enqueue lock and adds none (the tutorial's PostgreSQL
    run once trained a 60-cell confirmation twice this way)."""
    import threading

    cells = build_config(None, FLAGS).cells()
    settings = {"task": "circles", "epochs": TINY_EPOCHS, "batch_size": 32, "optimizer": "adam"}
    workers = [open_study(study_name="demo", storage_url=storage_url, task=None,
                          settings=settings, access="create") for _ in range(2)]
    both_looked = threading.Barrier(2, timeout=60)
    for worker in workers:
        worker.engine  # noqa: B018 - each connects (and finds sweep's table) before the race
        looks = [worker.records]

        def records(looks: list[Any] = looks) -> Any:
            if len(looks) == 1:  # the first look: wait until the other worker has looked too
                looks.append(True)
                both_looked.wait()
            return looks[0]()

        worker.records = records  # type: ignore[method-assign]
    added: list[int] = []
    threads = [threading.Thread(target=lambda w=w: added.append(w.enqueue_missing(cells)))
               for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(added) == [0, len(cells)]
    trials = optuna.load_study(study_name="demo", storage=storage_url).trials
    assert sorted(cell_key(t) for t in trials) == sorted(c.key for c in cells)
    for worker in workers:
        worker.close()


def _result(cell: Cell, epochs: int = 120) -> CellResult:
    test_accuracy = np.linspace(0.5, 0.8, epochs, dtype=np.float32) + np.float32(1 / 70)
    curves = Curves(train_loss=np.ones(epochs, np.float32), train_metric=test_accuracy,
                    test_loss=np.ones(epochs, np.float32), test_metric=test_accuracy)
    return CellResult(cell=cell, train_metric=0.9666666388511658,
                      test_metric=float(test_accuracy[-1]), train_loss=0.25, test_loss=0.5,
                      fit_seconds=1.23456, curves=curves, engine="population")


def _sweep_trials(url: str) -> dict[str, optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="demo", storage=url)
    return {cell_key(t): t for t in study.get_trials(deepcopy=False)}


def test_record_keeps_trial_attrs_compact_and_study_facts_on_the_study(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "sqlite:///studies/demo.db"
    sweep_study = build_study(url, "demo", rates=(0.0, 0.4), placements=("hidden",),
                              max_norms=(None,), seeds=2, epochs=120, pending=3)
    population = {"engine": "population", **library_versions()}
    synthetic = {**population, "engine": "synthetic"}
    claims = sweep_study.claim(2)
    assert sweep_study.record(claims, [_result(c.cell) for c in claims]) == 2
    trials = _sweep_trials(url)
    study_attrs = optuna.load_study(study_name="demo", storage=url).user_attrs
    assert study_attrs["sweep_engines"] == [synthetic, population]
    for claim in claims:
        trial = trials[claim.cell.key]
        assert trial.user_attrs == {
            "train_accuracy": 0.9666666388511658, "train_loss": 0.25, "test_loss": 0.5,
            "fit_seconds": 1.2346, "worker": trial.user_attrs["worker"], "engine_id": 1}
        assert "fixed_params" not in trial.system_attrs  # deleted at the claim
        assert trial.params == cell_params(claim.cell)
        assert sorted(trial.intermediate_values) == [
            int(e) + 1 for e in dashboard_epochs(120, DASHBOARD_POINTS)]
        assert trial.intermediate_values[120] == 0.8143  # 4 decimals
        assert trial_engine(trial.user_attrs, study_attrs) == population
    done = next(t for t in trials.values() if t.state == optuna.trial.TrialState.COMPLETE
                and "engine_id" not in t.user_attrs)
    assert set(done.user_attrs) == RECORDED_ATTRS  # synthetic: written by the real writer
    assert "fixed_params" not in done.system_attrs
    assert trial_engine(done.user_attrs, study_attrs) == synthetic
    waiting = [t for t in trials.values() if t.state == optuna.trial.TrialState.WAITING]
    assert len(waiting) == 1 and not waiting[0].user_attrs  # its cell: the fixed params
    assert cell_from_params(waiting[0].system_attrs["fixed_params"]) is not None

    # a worker with other library versions joins: its trials say which
    other = {**library_versions(), "tensorflow": "0.0-other"}
    monkeypatch.setattr("sweep.storage.schema.library_versions", lambda: other)
    [claim] = sweep_study.claim(1)
    sweep_study.record([claim], [_result(claim.cell)])
    trial = _sweep_trials(url)[claim.cell.key]
    study_attrs = optuna.load_study(study_name="demo", storage=url).user_attrs
    assert study_attrs["sweep_engines"] == [synthetic, population,
                                            {"engine": "population", **other}]
    assert trial.user_attrs["engine_id"] == 2
    assert trial_engine(trial.user_attrs, study_attrs) == {"engine": "population", **other}
    assert len(completed(sweep_study.records())) == 4


def test_trials_written_by_the_previous_format_read_the_same(workdir: Path) -> None:
    """Before the compact format a trial also held ``cell`` and ``versions`` (a dict) user
    attrs and kept its ``fixed_params``; status, the report and workers still read it."""
    from sweep.report.status import study_status

    url = "sqlite:///studies/demo.db"
    sweep_study = build_study(url, "demo", rates=(0.0, 0.4), placements=("hidden",),
                              max_norms=(None,), seeds=2, epochs=20)
    done, waiting = Cell(0.4, "hidden", None, 5), Cell(0.4, "hidden", None, 6)
    old_versions = {"sweep": "0.1.0", "tensorflow": "2.16.1", "keras": "3.3.3",
                    "optuna": "4.0.0"}
    params = cell_params(done)
    study = sweep_study.study
    study.add_trial(optuna.trial.create_trial(
        params=params, distributions={k: distributions(sweep_study.task)[k] for k in params},
        value=0.8, intermediate_values={10: 0.7571428418159485, 20: 0.8},
        user_attrs={"cell": done.key, "train_accuracy": 0.9666666388511658, "train_loss": 0.1,
                    "test_loss": 0.5, "fit_seconds": 12.3456, "engine": "population",
                    "versions": old_versions, "worker": "host:1"},
        system_attrs={"fixed_params": params},
    ))
    study.enqueue_trial(cell_params(waiting), user_attrs={"cell": waiting.key})
    for records in (sweep_study.records(), sweep_study.records_via_optuna()):
        by_cell = {r.cell: r for r in records}
        assert by_cell[done].state == "complete" and by_cell[done].value == 0.8
        assert by_cell[done].attr("train_accuracy") == 0.9666666388511658
        assert trial_engine(by_cell[done].user_attrs, study.user_attrs) == {
            "engine": "population", **old_versions}
        assert by_cell[waiting].state == "pending"
    status = study_status("demo", sweep_study.settings, sweep_study.records())
    assert (status.counts["complete"], status.counts["pending"]) == (5, 1)
    [claim] = sweep_study.claim(1)
    assert claim.cell == waiting
