"""The calibration figures in the summary, the export, the words and the report: group means
and CIs of every figure and the paired MC - standard differences, equal to NumPy over the stored
trials; the report's three figures drawn by headless Chromium; the headline's sentence naming the
most accurate and the best calibrated group and whether MC averaging helps."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sweep.api import open_study
from sweep.grid import Cell, Group, expand
from sweep.objective import Objective
from sweep.report.calibration_stats import FIGURES, STANDARD
from sweep.report.calibration_text import calibration_sentence
from sweep.report.export import to_csv
from sweep.report.html import load_report_data, write_report
from sweep.report.summary import SweepSummary, summarize
from sweep.stats import mean_ci
from sweep.storage import TrialRecord
from sweep.tasks import get_task

from ..conftest import cli_in_process
from .test_html import render_in_chromium, rendered_svgs, sections

pytestmark = pytest.mark.xdist_group("calibration-report")  # the module's study trains once

TASK = get_task("circles")
CLASSIFIER = (*STANDARD, *(f"mc_{name}" for name in STANDARD))
"""A classifier's figures (:data:`FIGURES` also has a regression's)."""
SEEDS = 4
TEST_ROWS = 70


@pytest.fixture(scope="module")
def studied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SweepSummary, list]:
    """A real sweep of circles with 10 MC passes: rates 0, 0.3 and 0.6 on the hidden layer,
    4 seeds, 150 epochs (the population engine)."""
    where = tmp_path_factory.mktemp("calibration")
    result = cli_in_process("run", "--study", "cal", "--rates", "0,0.3,0.6", "--placements",
                            "hidden", "--max-norms", "none", "--seeds", str(SEEDS), "--epochs",
                            "150", "--mc-passes", "10", "--no-progress", cwd=where)
    assert result.returncode == 0, result.stderr
    with open_study("cal", f"sqlite:///{where / 'studies' / 'cal.db'}") as study:
        records = study.records()
        summary = load_report_data(study).summary
        written = write_report(study, where / "cal.html").path
    assert "Calibration on test: most accurate" in result.stdout
    return written, summary, records


def _by_group(records: list) -> dict[Group, list]:
    found: dict[Group, list] = {}
    for r in records:
        if r.value is not None:
            found.setdefault(r.cell.group, []).append(r)
    return found


def test_group_figures_are_numpys_over_the_stored_trials(studied: tuple) -> None:
    _, summary, records = studied
    for group, rows in _by_group(records).items():
        stats = summary.get(group)
        assert stats is not None and set(stats.figures) == set(CLASSIFIER)
        for name in CLASSIFIER:
            values = np.array([r.user_attrs[f"test_{name}"] for r in rows])
            assert stats.figures[name].mean == pytest.approx(values.mean(), rel=1e-12)
            assert stats.figures[name].high - stats.figures[name].low == pytest.approx(
                mean_ci(list(values)).high - mean_ci(list(values)).low)
        for name in STANDARD:
            pairs = [r.user_attrs[f"test_mc_{name}"] - r.user_attrs[f"test_{name}"] for r in rows]
            assert stats.mc_differences[name].mean == pytest.approx(np.mean(pairs), abs=1e-12)
            if group.is_baseline:  # no dropout: MC is standard inference, exactly
                assert stats.mc_differences[name].mean == 0.0
        pooled = stats.reliability["mc_reliability"]
        assert int(pooled.counts.sum()) == len(rows) * TEST_ROWS


def test_the_export_has_every_figures_mean_and_ci(studied: tuple) -> None:
    _, summary, _ = studied
    frame = pd.read_csv(io.StringIO(to_csv(summary)))
    assert not {name for name in FIGURES if name not in CLASSIFIER
                and f"{name}_mean" in frame.columns}  # no regression columns
    for name in CLASSIFIER:
        assert {f"{name}_mean", f"{name}_ci_low", f"{name}_ci_high"} <= set(frame.columns)
    for name in STANDARD:
        assert f"mc_minus_{name}_mean" in frame.columns
    for _, row in frame.iterrows():
        group = Group(row["rate"], row["placement"], None)
        stats = summary.get(group)
        assert stats is not None
        assert row["mc_nll_mean"] == pytest.approx(stats.figures["mc_nll"].mean)
        assert row["mc_minus_ece_ci_high"] == pytest.approx(stats.mc_differences["ece"].high)


def test_chromium_draws_the_calibration_figures(studied: tuple, tmp_path: Path) -> None:
    path, summary, _ = studied
    dom, log = render_in_chromium(path, tmp_path / "profile")
    found = sections(dom)
    for key in ("calibration", "reliability", "mc-difference"):
        assert rendered_svgs(found[key]) >= 1, f"figure {key} was not drawn"
    assert "Calibration on test: most accurate" in dom
    assert "Uncaught" not in log, log[-2000:]


def _records(mc_gain: float) -> list[TrialRecord]:
    """Hand-made trials: accuracy highest at rate 0.3, NLL lowest at rate 0.6; MC lowers the
    NLL of the dropout groups by ``mc_gain`` (with a little seed noise)."""
    found = []
    accuracy = {0.0: 0.70, 0.3: 0.80, 0.6: 0.75}
    nll = {0.0: 0.60, 0.3: 0.50, 0.6: 0.40}
    for number, cell in enumerate(expand((0.0, 0.3, 0.6), ("hidden",), (None,), range(6))):
        noise = 0.001 * (cell.seed % 3)
        gain = 0.0 if cell.rate == 0 else mc_gain + noise - 0.001  # mean: mc_gain
        attrs = {"test_accuracy": accuracy[cell.rate] + noise, "test_nll": nll[cell.rate] + noise,
                 "test_brier": 0.3, "test_ece": 0.1 + noise,
                 "test_mc_accuracy": accuracy[cell.rate] + noise,
                 "test_mc_nll": nll[cell.rate] + noise - gain, "test_mc_brier": 0.3,
                 "test_mc_ece": 0.1 + noise - gain / 2}
        found.append(TrialRecord(number, number, "complete", cell,
                                 attrs["test_accuracy"], attrs))
    return found


@pytest.mark.parametrize(("gain", "said"), [
    (0.05, "MC averaging helps: it lowers that group's NLL by 0.050"),
    (-0.05, "MC averaging hurts: it raises that group's NLL by 0.050"),
    (0.0, "MC averaging is not distinguishable from standard inference"),
])
def test_the_sentence_names_the_accuracy_and_the_calibration_winners(
        gain: float, said: str) -> None:
    summary = summarize(_records(gain), TASK, Objective())
    sentence = calibration_sentence(summary, TASK)
    assert sentence is not None
    assert "most accurate rate 0.3, hidden, max-norm none (accuracy 0.801" in sentence
    best = "rate 0.6, hidden, max-norm none (NLL"
    assert f"lowest MC dropout NLL {best}" in sentence or gain < 0
    assert "not the most accurate group" in sentence
    assert said in sentence


def test_a_study_without_figures_has_no_sentence_and_no_panels() -> None:
    plain = [TrialRecord(i, i, "complete", Cell(0.0, "none", None, i), 0.7, {})
             for i in range(3)]
    summary = summarize(plain, TASK, Objective())
    assert calibration_sentence(summary, TASK) is None
    from sweep.report.calibration_figures import calibration_panels

    assert calibration_panels(summary, TASK) == []


def test_a_regression_studys_figures_are_drawn(tmp_path: Path) -> None:
    """A real regression sweep (examples/regression.py, compared on validation, 5 MC passes):
    the summary's Gaussian NLL figures are NumPy's over the stored trials, the report draws the
    rate figure (standard and MC Gaussian NLL) and the MC-difference figure in headless
    Chromium, has no reliability diagram (a classifier's), and its headline names the group
    of lowest MC Gaussian NLL and what MC averaging does to it."""
    from sweep.report.calibration_stats import PAIRS

    from ..conftest import REPO

    result = cli_in_process("run", "--study", "reg", "--task",
                            str(REPO / "examples" / "regression.py"), "--rates", "0,0.3",
                            "--placements", "hidden", "--seeds", "3", "--epochs", "20",
                            "--mc-passes", "5", "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = "Predictive calibration on validation: lowest MC dropout Gaussian NLL"
    assert said in result.stdout
    with open_study("reg", f"sqlite:///{tmp_path / 'studies' / 'reg.db'}") as study:
        records = study.records()
        summary = load_report_data(study).summary
        path = write_report(study, tmp_path / "reg.html").path
    for group, rows in _by_group(records).items():
        stats = summary.get(group)
        assert stats is not None
        nll = [r.user_attrs["validation_mc_gaussian_nll"] for r in rows]
        assert stats.figures["mc_gaussian_nll"].mean == pytest.approx(np.mean(nll), rel=1e-12)
        pairs = [r.user_attrs["validation_mc_gaussian_nll"]
                 - r.user_attrs["validation_gaussian_nll"] for r in rows]
        assert set(stats.mc_differences) == {"gaussian_nll"} <= set(PAIRS)
        assert stats.mc_differences["gaussian_nll"].mean == pytest.approx(np.mean(pairs),
                                                                          abs=1e-12)
    dom, log = render_in_chromium(path, tmp_path / "profile")
    found = sections(dom)
    for key in ("calibration", "mc-difference"):
        assert rendered_svgs(found[key]) >= 1, f"figure {key} was not drawn"
    assert "reliability" not in found and "Gaussian NLL" in found["calibration"]
    assert said in dom and "Uncaught" not in log, log[-2000:]
