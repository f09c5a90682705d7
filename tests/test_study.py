"""Runs through the library on a real SQLite file: resume, extension, settings, optuna CLI."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import optuna
import pytest

from sweep.config import build_config
from sweep.curves import load_curves
from sweep.exceptions import IncompatibleStudyError
from sweep.records import completed
from sweep.runner import run_sweep
from sweep.study import open_study

from .conftest import TINY_EPOCHS, sqlite_dump

FLAGS = {"study": "demo", "rates": "0,0.4", "placements": "hidden", "max_norms": "none",
         "seeds": "2", "epochs": str(TINY_EPOCHS)}


def _complete_counts(url: str, name: str) -> Counter[str]:
    study = optuna.load_study(study_name=name, storage=url)
    return Counter(t.user_attrs["cell"] for t in study.get_trials(
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
    assert {"train_accuracy", "test_loss", "fit_seconds", "engine", "versions"} <= set(
        trial.user_attrs)
    assert trial.intermediate_values and max(trial.intermediate_values) == TINY_EPOCHS
    assert study.user_attrs["sweep_settings"] == {
        "task": "circles", "epochs": TINY_EPOCHS, "batch_size": 32, "optimizer": "adam"}
    curves = load_curves(outcome.study.engine, [trial._trial_id])
    epochs, trial_curves = curves[trial._trial_id]
    assert list(epochs) == list(range(1, TINY_EPOCHS + 1))
    assert float(trial_curves.test_accuracy[-1]) == pytest.approx(trial.value)


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
                                       "batch_size": 32, "optimizer": "adam"}, create=True)
    sweep_study.enqueue_missing(config.cells())
    claims = sweep_study.claim(2)
    sweep_study.record_failure(claims, "simulated failure")
    outcome = run_sweep(config, show_progress=False)
    assert outcome.completed_now == 4
    records = sweep_study.records()
    assert len(completed(records)) == 4
    assert sum(r.state == "failed" for r in records) == 2


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
    assert all(0.0 <= t["value"] <= 1.0 for t in trials)


def test_heartbeats_keep_live_claims_and_silence_fails_them(workdir: Path) -> None:
    import time

    from sweep.heartbeat import heartbeat

    settings = {"task": "circles", "epochs": TINY_EPOCHS, "batch_size": 32, "optimizer": "adam"}
    config = build_config(None, FLAGS)
    sweep_study = open_study(study_name="demo", storage_url=config.storage_url, task=None,
                             settings=settings, create=True, heartbeat_seconds=1)
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
    from sweep._rdb import enqueue
    from sweep.runner import open_for_run
    from sweep.study import cell_params

    config = build_config(None, FLAGS)
    sweep_study = open_for_run(config)
    study_id = sweep_study.storage.get_study_id_from_name("demo")
    for _ in range(2):  # what two racing enqueuers leave behind
        enqueue(sweep_study.storage, study_id,
                [(cell_params(c), {"cell": c.key}) for c in config.cells()])
    outcome = run_sweep(config, show_progress=False)
    assert outcome.completed_now == 4
    trials = optuna.load_study(study_name="demo", storage=config.storage_url).trials
    assert set(_complete_counts(config.storage_url, "demo").values()) == {1}
    duplicates = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert len(duplicates) == 4
    assert all(t.state == optuna.trial.TrialState.FAIL for t in duplicates)
    assert len(completed(sweep_study.records())) == 4
