"""Seed statistics per cell group, as plain data (no plotting here).

For each group (rate x placement x max-norm): n seeds, mean, std and 95% t-interval of test and
train accuracy and of the train-test gap; against the no-dropout baseline with the same max-norm
(rate 0): a paired-by-seed t-test on the seeds both groups have, the mean paired difference with
its t-interval, and Holm's correction over all compared groups.

When the paired differences have no spread the t statistic is undefined; the p-value is then the
exact two-sided sign test (``2 * 0.5**n``, capped at 1; 1 when every difference is zero).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..grid import BASELINE_PLACEMENT, Group
from ..storage.records import FAILED, PENDING, RUNNING, TrialRecord, cell_states, completed

if TYPE_CHECKING:
    from ..engines import Curves

CONFIDENCE = 0.95
ALPHA = 0.05
_NO_SPREAD = 1e-9
PLACEMENT_ORDER = {"input": 0, "hidden": 1, "both": 2}


@dataclass(frozen=True)
class Interval:
    mean: float
    std: float
    low: float
    high: float


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan, math.nan)


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean, sample std and the t-based confidence interval of the mean (nan when n < 2)."""
    from scipy import stats

    array = np.asarray(values, dtype=float)
    n = array.size
    mean = float(array.mean()) if n else math.nan
    if n < 2:
        return Interval(mean, math.nan, math.nan, math.nan)
    std = float(array.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, std, mean - half, mean + half)


@dataclass(frozen=True)
class Comparison:
    """A group's test accuracy against its baseline (rate 0, same max-norm), paired by seed."""

    baseline: Group
    n_pairs: int
    difference: Interval  # of the paired differences group - baseline (shared seeds)
    mean_difference: float  # group mean - baseline mean, over all seeds of each
    t: float
    p: float  # two-sided; nan when fewer than 2 shared seeds
    p_holm: float  # Holm-corrected over every compared group; nan when p is nan

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA  # False for nan

    @property
    def better(self) -> bool:
        return self.significant and self.difference.mean > 0

    @property
    def worse(self) -> bool:
        return self.significant and self.difference.mean < 0


@dataclass(frozen=True)
class GroupStats:
    group: Group
    n: int
    test: Interval
    train: Interval
    seeds: tuple[int, ...]
    test_values: tuple[float, ...]
    train_values: tuple[float, ...] = ()
    gap: Interval = NAN_INTERVAL  # train - test accuracy, per seed
    trial_ids: tuple[int, ...] = ()
    vs_baseline: Comparison | None = None


@dataclass(frozen=True)
class SweepSummary:
    groups: tuple[GroupStats, ...]
    n_complete: int
    n_cells: int = 0
    n_running: int = 0
    n_pending: int = 0
    n_failed: int = 0

    @property
    def best(self) -> GroupStats | None:
        """The group with the highest mean test accuracy (ties: fewer dropout, lower norm)."""
        return max(self.groups, key=lambda g: g.test.mean, default=None)

    @property
    def max_n(self) -> int:
        return max((g.n for g in self.groups), default=0)

    @property
    def partial(self) -> tuple[GroupStats, ...]:
        """Groups with fewer seeds than the largest group."""
        top = self.max_n
        return tuple(g for g in self.groups if g.n < top)

    @property
    def in_progress(self) -> bool:
        return self.n_running + self.n_pending > 0

    @property
    def ranked(self) -> tuple[GroupStats, ...]:
        """Groups by mean test accuracy, best first."""
        return tuple(sorted(self.groups, key=lambda g: (-g.test.mean, _group_order(g.group))))

    @property
    def rates(self) -> tuple[float, ...]:
        return tuple(sorted({g.group.rate for g in self.groups}))

    @property
    def placements(self) -> tuple[str, ...]:
        """Dropout placements (the baseline's ``none`` left out): input, hidden, both, others."""
        names = {g.group.placement for g in self.groups if not g.group.is_baseline}
        return tuple(sorted(names, key=lambda p: (PLACEMENT_ORDER.get(p, len(PLACEMENT_ORDER)), p)))

    @property
    def max_norms(self) -> tuple[float | None, ...]:
        return tuple(sorted({g.group.max_norm for g in self.groups}, key=_norm_order))

    @cached_property
    def _by_group(self) -> dict[Group, GroupStats]:
        return {g.group: g for g in self.groups}

    def get(self, group: Group) -> GroupStats | None:
        return self._by_group.get(group)

    def baseline_for(self, group: Group) -> GroupStats | None:
        return self.get(baseline_group(group.max_norm))


