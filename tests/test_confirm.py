"""Confirmation on fresh seeds: the best dropout group and its baseline retrained on seeds that
took no part in choosing them, tested once; ordinary cells of the study, exactly once,
resumable, trained by any worker (a race's workers included)."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import sweep
from sweep.confirming import CONFIRM_SEED_BASE, default_confirm, pick
from sweep.grid import Cell, Group
from sweep.report.status import study_status
from sweep.report.summary import SweepSummary, summarize
from sweep.report.text import headline, verdict_kind
from sweep.storage.synthetic import build_study, synthetic_result

from .conftest import assert_error_line, cli_in_process, run_cli

SEEDS = range(6)
BASELINE = Group(0.0, "none", None)


def test_the_default_rule_is_on_where_the_cells_add_at_most_a_quarter() -> None:
    assert default_confirm(1680) == 30  # the tutorial's grid
    assert default_confirm(280) == 30  # digits-cnn's and sequence-lstm's default grids
    assert default_confirm(240) == 30
    assert default_confirm(239) == 0
    assert default_confirm(6) == 0


@pytest.mark.parametrize(("flags", "fragment"), [
    (("--confirm", "1"), "confirm: 1 fresh seeds cannot give a paired test"),
    (("--confirm", "-3"), "confirm: -3 fresh seeds cannot give a paired test"),
    (("--confirm", "5000"), "confirm: 5,000 is more than 1,000 fresh seeds"),
    (("--confirm", "many"), "confirm: 'many' is not a whole number"),
    (("--seeds", f"0,{CONFIRM_SEED_BASE}"), f"seeds: {CONFIRM_SEED_BASE} is a confirmation seed"),
])
def test_bad_confirm_settings_are_one_line(workdir: Path, flags: tuple[str, ...],
                                           fragment: str) -> None:
    result = cli_in_process("run", "--rates", "0,0.4", *flags, cwd=workdir)
    assert_error_line(result, fragment)
    assert not (workdir / "studies").exists() or not list((workdir / "studies").iterdir())


def _known(cell: Cell, rng: np.random.Generator) -> tuple[float, float]:
    jitter = ((cell.seed * 7 + int(cell.rate * 10)) % 5) * 0.004
    effect = {0.0: 0.0, 0.4: 0.02, 0.8: -0.05}[cell.rate]
    return 1.0, 0.75 + effect + jitter


def _fresh(cell: Cell) -> float:
    """The fresh seeds' values: dropout 0.03 better than its baseline, with some spread."""
    jitter = ((cell.seed - CONFIRM_SEED_BASE) % 4) * 0.005
    return 0.76 + jitter + (0.03 + 0.002 * ((cell.seed % 3) - 1) if cell.rate > 0 else 0.0)


def _confirmed_study(tmp_path: Path, fresh_seeds: int) -> tuple[object, list[Cell]]:
    sweep_study = build_study(f"sqlite:///{tmp_path / 'c.db'}", "c", rates=(0.0, 0.4, 0.8),
                              placements=("input", "hidden"), max_norms=(None,), seeds=SEEDS,
                              accuracy=_known, with_curves=False, dashboard_points=0)
    chosen = pick(summarize(sweep_study.records(), sweep_study.task))
    assert chosen is not None and chosen.baseline == BASELINE
    cells = chosen.cells(8)[: 2 * fresh_seeds]
    sweep_study.enqueue_missing(cells)
    rng = np.random.default_rng(0)
    claims = sweep_study.claim(len(cells), only=set(cells))
    results = [synthetic_result(c.cell, 200, lambda cell, _: (1.0, _fresh(cell)), rng)
               for c in claims]
    sweep_study.record(claims, results, with_curves=False, dashboard_points=0)
    return sweep_study, cells


def test_fresh_seeds_stay_out_of_the_groups_and_are_tested_once(tmp_path: Path) -> None:
    sweep_study, cells = _confirmed_study(tmp_path, 8)
    records = sweep_study.records()  # type: ignore[attr-defined]
    summary = summarize(records, sweep_study.task, confirm_seeds=8)  # type: ignore[attr-defined]
    assert all(g.n == len(SEEDS) for g in summary.groups)  # the selection stage only
    c = summary.confirmation
    assert c is not None and c.complete and c.n_pairs == 8
    mine = [_fresh(cell) for cell in cells if cell.rate > 0]
    theirs = [_fresh(cell) for cell in cells if cell.rate == 0]
    expected = stats.ttest_rel(mine, theirs)
    assert c.p == pytest.approx(float(expected.pvalue), rel=1e-6)
    assert c.difference.mean == pytest.approx(np.mean(mine) - np.mean(theirs), abs=1e-6)
    assert c.better and verdict_kind(summary) == "better"
    text = headline(summary, sweep_study.task)  # type: ignore[attr-defined]
    assert "Confirmed on 8 fresh seeds, which took no part in choosing it" in text
    assert "p < 0.001, one test): dropout beats the baseline beyond seed noise" in text
    assert "Selection stage (the sweep's own seeds, which chose it): against the" in text
    assert "Holm-corrected" in text.split("Selection stage")[1]
    status = study_status("c", sweep_study.settings, records,  # type: ignore[attr-defined]
                          task=sweep_study.task, confirm_seeds=8)  # type: ignore[attr-defined]
    assert status.total == 6 * 5 + 16
    assert all(g.counts["complete"] == len(SEEDS) for g in status.groups)
    confirmation = status.to_json()["confirmation"]
    assert confirmation["verdict"] == "better" and confirmation["n_pairs"] == 8
    assert confirmation["fresh_seeds"] == 8 and confirmation["p"] < 0.001
    assert confirmation["selection_stage"]["n_pairs"] == len(SEEDS)
    assert confirmation["baseline"] == {"rate": 0.0, "placement": "none", "max_norm": None}


