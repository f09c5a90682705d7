"""A user's own task: found by path, by ``module:attribute`` and from TOML; its failures as
real subprocesses (one line naming the user's file and line, exit 2, nothing written); a failing
cell recorded with its message while the run goes on; a changed task file refused."""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import pytest

from sweep.config import build_config, read_config_file
from sweep.exceptions import ConfigError, TaskError
from sweep.tasks import get_task

from ..conftest import assert_error_line, cli_in_process, run_cli

TASK_FILE = '''\
from __future__ import annotations

import numpy as np

import sweep

{top}

def load_data() -> sweep.Dataset:
    {load}
    from sklearn.datasets import make_moons

    x, y = make_moons(120, noise=0.2, random_state=0)
    x, y = x.astype("float32"), y.astype("float32")
    return sweep.Dataset(x[:60], y[:60], x[60:], y[60:])


def build_model(cell: sweep.Cell):
    import keras

    {build}
    inputs = keras.Input((2,))
    h = keras.layers.Dropout(cell.rate)(inputs) if cell.placement == "input" else inputs
    h = keras.layers.Dense(16, activation="relu", name="features")(h)
    if cell.placement == "features":
        h = keras.layers.Dropout(cell.rate)(h)
    {nan}
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=[{metrics}])
    return model


TASK = sweep.Task(name="moons", placements=("input", "features"), load_data=load_data,
                  build_model=build_model, epochs=3, batch_size=32{extra})
'''
SMALL = ("--rates", "0,0.3", "--seeds", "2", "--no-progress")


def write_task(folder: Path, name: str = "moons_task.py", *, top: str = "", load: str = "",
               build: str = "", nan: str = "", metrics: str = '"accuracy"',
               extra: str = "") -> Path:
    path = folder / name
    path.write_text(TASK_FILE.format(top=top, load=load or "pass", build=build or "pass",
                                     nan=nan or "pass", metrics=metrics, extra=extra))
    return path


def line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


# ---- finding a task --------------------------------------------------------------------------


def test_task_by_path_and_toml(workdir: Path) -> None:
    path = write_task(workdir, "by_path.py")
    task = get_task("by_path.py")
    assert task.name == "moons" and task.placements == ("input", "features")
    assert (task.metric, task.direction, task.engines) == ("accuracy", "maximize", ())
    assert task.default_engine == "population"  # where its model stacks (pick_engine)
    assert task.origin == "by_path.py" and task.source_file == str(path.resolve())
    (workdir / "mine.toml").write_text('task = "by_path.py"\nrates = [0, 0.3]\nseeds = 2\n')
    config = build_config(read_config_file(workdir / "mine.toml"))
    assert config.task == "by_path.py" and config.placements == ("input", "features")
    assert config.resolved_epochs == 3 and config.study_name == "mine"
    # flags alone: the study is named after the task
    assert build_config(None, {"task": "by_path.py"}).study_name == "moons"


def test_an_edited_task_file_is_imported_again(workdir: Path) -> None:
    """As from a notebook: the same process sees the file's new version, and its new
    fingerprint."""
    from sweep.tasks import task_facts

    path = write_task(workdir, "edited.py")
    before = task_facts(get_task("edited.py")).fingerprint
    path.write_text(path.read_text().replace("epochs=3", "epochs=4"))
    task = get_task("edited.py")
    assert task.epochs == 4 and task_facts(task).fingerprint != before


