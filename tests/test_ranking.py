"""``--metric``: a sweep ranks its groups by a classifier's calibration figure (MC NLL ...) on
both engines, in the figure's own direction, stored as the study's objective; a figure that is
not one, an MC figure without passes, or a calibration figure of a model that is not a
classifier is one line, exit 2, nothing written."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import optuna
import pytest

from sweep.ranking import RANKED_FIGURES, objective
from sweep.tasks import get_task

from .conftest import REPO, assert_error_line, cli_in_process, run_cli

GRID = ("--rates", "0,0.6", "--placements", "hidden", "--max-norms", "none", "--seeds", "2",
        "--epochs", "20", "--mc-passes", "5", "--no-progress")


@pytest.mark.parametrize("engine", ["population", "keras"])
def test_a_run_ranks_by_mc_nll(engine: str, workdir: Path) -> None:
    """Each trial's value is its test_mc_nll, the study minimizes it, and the best line names
    the group of lowest mean MC NLL (not the most accurate one's by necessity)."""
    result = cli_in_process("run", "--study", "ranked", "--engine", engine, "--metric",
                            "mc_nll", *GRID, cwd=workdir)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="ranked",
                              storage=f"sqlite:///{workdir / 'studies' / 'ranked.db'}")
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4
    means: dict[float, list[float]] = {}
    for trial in trials:
        assert trial.value == trial.user_attrs["test_mc_nll"]
        assert "test_nll" in trial.user_attrs and "train_accuracy" in trial.user_attrs
        means.setdefault(trial.params["rate"], []).append(trial.value)
    best = min(means, key=lambda rate: sum(means[rate]))
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert "test mc_nll mean" in result.stdout and "(lower is better)" in result.stdout
    assert f"best: rate={best:g} " in result.stdout
    settings = study.user_attrs["sweep_settings"]
    assert (settings["metric"], settings["direction"]) == ("mc_nll", "minimize")


def test_a_race_over_seeds_ranks_by_mc_nll(workdir: Path) -> None:
    """``--seeds auto --metric mc_nll``: the race's values are each cell's MC NLL, lower is
    better, and the race ends with the group of lowest mean MC NLL; at 4000 epochs the
    overconfident no-dropout baseline (MC NLL about 1.9 against 0.5) is eliminated."""
    from sweep.grid import Group, baseline_group
    from sweep.racing import RaceSettings, replay
    from sweep.storage.schema import cell_from_params

    result = cli_in_process(
        "run", "--study", "raced", "--metric", "mc_nll", "--rates", "0,0.4", "--placements",
        "hidden", "--max-norms", "none", "--seeds", "auto", "--first-seeds", "3",
        "--max-seeds", "6", "--epochs", "4000", "--mc-passes", "10", "--no-progress",
        cwd=workdir)
    assert result.returncode == 0, result.stderr
    study = optuna.load_study(study_name="raced",
                              storage=f"sqlite:///{workdir / 'studies' / 'raced.db'}")
    values: dict[Group, dict[int, float]] = {}
    for trial in study.get_trials(deepcopy=False):
        cell = cell_from_params(trial.params)
        assert cell is not None and trial.value == trial.user_attrs["test_mc_nll"]
        values.setdefault(cell.group, {})[cell.seed] = trial.value
    dropout, baseline = Group(0.4, "hidden", None), baseline_group(None)
    assert set(values) == {dropout, baseline}
    state = replay(values, [dropout, baseline], RaceSettings(3, 6, maximize=False))
    assert state.next_seeds is None and state.best == dropout
    assert [v.group for look in state.looks for v in look.eliminated] == [baseline]
    assert study.user_attrs["sweep_settings"]["direction"] == "minimize"
    assert "Does the best dropout group beat no dropout?" in result.stdout


@pytest.mark.parametrize(("flags", "fragment"), [
    (("--metric", "log_loss"), "metric: 'log_loss' is not one sweep can rank task 'circles' by"),
    (("--metric", "mc_ece", "--mc-passes", "0"), "but mc_passes is 0; give --mc-passes 50"),
])
def test_bad_metrics_are_one_line(flags: tuple[str, ...], fragment: str, workdir: Path) -> None:
    assert_error_line(cli_in_process("run", "--seeds", "1", "--epochs", "2", *flags,
                                     cwd=workdir), fragment)
    assert not (workdir / "studies").exists()


def test_a_regression_task_is_not_ranked_by_calibration(workdir: Path) -> None:
    """A real process: one line, exit 2, no study file."""
    result = run_cli("run", "--task", str(REPO / "examples" / "regression.py"), "--metric",
                     "nll", "--seeds", "1", "--epochs", "2", cwd=workdir)
    assert_error_line(result, "metric: nll applies to classifiers")
    assert not (workdir / "studies").exists() or not list((workdir / "studies").iterdir())


def test_each_figure_has_its_direction() -> None:
    task = get_task("circles")
    assert objective(task, None, "test") == task.objective("test")
    assert objective(task, "accuracy", "test") == task.objective("test")
    for name in RANKED_FIGURES:
        wanted = "maximize" if name == "mc_accuracy" else "minimize"
        assert objective(task, name, "validation").direction == wanted
        assert objective(task, name, "validation").compared_on == "validation"


def test_a_study_keeps_its_objective(workdir: Path) -> None:
    """A study ranked by accuracy refuses a later run ranking it by MC NLL (one line)."""
    flags = ("--study", "kept", "--rates", "0", "--seeds", "1", "--epochs", "2",
             "--mc-passes", "2", "--no-progress")
    assert cli_in_process("run", *flags, cwd=workdir).returncode == 0
    dump = sqlite3.connect(workdir / "studies" / "kept.db").execute(
        "select count(*) from trials").fetchone()
    result = cli_in_process("run", *flags, "--metric", "mc_nll", cwd=workdir)
    assert_error_line(result, "metric: study has 'accuracy', this run has 'mc_nll'")
    assert sqlite3.connect(workdir / "studies" / "kept.db").execute(
        "select count(*) from trials").fetchone() == dump


@pytest.mark.xdist_group("calibration-doc")
def test_the_documented_commands_as_written(tmp_path: Path) -> None:
    """docs/how-to/mc-dropout.md's block in a clone: the tutorial's model ranked by MC NLL
    (4000 epochs, 50 passes), then its summary with every figure's mean and CI."""
    import csv

    from ._blocks import MC_DROPOUT, block_lines
    from .test_readme import run_line

    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    run, summary = block_lines(MC_DROPOUT, "## Ranking a sweep by calibration")
    out = run_line(run, tmp_path)
    assert "test mc_nll mean" in out and "(lower is better)" in out
    assert "Calibration on test: most accurate" in out and "MC averaging" in out
    run_line(summary, tmp_path)
    rows = list(csv.DictReader((tmp_path / "dashboards" / "calibration.csv").open()))
    assert len(rows) == 7 and all(int(row["n"]) == 10 for row in rows)
    means = [float(row["test_mean"]) for row in rows]
    assert means == sorted(means)  # ranked by MC NLL, lowest first
    assert [float(row["mc_nll_mean"]) for row in rows] == means
    assert all(row["mc_minus_nll_ci_high"] for row in rows)