def test_a_confirmation_in_progress_says_so_and_does_not_decide(tmp_path: Path) -> None:
    sweep_study, _ = _confirmed_study(tmp_path, 3)
    summary: SweepSummary = summarize(sweep_study.records(),  # type: ignore[attr-defined]
                                      sweep_study.task, confirm_seeds=8)  # type: ignore
    c = summary.confirmation
    assert c is not None and not c.complete and c.n_pairs == 3 and c.planned == 8
    assert "Confirmed on 3 fresh seeds (so far: 3 of 8)" in headline(
        summary, sweep_study.task)  # type: ignore[attr-defined]
    assert verdict_kind(summary) == ("better" if summary.best.vs_baseline.better  # type: ignore
                                     else "worse" if summary.best.vs_baseline.worse  # type: ignore
                                     else "neutral")


def _trials(db: Path) -> Counter[tuple[str, int]]:
    """(state, seed >= CONFIRM_SEED_BASE) per trial, from the study's SQLite file."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT t.state, p.param_value FROM trials t JOIN trial_params p "
            "ON p.trial_id = t.trial_id WHERE p.param_name = 'seed'").fetchall()
    return Counter((state, int(seed >= CONFIRM_SEED_BASE)) for state, seed in rows)


@pytest.mark.slow
def test_a_sweep_confirms_once_and_a_rerun_trains_nothing(workdir: Path) -> None:
    flags = ("run", "--study", "conf", "--rates", "0,0.8", "--placements", "input",
             "--max-norms", "none", "--seeds", "2", "--epochs", "20", "--confirm", "3")
    first = cli_in_process(*flags, cwd=workdir)  # with its progress bar, as a user sees it
    assert first.returncode == 0, first.stderr
    assert "4 cells + 6 confirmation cells x 20 epochs" in first.stderr
    line = ("confirmation: retraining rate 0.8, input, max-norm none and its no-dropout "
            "baseline on 3 fresh seeds (6 cells)\n")
    assert line in first.stderr
    before = first.stderr[:first.stderr.index(line)]
    assert re.search(r"[\r\n] *\r?$", before), repr(before[-200:])  # above the bar, not after it
    assert re.search(r"\| 10/10 cells", first.stderr), first.stderr[-300:]  # the bar counts them
    assert "10 cell(s) trained now" in first.stdout
    assert "Confirmed on 3 fresh seeds, which took no part in choosing it" in first.stdout
    assert _trials(workdir / "studies" / "conf.db") == {("COMPLETE", 0): 4, ("COMPLETE", 1): 6}
    again = cli_in_process(*flags, cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "0 cell(s) trained now, 10 were complete" in again.stdout
    assert _trials(workdir / "studies" / "conf.db") == {("COMPLETE", 0): 4, ("COMPLETE", 1): 6}
    shown = cli_in_process("status", "--study", "conf", "--json", cwd=workdir)
    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["confirmation"]["n_pairs"] == 3 and status["cells"]["complete"] == 10
    summary = sweep.load_summary("conf", f"sqlite:///{workdir / 'studies' / 'conf.db'}")
    assert summary.confirmation is not None and summary.confirmation.n_pairs == 3
    assert summary.confirmation.p == pytest.approx(status["confirmation"]["p"], abs=1e-6)
    report = (workdir / "dashboards" / "conf.html").read_text()
    assert "Confirmed on 3 fresh seeds, which took no part in choosing it" in report
    off = cli_in_process("run", "--study", "small", "--rates", "0,0.8", "--placements", "input",
                         "--max-norms", "none", "--seeds", "2", "--epochs", "5", "--no-progress",
                         cwd=workdir)
    assert off.returncode == 0, off.stderr
    assert "Not confirmed on fresh seeds: off by default" in off.stdout
    assert "--confirm 30 retrains the best dropout group" in off.stdout


@pytest.mark.slow
def test_a_race_s_workers_confirm_after_the_race(workdir: Path) -> None:
    result = run_cli("run", "--study", "raced", "--rates", "0,0.8", "--placements", "input",
                     "--max-norms", "none", "--seeds", "auto", "--first-seeds", "2",
                     "--max-seeds", "4", "--epochs", "20", "--confirm", "3", "--workers", "2",
                     "--no-progress", cwd=workdir, check=True)
    trials = _trials(workdir / "studies" / "raced.db")
    assert trials[("COMPLETE", 1)] == 6 and {("COMPLETE", 0), ("COMPLETE", 1)} <= set(trials)
    # two workers that find the race over may both enqueue the confirmation: the second
    # waiting trial of a cell is failed as a duplicate, never trained
    assert set(trials) <= {("COMPLETE", 0), ("COMPLETE", 1), ("FAIL", 1)}
    assert "Confirmed on 3 fresh seeds" in result.stdout
    assert "Does the best dropout group beat no dropout?" in result.stdout
    report = (workdir / "dashboards" / "raced.html").read_text()
    headline = report.split('class="headline')[1].split("</p>")[0]
    assert "Confirmed on 3 fresh seeds" in headline
    assert "Selection stage (the race over the sweep&#x27;s own seeds)" in headline
