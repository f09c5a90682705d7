"""The no-code tabular task: the guide's block (docs/how-to/tabular.md) as written, each kind of
target, TOML, the stored reference, a changed file refused, and one line for each bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits

from sweep.config import SweepConfig
from sweep.engines import TrainSettings, train_all
from sweep.engines.population import PopulationEngine
from sweep.tasks import get_task

from ..conftest import assert_error_line, cli_in_process


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def _csv(folder: Path, name: str, loader: object) -> Path:
    path = folder / f"{name}.csv"
    loader(as_frame=True).frame.to_csv(path, index=False)  # type: ignore[operator]
    return path


def test_the_readme_block_as_written(folder: Path) -> None:
    from .._blocks import TABULAR, block_lines
    from ..test_readme import run_line

    write, run, report = block_lines(TABULAR, "# A table, no code: `--task tabular`")
    assert run.endswith("run --task tabular --data cancer.csv --target target")
    run_line(write, folder)
    out = run_line(run, folder)
    assert "study 'tabular-cancer' in sqlite:///studies/tabular-cancer.db: 190 cell(s) trained" \
        in out, out
    assert "best: rate=" in out and "test accuracy mean" in out
    run_line(report, folder)
    assert (folder / "dashboards" / "tabular-cancer.html").stat().st_size > 10_000
    status = json.loads(run_line(".venv/bin/python -m sweep status --study tabular-cancer "
                                 "--json", folder))
    assert status["settings"]["task"] == (
        "tabular?data=cancer.csv&target=target&hidden_units=64%2C64")
    assert status["cells"]["complete"] == 190
    assert status["objective"]["metric"] == "accuracy"


@pytest.mark.parametrize(("loader", "metric", "outputs"), [
    (load_breast_cancer, "accuracy", 1), (load_digits, "accuracy", 10),
    (load_diabetes, "mae", 1)])
def test_each_kind_of_target_trains_on_the_population_engine(
        tmp_path: Path, loader: object, metric: str, outputs: int) -> None:
    path = _csv(tmp_path, "table", loader)
    config = SweepConfig(task="tabular", data=str(path), target="target",
                         hidden_units="16,8", rates="0,0.3", seeds=2, epochs=3)
    task = get_task(config.task)
    assert task.metric == metric and config.resolved_engine == "population"
    model = task.build_model(config.cells()[1])
    assert model.layers[-1].units == outputs
    assert [layer.units for layer in model.layers if hasattr(layer, "units")][:2] == [16, 8]
    results = train_all(PopulationEngine(), task, config.cells(), TrainSettings(3, 32))
    assert len(results) == len(config.cells()) == 6  # the baseline, 0.3 on input, on hidden
    assert all(r.curves.epochs == 3 and r.metric == metric for r in results)


def test_toml_a_changed_file_and_the_stored_reference(folder: Path) -> None:
    frame = load_diabetes(as_frame=True).frame
    frame.to_csv(folder / "diabetes.csv", index=False)
    (folder / "sweep.toml").write_text(
        'task = "tabular"\ndata = "diabetes.csv"\ntarget = "target"\nhidden_units = [8]\n'
        'rates = [0, 0.2]\nplacements = ["input"]\nseeds = 2\nepochs = 3\n')
    first = cli_in_process("run", "--config", "sweep.toml", "--no-progress", cwd=folder)
    assert first.returncode == 0, first.stderr
    assert "study 'sweep'" in first.stdout  # a TOML file names its study
    assert "mae" in first.stdout
    again = cli_in_process("run", "--config", "sweep.toml", "--no-progress", cwd=folder)
    assert again.returncode == 0, again.stderr
    assert "0 cell(s) trained now, 4 were complete" in again.stdout
    frame.iloc[:-1].to_csv(folder / "diabetes.csv", index=False)  # one row fewer
    changed = cli_in_process("run", "--config", "sweep.toml", "--no-progress", cwd=folder)
    assert_error_line(changed, "changed since study 'sweep' was created")


@pytest.mark.parametrize(("flags", "fragment"), [
    (("--task", "tabular", "--target", "target"), "task tabular: give the table and its target"),
    (("--data", "table.csv", "--target", "target"), "data: only the tabular task reads a table"),
    (("--task", "tabular", "--data", "nope.csv", "--target", "target"),
     "data: 'nope.csv' does not exist"),
    (("--task", "tabular", "--data", "table.csv", "--target", "Target"),
     "no column 'Target' (did you mean 'target'?)"),
    (("--task", "tabular", "--data", "words.csv", "--target", "target"),
     "column 'mean radius' is not numeric ('big' in data row 4)"),
    (("--task", "tabular", "--data", "table.csv", "--target", "target", "--hidden-units",
      "64,x"), "hidden_units: '64,x' is not a list of layer widths"),
    (("--task", "tabular", "--data", "table.csv", "--target", "target", "--target-kind",
      "ordinal"), "target_kind: 'ordinal' is not one of classification, regression"),
])
def test_bad_input_is_one_line_and_writes_nothing(
        tmp_path: Path, flags: tuple[str, ...], fragment: str) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    frame.to_csv(tmp_path / "table.csv", index=False)
    words = frame.copy()
    words["mean radius"] = words["mean radius"].astype(str)
    words.loc[3, "mean radius"] = "big"
    words.to_csv(tmp_path / "words.csv", index=False)
    result = cli_in_process("run", *flags, "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert_error_line(result, fragment)
    assert not (tmp_path / "studies").exists() and not (tmp_path / "dashboards").exists()


def test_a_model_the_engine_cannot_stack_falls_back_to_keras_with_a_notice(
        tmp_path: Path) -> None:
    """A user task naming no engine: the population engine where it stacks (the other tests),
    model.fit with a notice naming what it cannot stack, once per study, where it does not;
    --engine population on it is refused."""
    (tmp_path / "normed.py").write_text('''
import numpy as np
import keras
import sweep

def load_data():
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    return sweep.Dataset(x[:30], y[:30], x[30:], y[30:])

def build_model(cell):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dropout(cell.rate),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model

TASK = sweep.Task(name="normed", placements=("hidden",), load_data=load_data,
                  build_model=build_model, epochs=2)
''')
    args = ("run", "--task", "normed.py", "--rates", "0,0.5", "--seeds", "1", "--no-progress")
    refused = cli_in_process(*args, "--engine", "population", cwd=tmp_path)
    assert_error_line(refused, "cannot stack layer 2 'batch_normalization' (BatchNormalization)")
    fallen_back = cli_in_process(*args, cwd=tmp_path)
    assert fallen_back.returncode == 0, fallen_back.stderr
    notice = next(line for line in fallen_back.stderr.splitlines() if "cannot stack" in line)
    assert notice.startswith("the population engine cannot stack layer 2 "
                             "'batch_normalization' (BatchNormalization): "), notice
    assert notice.endswith("; model.fit (the Keras engine) is training it"), notice
    assert "--engine keras" not in notice  # what is happening is not advice
    assert "2 cell(s) trained now" in fallen_back.stdout
    again = cli_in_process(*args, cwd=tmp_path)  # once per study, not on every resume
    assert again.returncode == 0, again.stderr
    assert "0 cell(s) trained now" in again.stdout and "cannot stack" not in again.stderr


def test_the_tabular_options_are_in_the_run_help(tmp_path: Path) -> None:
    shown = cli_in_process("run", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    for flag in ("--data", "--target", "--hidden-units", "--target-kind", "--split-column"):
        assert flag in out


def test_a_config_object_resolves_the_reference(tmp_path: Path) -> None:
    path = _csv(tmp_path, "cancer", load_breast_cancer)
    config = SweepConfig(task="tabular", data=str(path), target="target")
    assert config.task.startswith("tabular?data=") and config.study_name == "tabular-cancer"
    assert config.placements == ("input", "hidden") and config.max_norms == (None,)
    assert len(config.cells()) == 190
    assert pd.read_csv(path).shape == (569, 31)


def test_a_diverging_population_member_fails_its_own_cell(tmp_path: Path) -> None:
    """On the population engine a member whose loss becomes infinite or NaN fails alone, with
    the epoch named; its population's other cells are recorded."""
    (tmp_path / "hot.py").write_text('''
import numpy as np
import sweep

def load_data():
    x = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    y = (1e3 * x[:, 0]).astype("float32")
    return sweep.Dataset(x[:30], y[:30], x[30:], y[30:])

def build_model(cell):
    import keras
    layers = [keras.Input((3,)), keras.layers.Dense(8, activation="relu")]
    layers += [keras.layers.Dropout(cell.rate)] if cell.rate else []
    model = keras.Sequential(layers + [keras.layers.Dense(1)])
    rate = 1e6 if cell.placement == "hot" else 1e-3
    model.compile(optimizer=keras.optimizers.SGD(rate), loss="mse", metrics=["mae"])
    return model

TASK = sweep.Task(name="hot", placements=("cool", "hot"), load_data=load_data,
                  build_model=build_model, epochs=5, metric="mae")
''')
    result = cli_in_process("run", "--task", "hot.py", "--rates", "0,0.2", "--seeds", "2",
                            "--no-progress", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "training with model.fit" not in result.stderr  # the population engine trained it
    shown = cli_in_process("status", "--study", "hot", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["cells"]["complete"] == 4 and status["cells"]["failed"] == 2
    reasons = {f["cell"]: f["reason"] for f in status["failures"]}
    assert set(reasons) == {f"rate=0.2|placement=hot|max_norm=none|seed={s}" for s in (0, 1)}
    assert all(r.startswith("FloatingPointError: the training loss became ") and " at epoch "
               in r for r in reasons.values()), reasons


def test_a_regression_targets_mae_is_labelled_in_training_sds_of_the_target(
        tmp_path: Path) -> None:
    """The target is standardised with the training rows' mean and SD, so the MAE is in those
    SDs: the run's closing lines, ``status`` and ``summary`` say so; a reader of the study
    (which never loads the task's file) finds the unit in the study's settings."""
    from sweep.objective import Objective
    from sweep.storage.settings import settings_diff
    from sweep.tasks import described_task
    from sweep.tasks.tabular_data import load_table

    path = _csv(tmp_path, "diabetes", load_diabetes)
    table = load_table(path, "target")
    train_y = table.dataset.train_y
    assert abs(float(train_y.mean())) < 1e-6 and abs(float(train_y.std()) - 1) < 1e-6
    config = SweepConfig(task="tabular", data=str(path), target="target", hidden_units="8",
                         rates="0,0.3", placements="input", seeds=2, epochs=3)
    task = get_task(config.task)
    unit = "[training SDs of the target]"
    assert task.objective().label == f"test mae {unit}"
    settings = task.fixed_settings(3, 32)
    assert settings["metric_unit"] == "training SDs of the target"
    assert described_task(settings).objective() == Objective.from_settings(settings)
    before_units = {k: v for k, v in settings.items() if k != "metric_unit"}
    assert settings_diff(before_units, settings) == []  # such a study still resumes
    assert settings_diff({**settings, "metric_unit": "dollars"}, settings)
    cancer = get_task(SweepConfig(task="tabular", data=str(_csv(tmp_path, "cancer",
                                  load_breast_cancer)), target="target").task)
    assert cancer.metric_unit == "" and cancer.objective().label == "test accuracy"

    args = ("--task", "tabular", "--data", "diabetes.csv", "--target", "target")
    run = cli_in_process("run", *args, "--hidden-units", "8", "--rates", "0,0.3",
                         "--placements", "input", "--seeds", "2", "--epochs", "3",
                         "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    header = next(line for line in run.stdout.splitlines() if line.startswith("rate "))
    assert f"test mae {unit} mean" in header
    assert f": test mae {unit} mean " in run.stdout  # the best line
    status = cli_in_process("status", "--study", "tabular-diabetes", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert f"test mae {unit} mean" in status.stdout
    summary = cli_in_process("summary", "--study", "tabular-diabetes", cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.startswith("unit: training SDs of the target (mae: ")
