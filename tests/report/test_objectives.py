"""Every report surface in the study's metric and direction: a minimized metric (mse, not in
[0, 1]) compared on test and on validation, and accuracy on test worded as it always was.
Summaries from hand-made records with known values; no TensorFlow, no storage."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import numpy as np
import pytest

from sweep.engines import Curves
from sweep.grid import Cell, Group, expand
from sweep.objective import Objective
from sweep.report.curve_stats import curve_stats
from sweep.report.export import COLUMNS, HELD_OUT_COLUMNS, group_table, to_frame
from sweep.report.html import ReportData, build_panels, render_html
from sweep.report.status import study_status
from sweep.report.summary import SweepSummary, summarize
from sweep.report.tables import TABLE_HEADERS, note_markdown, table_rows
from sweep.report.terminal import GROUP_HEADERS, closing_table, status_text
from sweep.report.text import fmt_ci, headline, notes
from sweep.storage import TrialRecord
from sweep.tasks import Task, get_task

pytestmark = pytest.mark.xdist_group("report-objectives")  # its module fixtures train once

MSE = Objective("mse", "minimize", "test")
VALIDATED = Objective("mse", "minimize", "validation")
ACCURACY = Objective()
BASE = {None: 1.6, 3.0: 1.5}
EFFECT = {(0.0, "none"): 0.0, (0.3, "hidden"): -0.4, (0.6, "hidden"): 0.8}
SEEDS = range(5)
LONG = "RuntimeError: " + "x" * 400
REASONS = {
    Cell(0.3, "hidden", None, 5): "FloatingPointError: the training loss became nan at epoch 3",
    Cell(0.6, "hidden", None, 5): "ValueError: shape <3> != (4,)\nTraceback (most recent call)",
    Cell(0.6, "hidden", 3.0, 5): LONG,
    Cell(0.0, "none", 3.0, 5): "interrupted by SIGTERM",
}


def known_mse(cell: Cell) -> float:
    """Over 1 (so a [0, 1] clip would show), lower with hidden 0.3, higher with hidden 0.6."""
    jitter = ((cell.seed + 1) * (int(cell.rate * 10) + 3) % 5) * 0.01
    return BASE[cell.max_norm] + EFFECT[(cell.rate, cell.placement)] + 0.05 * cell.seed + jitter


def records(metric: str = "mse") -> list[TrialRecord]:
    """One completed trial per cell (value: the compared metric; train and test beside it)
    and four failed cells with their fail_reason."""
    result = []
    cells = expand((0.0, 0.3, 0.6), ("hidden",), (None, 3.0), list(SEEDS))
    for number, cell in enumerate(sorted(cells, key=lambda c: c.key)):
        v = known_mse(cell) if metric == "mse" else 0.95 - known_mse(cell) / 10
        attrs = {f"train_{metric}": v * 0.5, f"test_{metric}": v + 0.1}
        result.append(TrialRecord(number, number, "complete", cell, v, attrs))
    for offset, (cell, reason) in enumerate(REASONS.items(), start=len(result)):
        result.append(TrialRecord(offset, offset, "failed", cell, None, {"fail_reason": reason}))
    return result


@pytest.fixture(scope="module")
def task() -> Task:
    return get_task("circles")


def summary_of(objective: Objective, task: Task) -> SweepSummary:
    return summarize(records(objective.metric), task, objective)


def all_words(summary: SweepSummary, task: Task) -> Iterator[str]:
    yield headline(summary, task)
    headers, rows = table_rows(summary, task)
    yield from headers
    yield from (cell for _, cells in rows for cell in cells)
    yield from notes(summary, task)
    yield note_markdown(summary, task, None)
    yield closing_table(summary)


def test_best_and_ranked_pick_the_lowest_mse(task: Task) -> None:
    summary = summary_of(MSE, task)
    best = summary.best
    assert best is not None and best.group == Group(0.3, "hidden", 3.0)
    means = [g.test.mean for g in summary.ranked]
    assert means == sorted(means) and means[0] == best.test.mean
    lower = summary.get(Group(0.3, "hidden", None))
    higher = summary.get(Group(0.6, "hidden", None))
    assert lower is not None and lower.vs_baseline is not None and lower.vs_baseline.better
    assert higher is not None and higher.vs_baseline is not None and higher.vs_baseline.worse
    assert [row[4] for row in group_table(summary).rows] == means  # test_mean, lowest first


def test_an_mse_study_is_worded_in_mse_and_says_lower_is_better(task: Task) -> None:
    summary = summary_of(MSE, task)
    best = summary.best
    assert best is not None
    text = headline(summary, task)
    assert text.startswith("Best: dropout rate 0.3 on the hidden layer, max-norm 3: ")
    assert f"mean test mse {best.test.mean:.3f} (lower is better; 95% CI " in text
    assert text.count("lower is better") == 1
    assert "mean paired difference in test mse" in text
    assert "it beats the baseline beyond seed noise" in text
    headers, _ = table_rows(summary, task)
    assert "test mse mean" in headers and "held-out test mean" not in headers
    assert "Cells are compared on test mse (lower is better)." in note_markdown(summary, task, None)
    assert f"test mse mean {best.test.mean:.3f} (lower is better)" in closing_table(summary)
    for words in all_words(summary, task):
        assert "accuracy" not in words, words


def test_the_ci_of_an_unbounded_metric_is_not_clipped(task: Task) -> None:
    summary = summary_of(MSE, task)
    best = summary.best
    assert best is not None and best.test.low > 1.0  # a [0, 1] clip would show 1.000 to 1.000
    unclipped = fmt_ci(best.test, form="range")
    assert unclipped != fmt_ci(best.test, bounded=True, form="range")
    assert f"95% CI {unclipped}," in headline(summary, task)
    _, rows = table_rows(summary, task)
    assert rows[0][1][6] == fmt_ci(best.test)


def test_failed_cells_are_listed_with_their_reasons(task: Task) -> None:
    summary = summary_of(MSE, task)
    assert summary.n_failed == 4 and len(summary.failures) == 4
    note = next(n for n in notes(summary, task) if "failed" in n)
    assert note.startswith("4 cell(s) failed (the next run retries them): ")
    nan, long, shape, interrupted = sorted(REASONS, key=lambda c: c.key)  # keys' order
    assert f"{nan.key}: {REASONS[nan]}; " in note
    assert f"{shape.key}: ValueError: shape <3> != (4,); and 1 more." in note
    assert "Traceback" not in note  # the first line of a reason only
    assert f"{long.key}: RuntimeError: xxx" in note and "x..." in note  # cut
    assert interrupted.key not in note
    lines = status_text(study_status("s", settings(MSE), records(), task=task), "x").splitlines()
    listed = lines[lines.index("failed cells (4), with their fail_reason:") + 1:]
    assert listed == [f"  {nan.key}: {REASONS[nan]}", f"  {long.key}: {LONG[:197]}...",
                      f"  {shape.key}: ValueError: shape <3> != (4,)",
                      f"  {interrupted.key}: interrupted by SIGTERM"]


def test_a_validated_study_says_so_and_reports_held_out_test(task: Task) -> None:
    summary = summary_of(VALIDATED, task)
    best = summary.best
    assert best is not None and best.group == Group(0.3, "hidden", 3.0)
    assert best.held_out.mean == pytest.approx(best.test.mean + 0.1)
    text = headline(summary, task)
    assert f"mean validation mse {best.test.mean:.3f} (lower is better; 95% CI " in text
    assert (f"; held-out test mse {best.held_out.mean:.3f} (95% CI "
            f"{fmt_ci(best.held_out, form='range')}).") in text
    assert text.endswith("Groups were compared on validation mse; test mse is reported beside "
                         "it, never used to choose (choosing on test would be optimistic).")
    headers, rows = table_rows(summary, task)
    assert headers[5:8] == ("validation mse mean", "95% CI", "held-out test mean")
    assert rows[0][1][7] == f"{best.held_out.mean:.3f}"
    note = note_markdown(summary, task, None)
    assert "| validation mse mean | 95% CI | held-out test mean |" in note
    closing = closing_table(summary)
    assert "held-out test mse mean" in closing and "validation mse mean" in closing
    for words in all_words(summary, task):
        assert "accuracy" not in words, words


def test_the_export_adds_held_out_columns_for_a_validated_study(task: Task) -> None:
    assert group_table(summary_of(MSE, task)).columns == COLUMNS
    summary = summary_of(VALIDATED, task)
    table = group_table(summary)
    at = COLUMNS.index("test_ci_high") + 1
    assert table.columns == (*COLUMNS[:at], *HELD_OUT_COLUMNS, *COLUMNS[at:])
    frame = to_frame(summary)
    assert list(frame.columns) == list(table.columns)
    assert (frame["held_out_mean"] - frame["test_mean"]).round(9).eq(0.1).all()
    assert list(frame["test_mean"]) == sorted(frame["test_mean"])


def settings(objective: Objective) -> dict[str, object]:
    return {"task": "circles", "epochs": 10, "batch_size": 30, **objective.settings()}


def test_status_json_names_the_objective_and_the_failures(task: Task) -> None:
    status = study_status("s", settings(VALIDATED), records(), task=task)
    data = json.loads(json.dumps(status.to_json()))
    assert data["objective"] == {"metric": "mse", "direction": "minimize",
                                 "compared_on": "validation"}
    best = data["best"]
    assert (best["rate"], best["placement"], best["max_norm"]) == (0.3, "hidden", 3.0)
    assert "test_accuracy" not in best and best["value"]["n"] == 5
    assert best["held_out_test"]["mean"] == pytest.approx(best["value"]["mean"] + 0.1)
    assert all("value" in g and "test_accuracy" not in g for g in data["groups"])
    assert {f["cell"]: f["reason"] for f in data["failures"]} == {
        c.key: r for c, r in REASONS.items()}  # whole reasons
    text = status_text(status, "sqlite:///s.db")
    assert "validation mse mean" in text and "(lower is better)" in text
    assert "accuracy" not in text


def test_accuracy_on_test_is_worded_as_it_always_was(task: Task) -> None:
    summary = summary_of(ACCURACY, task)
    best = summary.best
    assert best is not None and best.group == Group(0.3, "hidden", 3.0)  # highest accuracy
    text = headline(summary, task)
    assert re.search(r": mean test accuracy \d\.\d{3} \(95% CI \d\.\d{3} to \d\.\d{3}, n=5 "
                     r"seeds\)\. Against the no-dropout baseline \(max-norm 3\): [+-]\d\.\d{3} "
                     r"mean paired difference \(95% CI", text), text
    assert "better" not in text.split("Against")[0] and "validation" not in text
    assert table_rows(summary, task)[0] == TABLE_HEADERS
    assert all(h in closing_table(summary).splitlines()[0] for h in GROUP_HEADERS)
    assert "Cells are compared on" not in note_markdown(summary, task, None)
    assert group_table(summary).columns == COLUMNS
    status = study_status("s", settings(ACCURACY), records("accuracy"), task=task).to_json()
    assert status["best"]["test_accuracy"] == status["best"]["value"]
    assert status["objective"] == {"metric": "accuracy", "direction": "maximize",
                                   "compared_on": "test"}


def test_figures_and_html_use_the_metric_and_list_failures(task: Task) -> None:
    summary = summary_of(VALIDATED, task)
    epochs = np.arange(1, 6)
    runs = [np.linspace(2.5, 1.1 + 0.05 * s, 5) for s in SEEDS]
    curves = curve_stats(Group(0.3, "hidden", 3.0),
                         [(epochs, Curves(r, r * 0.5, r, r)) for r in runs])
    assert curves is not None
    data = ReportData("mse-study", "sqlite:///mse.db", settings(VALIDATED), summary,
                      (curves,), ("best",), task)
    panels = {p.key: p for p in build_panels(data)}
    rate = panels["rate-vs-test"]
    assert rate.title == "Validation mse against dropout rate (lower is better)"
    assert rate.figure is not None
    assert rate.figure.layout.yaxis.title.text == "validation mse (mean of seeds)"
    assert rate.figure.layout.yaxis.range[1] > 2.0  # not clipped to [0, 1]
    heatmap = panels["heatmap"].figure
    assert heatmap is not None and heatmap.layout.coloraxis.reversescale is True
    learning = panels["learning-curves"].figure
    assert learning is not None
    titles = [a.text for a in learning.layout.annotations]
    assert titles == ["train mse (dropout on, per epoch)",
                      "validation mse (per epoch; lower is better)"]
    bands = [t for t in learning.data if t.fill == "toself"]
    assert bands and max(max(t.y) for t in bands) > 2.0  # bands not clipped either
    page = render_html(data, list(panels.values()))
    words = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert "Cell groups ranked by mean validation mse (lower is better)" in words
    assert "<th>held-out test mean</th>" in words.replace(' class=""', "")
    assert "Groups were compared on validation mse" in words
    assert '<section id="section-failures"><h2>Failed cells (4)</h2>' in words
    assert "ValueError: shape &lt;3&gt; != (4,)" in words and "shape <3>" not in words
    assert "accuracy" not in words
    assert math.isfinite(summary.groups[0].held_out.mean)


MAE = Objective("mae", "minimize", "validation", "training SDs of the target")
"""A standardised regression target's MAE (the tabular task's), compared on validation."""


def test_a_metric_with_a_unit_says_it_wherever_the_metric_is_labelled(task: Task) -> None:
    from sweep.report.export import render

    unit = "[training SDs of the target]"
    summary = summarize(records("mae"), task, MAE)
    best = summary.best
    assert best is not None
    text = headline(summary, task)
    assert f"mean validation mae {unit} {best.test.mean:.3f} (lower is better" in text
    assert f"held-out test mae {unit} " in text and f"difference in validation mae {unit}" in text
    closing = closing_table(summary).splitlines()
    assert f"validation mae {unit} mean" in closing[0]
    assert f": validation mae {unit} mean {best.test.mean:.3f}" in closing[-1]  # the best line
    assert f"held-out test mae {unit} mean" in closing[-1]
    assert f"validation mae {unit} mean" in table_rows(summary, task)[0]
    status = study_status("s", settings(MAE), records("mae"), task=task)
    lines = status_text(status, "sqlite:///s.db").splitlines()
    assert f"validation mae {unit} mean" in lines[2]
    assert f": validation mae {unit} mean" in next(line for line in lines if line[:5] == "best:")
    assert status.to_json()["objective"]["metric_unit"] == "training SDs of the target"
    table = render(summary, "table").splitlines()
    assert table[0] == ("unit: training SDs of the target (mae: the mean, CI, train, gap and "
                        "difference columns)")
    assert table[1].split()[:2] == ["rate", "placement"]
    assert render(summary, "csv").startswith("rate,placement,")  # CSV and JSON keep their shape
    epochs = np.arange(1, 6)
    runs = [np.linspace(0.9, 0.4 + 0.01 * s, 5) for s in SEEDS]
    curves = curve_stats(Group(0.3, "hidden", 3.0),
                         [(epochs, Curves(r, r * 0.5, r, r)) for r in runs])
    assert curves is not None
    data = ReportData("mae-study", "sqlite:///mae.db", settings(MAE), summary, (curves,),
                      ("best",), task)
    panels = {p.key: p.figure for p in build_panels(data)}
    rate, gap, heatmap, learning = (panels[k] for k in (
        "rate-vs-test", "train-and-gap", "heatmap", "learning-curves"))
    assert rate.layout.yaxis.title.text == f"validation mae {unit} (mean of seeds)"
    assert [a.text for a in gap.layout.annotations][:2] == [
        f"train mae {unit} (lower is better)", f"gap: train - validation mae {unit}"]
    assert heatmap.layout.coloraxis.colorbar.title.text == f"validation mae<br>{unit}"
    assert [a.text for a in learning.layout.annotations] == [
        f"train mae {unit} (dropout on, per epoch)",
        f"validation mae {unit} (per epoch; lower is better)"]
    assert learning.layout.yaxis.title.text == f"mae {unit}"
    page = render_html(data, [p for p in build_panels(data)])
    assert f"Cell groups ranked by mean validation mae {unit} (lower is better)" in page
