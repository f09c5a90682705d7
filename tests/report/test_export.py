"""``sweep summary``: the group table as text, CSV and JSON, from the command line (run in this
process) on a real (synthetic) SQLite study; the CSV reads back with pandas to the numbers of
``to_frame``."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.report import study_summary, to_frame
from sweep.report.export import COLUMNS
from sweep.storage.synthetic import build_study

from ..conftest import REPO, assert_error_line, cli_in_process

pytestmark = pytest.mark.xdist_group("report-export")  # its module fixtures train once


@pytest.fixture(scope="module")
def workdir_with_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose default storage holds study ``demo``: 2 max-norms x (baseline + 2
    rates x 2 placements), 3 seeds, 2 cells still pending (so two groups have 2 seeds)."""
    root = tmp_path_factory.mktemp("export")
    build_study(f"sqlite:///{root / 'studies' / 'demo.db'}", "demo", rates=(0.0, 0.3, 0.6),
                placements=("input", "hidden"), max_norms=(None, 2.0), seeds=3, pending=2,
                with_curves=False, dashboard_points=0)
    return root


@pytest.fixture(scope="module")
def frame(workdir_with_study: Path) -> pd.DataFrame:
    from sweep.storage import open_study

    url = f"sqlite:///{workdir_with_study / 'studies' / 'demo.db'}"
    return to_frame(study_summary(open_study(study_name="demo", storage_url=url, access="read")))


def summary_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli_in_process("summary", "--study", "demo", *args, cwd=cwd)


def test_the_frame_has_the_columns_and_the_groups_best_first(frame: pd.DataFrame) -> None:
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 2 * (1 + 2 * 2)
    assert list(frame["test_mean"]) == sorted(frame["test_mean"], reverse=True)
    assert sorted(frame["n"]) == [2, 2] + [3] * 8
    baselines = frame[frame["rate"] == 0]
    assert set(baselines["placement"]) == {"none"}
    assert baselines[["baseline", "n_pairs", "diff_mean", "p", "p_holm"]].isna().all().all()
    compared = frame[frame["rate"] > 0]
    for _, row in compared.iterrows():
        norm = "none" if math.isnan(row["max_norm"]) else f"{row['max_norm']:g}"
        assert row["baseline"] == f"rate=0 placement=none max_norm={norm}"
        assert row["diff_ci_low"] <= row["diff_mean"] <= row["diff_ci_high"]
        assert row["p"] <= row["p_holm"] <= 1
    assert (frame["test_ci_low"] < frame["test_mean"]).all()


def test_csv_reads_back_to_the_numbers_of_to_frame(
    workdir_with_study: Path, frame: pd.DataFrame
) -> None:
    result = summary_cli(workdir_with_study, "--format", "csv")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    read = pd.read_csv(io.StringIO(result.stdout))
    assert tuple(read.columns) == COLUMNS
    pd.testing.assert_frame_equal(read, frame, check_dtype=False, check_exact=True)