def baseline_group(max_norm: float | None) -> Group:
    return Group(0.0, BASELINE_PLACEMENT, max_norm)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in input order; nan entries stay nan, not counted."""
    valid = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    m = len(valid)
    for rank, i in enumerate(sorted(valid, key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def paired_test(
    values: Mapping[int, float], baseline: Mapping[int, float]
) -> tuple[int, Interval, float, float]:
    """(n shared seeds, interval of the differences, t, two-sided p) for ``values - baseline``."""
    from scipy import stats

    seeds = sorted(set(values) & set(baseline))
    diffs = np.array([values[s] - baseline[s] for s in seeds], dtype=float)
    n = diffs.size
    interval = mean_ci(diffs.tolist())
    if n < 2:
        return n, interval, math.nan, math.nan
    if float(np.ptp(diffs)) <= _NO_SPREAD:
        nonzero = abs(float(diffs.mean())) > _NO_SPREAD
        t = math.copysign(math.inf, float(diffs.mean())) if nonzero else 0.0
        return n, interval, t, min(1.0, 2 * 0.5**n) if nonzero else 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_rel([values[s] for s in seeds], [baseline[s] for s in seeds])
    return n, interval, float(result.statistic), float(result.pvalue)


def summarize(records: Sequence[TrialRecord]) -> SweepSummary:
    by_group: dict[Group, list[TrialRecord]] = defaultdict(list)
    done = completed(records)
    for cell, record in done.items():
        by_group[cell.group].append(record)
    groups = [_group_stats(group, by_group[group]) for group in sorted(by_group, key=_group_order)]
    groups = _compare_with_baselines(groups)
    states = Counter(cell_states(records).values())
    return SweepSummary(
        tuple(groups), len(done), n_cells=sum(states.values()), n_running=states[RUNNING],
        n_pending=states[PENDING], n_failed=states[FAILED],
    )


def _group_stats(group: Group, records: Sequence[TrialRecord]) -> GroupStats:
    rows = sorted((r for r in records if r.test_accuracy is not None), key=lambda r: r.cell.seed)
    test = [float(r.test_accuracy) for r in rows if r.test_accuracy is not None]
    train = [r.train_accuracy for r in rows if r.train_accuracy is not None]
    gaps = [r.train_accuracy - float(r.test_accuracy) for r in rows
            if r.train_accuracy is not None and r.test_accuracy is not None]
    return GroupStats(
        group, len(test), mean_ci(test), mean_ci(train), tuple(r.cell.seed for r in rows),
        tuple(test), tuple(train), mean_ci(gaps), tuple(r.trial_id for r in rows),
    )


def _compare_with_baselines(groups: list[GroupStats]) -> list[GroupStats]:
    by_group = {g.group: g for g in groups}
    raw: dict[Group, tuple[Group, int, Interval, float, float, float]] = {}
    for stats in groups:
        base = by_group.get(baseline_group(stats.group.max_norm))
        if stats.group.is_baseline or base is None:
            continue
        n, diff, t, p = paired_test(
            dict(zip(stats.seeds, stats.test_values, strict=True)),
            dict(zip(base.seeds, base.test_values, strict=True)),
        )
        raw[stats.group] = (base.group, n, diff, stats.test.mean - base.test.mean, t, p)
    adjusted = dict(zip(raw, holm([r[5] for r in raw.values()]), strict=True))
    result = []
    for stats in groups:
        if stats.group in raw:
            reference, n, diff, mean_diff, t, p = raw[stats.group]
            comparison = Comparison(reference, n, diff, mean_diff, t, p, adjusted[stats.group])
            stats = replace(stats, vs_baseline=comparison)
        result.append(stats)
    return result


@dataclass(frozen=True)
class Band:
    """Mean and 95% t-interval across seeds, per epoch (low/high are nan when n < 2)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class CurveStats:
    """Mean learning curves of one group: epoch numbers and train/test accuracy bands."""

    group: Group
    n: int
    epochs: np.ndarray
    train: Band
    test: Band


def curve_stats(group: Group, curves: Sequence[tuple[np.ndarray, Curves]]) -> CurveStats | None:
    """Seed-averaged curves of ``group``; trials whose epochs differ from the most common
    epoch grid are left out (a study has one epoch setting, so normally none)."""
    if not curves:
        return None
    shapes = Counter(tuple(epochs.tolist()) for epochs, _ in curves)
    grid = np.asarray(shapes.most_common(1)[0][0])
    kept = [c for epochs, c in curves if np.array_equal(epochs, grid)]
    train = np.stack([np.asarray(c.train_accuracy, dtype=float) for c in kept])
    test = np.stack([np.asarray(c.test_accuracy, dtype=float) for c in kept])
    return CurveStats(group, len(kept), grid, _band(train), _band(test))


def _band(matrix: np.ndarray) -> Band:
    from scipy import stats

    n = matrix.shape[0]
    mean = matrix.mean(axis=0)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return Band(mean, nan, nan.copy())
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * matrix.std(axis=0, ddof=1) / math.sqrt(n)
    return Band(mean, mean - half, mean + half)


def _norm_order(max_norm: float | None) -> float:
    return -1.0 if max_norm is None else max_norm


def _group_order(group: Group) -> tuple[float, str, float]:
    return (group.rate, group.placement, _norm_order(group.max_norm))
