"""Seed statistics on a real (synthetic) SQLite study with known values; no plotly involved."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sweep.engines import Curves
from sweep.grid import Cell, Group
from sweep.report.curve_stats import curve_stats
from sweep.report.status import study_status
from sweep.report.summary import GroupStats, SweepSummary, summarize
from sweep.stats import holm, mean_ci, paired_test
from sweep.storage.synthetic import build_study

pytestmark = pytest.mark.xdist_group("report-summary")  # its module fixtures train once

BASE = {None: 0.76, 3.0: 0.79}
EFFECT = {(0.0, "none"): 0.0, (0.4, "hidden"): 0.05, (0.4, "input"): -0.01,
          (0.8, "input"): -0.12, (0.8, "hidden"): 0.012}
SEEDS = range(6)


def known_test(cell: Cell) -> float:
    """Base by max-norm + group effect + a seed shift shared by all groups + per-cell jitter."""
    jitter = ((cell.seed + 1) * (int(cell.rate * 10) + len(cell.placement) + 2) % 7) * 0.003
    return BASE[cell.max_norm] + EFFECT[(cell.rate, cell.placement)] + 0.01 * cell.seed + jitter


def known_train(cell: Cell) -> float:
    return 1.0 - 0.2 * cell.rate + 0.001 * cell.seed


def _known(cell: Cell, rng: np.random.Generator) -> tuple[float, float]:
    return known_train(cell), known_test(cell)


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> SweepSummary:
    """Rates 0/0.4/0.8 x input/hidden x max-norm none/3, 6 seeds; two cells still pending."""
    db = tmp_path_factory.mktemp("summary") / "known.db"
    sweep_study = build_study(f"sqlite:///{db}", "known", rates=(0.0, 0.4, 0.8),
                              placements=("input", "hidden"), max_norms=(None, 3.0), seeds=SEEDS,
                              pending=2, running=1, accuracy=_known, with_curves=False,
                              dashboard_points=0)
    return summarize(sweep_study.records(), sweep_study.task)


def stats_of(summary: SweepSummary, group: Group) -> GroupStats:
    found = summary.get(group)
    assert found is not None, group
    return found


def _values(group: Group, seeds: range | list[int] = SEEDS) -> list[float]:
    return [known_test(Cell(group.rate, group.placement, group.max_norm, s)) for s in seeds]


def test_mean_ci_matches_a_hand_computation() -> None:
    values = [0.70, 0.80, 0.90, 0.75]
    mean = sum(values) / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    t_975_df3 = 3.182446305284263  # Student t, 97.5th percentile, 3 degrees of freedom
    half = t_975_df3 * std / math.sqrt(4)
    interval = mean_ci(values)
    assert interval.mean == pytest.approx(0.7875)
    assert interval.std == pytest.approx(std)
    assert (interval.low, interval.high) == pytest.approx((mean - half, mean + half))
    single = mean_ci([0.5])
    assert single.mean == 0.5 and math.isnan(single.low) and math.isnan(single.std)


def test_groups_have_the_known_means_and_intervals(summary: SweepSummary) -> None:
    groups = {g.group: g for g in summary.groups}
    assert len(groups) == 2 + 2 * 2 * 2  # a baseline per max-norm + rate x placement x norm
    for g in groups.values():
        expected = _values(g.group, list(g.seeds))
        assert g.n == len(g.seeds) >= 5 and set(g.seeds) <= set(SEEDS)
        assert g.test_values == pytest.approx(expected)
        assert g.test.mean == pytest.approx(np.mean(expected))
        assert g.test.std == pytest.approx(np.std(expected, ddof=1))
        half = stats.t.ppf(0.975, g.n - 1) * np.std(expected, ddof=1) / math.sqrt(g.n)
        assert (g.test.low, g.test.high) == pytest.approx(
            (np.mean(expected) - half, np.mean(expected) + half))
        group = g.group
        train = [known_train(Cell(group.rate, group.placement, group.max_norm, s))
                 for s in g.seeds]
        assert g.train.mean == pytest.approx(np.mean(train))
        assert g.gap.mean == pytest.approx(np.mean(train) - np.mean(expected))


def test_progress_counts_and_partial_groups(summary: SweepSummary) -> None:
    assert summary.n_cells == (2 + 8) * 6
    assert (summary.n_running, summary.n_pending, summary.n_failed) == (1, 2, 0)
    assert summary.n_complete == summary.n_cells - 3
    assert summary.in_progress and summary.max_n == 6
    assert sum(6 - g.n for g in summary.partial) == 3  # the three unfinished cells, seed 5
    assert all(g.n == 5 for g in summary.partial)


def test_paired_test_matches_scipy_and_uses_the_same_max_norm(summary: SweepSummary) -> None:
    for g in summary.groups:
        if g.group.is_baseline:
            assert g.vs_baseline is None
            continue
        c = g.vs_baseline
        assert c is not None and c.baseline == Group(0.0, "none", g.group.max_norm)
        base = stats_of(summary, c.baseline)
        shared = sorted(set(g.seeds) & set(base.seeds))
        assert c.n_pairs == len(shared)
        ours = dict(zip(g.seeds, g.test_values, strict=True))
        theirs = dict(zip(base.seeds, base.test_values, strict=True))
        expected = stats.ttest_rel([ours[s] for s in shared], [theirs[s] for s in shared])
        assert c.t == pytest.approx(expected.statistic)
        assert c.p == pytest.approx(expected.pvalue)
        diffs = [ours[s] - theirs[s] for s in shared]
        assert np.ptp(diffs) > 0.001  # the known values have spread: a real t-test
        assert c.difference.mean == pytest.approx(np.mean(diffs))
        assert (c.difference.low, c.difference.high) == pytest.approx(
            (mean_ci(diffs).low, mean_ci(diffs).high))
        assert c.mean_difference == pytest.approx(g.test.mean - base.test.mean)


def test_holm_correction_over_the_compared_groups(summary: SweepSummary) -> None:
    compared = [g.vs_baseline for g in summary.groups if g.vs_baseline is not None]
    m = len(compared)
    assert m == 8
    ordered = sorted(compared, key=lambda c: c.p)
    running = 0.0
    for rank, c in enumerate(ordered):  # Holm's step-down by hand
        running = max(running, min(1.0, (m - rank) * c.p))
        assert c.p_holm == pytest.approx(running)
        assert c.p_holm >= c.p
    assert [c.p_holm for c in ordered] == sorted(c.p_holm for c in ordered)
    strong = stats_of(summary, Group(0.8, "input", None)).vs_baseline
    assert strong is not None and strong.worse and not strong.better  # about -0.12 per seed
    helps = stats_of(summary, Group(0.4, "hidden", 3.0)).vs_baseline
    assert helps is not None and helps.better


def test_holm_on_known_p_values() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, math.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.04)
    assert math.isnan(adjusted[1])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_paired_test_without_spread_uses_the_sign_test() -> None:
    same = {0: 0.5, 1: 0.6, 2: 0.7}
    n, diff, t, p = paired_test(same, dict(same))
    assert (n, diff.mean, t, p) == (3, 0.0, 0.0, 1.0)
    shifted = {s: v + 1 / 70 for s, v in same.items()}
    n, diff, t, p = paired_test(shifted, same)
    assert n == 3 and t == math.inf and p == pytest.approx(0.25)  # 2 * 0.5**3
    n, diff, t, p = paired_test({0: 0.5, 1: 0.6}, {1: 0.55, 7: 0.4})
    assert n == 1 and math.isnan(p) and diff.mean == pytest.approx(0.05)


def test_best_group_and_ranking(summary: SweepSummary) -> None:
    assert summary.best is not None and summary.best.group == Group(0.4, "hidden", 3.0)
    means = [g.test.mean for g in summary.ranked]
    assert means == sorted(means, reverse=True)
    assert summary.placements == ("input", "hidden")
    assert summary.max_norms == (None, 3.0)


def test_groups_have_one_order_everywhere(summary: SweepSummary) -> None:
    """By rate, then the task's placement order (circles: input, hidden, both), then max-norm;
    ``status`` lists its groups the same way."""
    order = [g.group for g in summary.groups]
    assert order[:4] == [Group(0.0, "none", None), Group(0.0, "none", 3.0),
                         Group(0.4, "input", None), Group(0.4, "input", 3.0)]
    assert order == sorted(order, key=summary.order)
    assert summary.reference == Group(0.4, "hidden", None)  # the tutorial's, from the task


def test_status_lists_groups_in_the_summarys_order(tmp_path: Path) -> None:
    sweep_study = build_study(f"sqlite:///{tmp_path / 's.db'}", "s", rates=(0.0, 0.4),
                              placements=("both", "hidden", "input"), max_norms=(None,),
                              seeds=2, pending=1, with_curves=False, dashboard_points=0)
    status = study_status(sweep_study.name, sweep_study.settings, sweep_study.records())
    assert [g.group.placement for g in status.groups] == ["none", "input", "hidden", "both"]


def test_curve_stats_average_over_seeds() -> None:
    epochs = np.array([10, 20, 30])
    runs = [np.array([0.5, 0.7, 0.8]), np.array([0.6, 0.8, 0.9]), np.array([0.55, 0.75, 1.0])]
    curves = [(epochs, Curves(r, r, r, r - 0.1)) for r in runs]
    result = curve_stats(Group(0.4, "hidden", None), curves)
    matrix = np.stack(runs)
    assert result is not None and result.n == 3
    assert result.train.mean == pytest.approx(matrix.mean(axis=0))
    half = stats.t.ppf(0.975, 2) * matrix.std(axis=0, ddof=1) / math.sqrt(3)
    assert result.train.high == pytest.approx(matrix.mean(axis=0) + half)
    assert result.test.mean == pytest.approx(matrix.mean(axis=0) - 0.1)
    single = curve_stats(Group(0.4, "hidden", None), curves[:1])
    assert single is not None and np.isnan(single.test.low).all()
    assert curve_stats(Group(0.4, "hidden", None), []) is None


def test_summary_never_imports_plotly(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from sweep.storage.synthetic import build_study\n"
        "from sweep.report.summary import summarize\n"
        "from sweep.report.html import load_report_data\n"
        f"s = build_study('sqlite:///{tmp_path / 'p.db'}', 'p', seeds=2, dashboard_points=0)\n"
        "assert summarize(s.records(), s.task).n_complete > 0\n"
        "assert load_report_data(s).curves\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'tensorflow')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