def test_json_is_one_object_per_group_with_null_for_missing(
    workdir_with_study: Path, frame: pd.DataFrame
) -> None:
    result = summary_cli(workdir_with_study, "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == len(frame) and all(tuple(row) == COLUMNS for row in rows)
    for row, (_, expected) in zip(rows, frame.iterrows(), strict=True):
        for column in COLUMNS:
            if pd.isna(expected[column]):
                assert row[column] is None, (column, row)
            else:
                assert row[column] == expected[column], (column, row)


def test_table_has_the_same_columns_one_line_per_group(
    workdir_with_study: Path, frame: pd.DataFrame
) -> None:
    plain = summary_cli(workdir_with_study)
    result = summary_cli(workdir_with_study, "--format", "table")
    assert result.returncode == 0 and result.stdout == plain.stdout, result.stderr
    header, rule, *lines = result.stdout.splitlines()
    assert header.split() == list(COLUMNS) and set(rule) == {"-", " "}
    assert len(lines) == len(frame)
    best = frame.iloc[0]
    assert lines[0].split()[:2] == [f"{best['rate']:g}", best["placement"]]
    assert f"{best['test_mean']:.3f}" in lines[0] and f"{best['p_holm']:.3f}" in lines[0]
    baseline = next(line for line in lines if line.split()[1] == "none")
    assert len(baseline.split()) == 9  # rate ... gap_mean; no comparison


def test_out_writes_the_file_and_nothing_else(workdir_with_study: Path, tmp_path: Path) -> None:
    stdout = summary_cli(workdir_with_study, "--format", "csv").stdout
    out = tmp_path / "new" / "groups.csv"
    result = summary_cli(workdir_with_study, "--format", "csv", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"summary: {out}\n"
    assert out.read_text(encoding="utf-8") == stdout
    assert [p.name for p in out.parent.iterdir()] == ["groups.csv"]  # no temporary file left


def test_a_bad_format_is_a_usage_error_before_the_study_is_read(tmp_path: Path) -> None:
    result = cli_in_process("summary", "--study", "nope", "--format", "xml", cwd=tmp_path)
    assert_error_line(result, "--format 'xml' is not one of: table, csv, json", code=2)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_study_is_a_usage_error(workdir_with_study: Path) -> None:
    result = cli_in_process("summary", "--study", "nope", "--format", "csv",
                            cwd=workdir_with_study)
    assert_error_line(result, "no study 'nope'", code=2)
    assert result.stdout == ""


def test_an_unwritable_out_is_a_runtime_error(workdir_with_study: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    result = summary_cli(workdir_with_study, "--format", "json", "--out", str(blocker / "s.json"))
    assert_error_line(result, f"cannot write the summary to {str(blocker / 's.json')!r}", code=1)
    assert blocker.read_text() == "keep me\n"
    result = summary_cli(workdir_with_study, "--out", str(tmp_path))
    assert_error_line(result, "it is a directory; give a file name, e.g. --out", code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_a_study_without_completed_cells_says_so(tmp_path: Path) -> None:
    build_study(f"sqlite:///{tmp_path / 'studies' / 'demo.db'}", "demo", rates=(0.0,),
                max_norms=(None,), seeds=2, pending=2, dashboard_points=0)
    result = summary_cli(tmp_path, "--format", "csv")
    assert_error_line(result, "has no completed cells yet (2 cell(s) queued or running)", code=1)


def test_summary_imports_neither_plotly_nor_tensorflow(workdir_with_study: Path,
                                                       tmp_path: Path) -> None:
    code = ("import sys\nfrom sweep.cli import main\n"
            f"assert main(['summary', '--study', 'demo', '--format', 'json', '--out', "
            f"{str(tmp_path / 's.json')!r}]) == 0\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'plotly', 'tensorflow'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=workdir_with_study, timeout=120,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "s.json").is_file()


def test_every_form_clips_a_bounded_metrics_ci_to_0_1(tmp_path: Path) -> None:
    """Two seeds far apart: their t-interval (t = 12.7) leaves [0, 1]; the DataFrame, CSV,
    JSON and the table show it clipped, as ``run``, ``status`` and the report do."""
    from sweep.grid import Cell, Group
    from sweep.report.export import render
    from sweep.report.status import study_status
    from sweep.report.text import fmt_ci
    from sweep.storage.synthetic import plausible_accuracy

    spread = {0.3: (1.0, 0.9), 0.6: (0.0, 0.1)}  # test accuracy of seeds 0 and 1

    def accuracy(cell: Cell, rng: np.random.Generator) -> tuple[float, float]:
        train, test = plausible_accuracy(cell, rng)
        return train, spread[cell.rate][cell.seed] if cell.rate in spread else test

    url = f"sqlite:///{tmp_path / 'clip.db'}"
    sweep_study = build_study(url, "clip", rates=(0.0, 0.3, 0.6), placements=("hidden",),
                              max_norms=(None,), seeds=2, accuracy=accuracy,
                              with_curves=False, dashboard_points=0)
    summary = study_summary(sweep_study)
    high, low = (summary.get(Group(rate, "hidden", None)) for rate in (0.3, 0.6))
    assert high is not None and low is not None and high.n == low.n == 2
    assert high.test.high > 1.5 and low.test.low < -0.5  # the t-intervals as computed
    frame = to_frame(summary).set_index("rate")
    assert frame.loc[0.3, "test_ci_high"] == 1.0 and frame.loc[0.6, "test_ci_low"] == 0.0
    assert frame.loc[0.3, "test_ci_low"] == high.test.low  # inside [0, 1]: as computed
    assert frame[["test_ci_low", "test_ci_high"]].stack().between(0, 1).all()
    csv = pd.read_csv(io.StringIO(render(summary, "csv"))).set_index("rate")
    ci = ["test_mean", "test_ci_low", "test_ci_high"]
    pd.testing.assert_frame_equal(csv[ci], frame[ci], check_dtype=False)
    rows = {row["rate"]: row for row in json.loads(render(summary, "json"))}
    assert (rows[0.3]["test_ci_high"], rows[0.6]["test_ci_low"]) == (1.0, 0.0)
    lines = render(summary, "table").splitlines()
    shown = {float(line.split()[0]): line.split()[5:7] for line in lines[2:]}
    assert shown[0.3] == [f"{high.test.low:.3f}", "1.000"]
    assert shown[0.6] == ["0.000", f"{low.test.high:.3f}"]
    assert fmt_ci(high.test, bounded=True) == f"[{shown[0.3][0]}, {shown[0.3][1]}]"  # as `run`
    status = study_status("clip", sweep_study.settings, sweep_study.records(),
                          task=sweep_study.task).to_json()
    values = {g["rate"]: g["value"] for g in status["groups"]}
    assert (values[0.3]["high"], values[0.6]["low"]) == (1.0, 0.0)