def test_task_by_module_attribute(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = workdir / "userpkg_attr"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_task(package, "tasks.py", extra=', metric="loss"').write_text(
        (package / "tasks.py").read_text().replace("TASK =", "MY_TASK ="))
    monkeypatch.syspath_prepend(str(workdir))
    task = get_task("userpkg_attr.tasks:MY_TASK")
    assert task.origin == "userpkg_attr.tasks:MY_TASK"
    assert (task.metric, task.direction) == ("loss", "minimize")
    with pytest.raises(ConfigError, match="defines no TASK"):
        get_task("userpkg_attr.tasks:TASK")
    with pytest.raises(ConfigError, match="no module named 'nopkg_here'"):
        get_task("nopkg_here.tasks:TASK")


@pytest.mark.parametrize(("reference", "fragment"), [
    ("missing.py", "does not exist"),
    ("circels", "did you mean 'circles'"),
    ("a:b:c", "is not package.module:attribute"),
])
def test_bad_references(workdir: Path, reference: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        get_task(reference)


def test_contract_is_checked(workdir: Path) -> None:
    write_task(workdir, "odd_metric.py", extra=', metric="wiggles"')
    with pytest.raises(TaskError, match="does not know which way 'wiggles' is better"):
        get_task("odd_metric.py")
    (workdir / "not_a_task.py").write_text("TASK = 3\n")
    with pytest.raises(ConfigError, match="TASK is a int, not a sweep.Task"):
        get_task("not_a_task.py")


# ---- fatal errors in user code: one line, exit 2, nothing written ----------------------------


@pytest.mark.parametrize(("hook", "code", "fragment"), [
    ("top", "import not_installed_anywhere", "fails to import: ModuleNotFoundError"),
    ("load", "raise ValueError('no such column: y')", "load_data() failed: ValueError"),
    ("build", "raise RuntimeError('bad layer')", "build_model(rate=0|"),
    ("metrics", '"mae"', "metric 'accuracy' is not reported by the compiled model"),
])
def test_fatal_user_errors(tmp_path: Path, hook: str, code: str, fragment: str) -> None:
    path = write_task(tmp_path, **{hook: code})
    result = run_cli("run", "--task", path.name, *SMALL, cwd=tmp_path)
    assert_error_line(result, fragment)
    if hook != "metrics":  # the user's file and line where it was raised
        assert f"{path}:{line_of(path, code)}" in result.stderr
    assert not (tmp_path / "studies").exists() or not any((tmp_path / "studies").iterdir())


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write_task(tmp_path, top="def broken(:\n    pass")
    result = run_cli("run", "--task", path.name, *SMALL, cwd=tmp_path)
    assert_error_line(result, "SyntaxError")
    assert f"{path}:{line_of(path, 'def broken(')}" in result.stderr
    assert not (tmp_path / "studies").exists()


# ---- a failing cell is recorded, the run goes on ---------------------------------------------


def test_failing_cells_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    path = write_task(
        tmp_path,
        build="if cell.seed == 1 and cell.placement == 'input':\n"
              "        raise RuntimeError('out of memory for this cell')",
        nan="if cell.placement == 'features':\n"
            "        h = keras.layers.Lambda(lambda t: t * float('nan'))(h)",
    )
    result = cli_in_process("run", "--task", path.name, *SMALL, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    shown = cli_in_process("status", "--study", "moons", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["cells"]["complete"] == 3 and status["cells"]["failed"] == 3
    reasons = {f["cell"]: f["reason"] for f in status["failures"]}
    assert reasons["rate=0.3|placement=input|max_norm=none|seed=1"] == (
        "RuntimeError: out of memory for this cell")
    nan_reason = reasons["rate=0.3|placement=features|max_norm=none|seed=0"]
    assert nan_reason.startswith("FloatingPointError: the training loss became nan at epoch 1")
    shown = cli_in_process("status", "--study", "moons", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "out of memory for this cell" in text and "became nan" in text
    report = cli_in_process("report", "--study", "moons", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    html = (tmp_path / "dashboards" / "moons.html").read_text()
    assert "out of memory for this cell" in html, report.stdout


def test_a_keras_layer_error_is_recorded_by_the_line_that_explains_it(tmp_path: Path) -> None:
    """Keras 3 wraps a layer's error as "Exception encountered when calling Dropout.call().",
    a blank line, the explaining message in bold (ANSI codes), then the arguments: the stored
    reason's first line and the terminal's copy carry the explanation, no escape codes."""
    path = write_task(
        tmp_path,
        nan="if cell.placement == 'features' and cell.seed == 1:\n"
            "        h = keras.layers.Dropout(0.3, noise_shape=(5, 3))(h)",
    )
    result = cli_in_process("run", "--task", path.name, "--engine", "keras", *SMALL,
                            cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stderr and "Traceback" not in result.stderr
    explained = "ValueError: in Dropout.call(): Dimensions must be equal, but are 3 and 16"
    assert f"failed 1 cell(s): {explained}" in result.stderr
    shown = cli_in_process("status", "--study", "moons", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    reasons = {f["cell"]: f["reason"] for f in status["failures"]}
    assert list(reasons) == ["rate=0.3|placement=features|max_norm=none|seed=1"]
    reason = reasons["rate=0.3|placement=features|max_norm=none|seed=1"]
    assert reason.splitlines()[0].startswith(explained), reason
    assert "\x1b" not in reason and "Exception encountered" not in reason
    assert "Arguments received by Dropout.call():" in reason  # kept, below the explanation
    shown = cli_in_process("status", "--study", "moons", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert f"rate=0.3|placement=features|max_norm=none|seed=1: {explained}" in text


# ---- identity: a changed task is refused -----------------------------------------------------


def test_changed_task_file_is_refused_by_run_and_worker(tmp_path: Path) -> None:
    path = write_task(tmp_path)
    # real processes up to the database's last check, which compares the .db file's bytes: a
    # run leaves the whole study in that file (its write-ahead log checkpointed when it closes
    # the study, sweep/storage/sqlite.py), so a refused command that wrote would change them
    run_cli("run", "--task", path.name, "--rates", "0", "--seeds", "1", "--no-progress",
            cwd=tmp_path, check=True)
    database = tmp_path / "studies" / "moons.db"
    settings = json.loads(run_cli("status", "--study", "moons", "--json", cwd=tmp_path,
                                  check=True).stdout)["settings"]
    assert settings["task"] == path.name and len(settings["task_fingerprint"]) == 16
    path.write_text(path.read_text().replace("Dense(16", "Dense(17"))
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    worker = run_cli("worker", "--study", "moons", "--no-progress", cwd=tmp_path)
    assert_error_line(worker, f"task {path.name!r} changed since this study was created")
    run = run_cli("run", "--task", path.name, *SMALL, cwd=tmp_path)
    assert_error_line(run, f"task {path.name!r} changed since study 'moons' was created")
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
    # readers never run the user's code: status works without the file
    path.unlink()
    status = cli_in_process("status", "--study", "moons", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "moons" in status.stdout


def test_workers_load_the_task_from_its_reference(tmp_path: Path) -> None:
    """``run --workers 2`` hands its spawned processes the reference; each imports the file."""
    path = write_task(tmp_path, top=textwrap.dedent("""\
        import os
        from pathlib import Path
        Path(f"imported-by-{os.getpid()}").touch()"""))
    result = run_cli("run", "--task", path.name, "--rates", "0,0.3", "--seeds", "2",
                     "--workers", "2", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = cli_in_process("status", "--study", "moons", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["cells"]["complete"] == 6
    assert len(list(tmp_path.glob("imported-by-*"))) == 3  # the launcher and its 2 workers
