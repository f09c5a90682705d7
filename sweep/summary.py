"""Seed statistics per cell group, as plain data (no plotting here)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .grid import Group
from .records import TrialRecord, completed

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float
    std: float
    low: float
    high: float


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
class GroupStats:
    group: Group
    n: int
    test: Interval
    train: Interval
    seeds: tuple[int, ...]
    test_values: tuple[float, ...]


@dataclass(frozen=True)
class SweepSummary:
    groups: tuple[GroupStats, ...]
    n_complete: int

    @property
    def best(self) -> GroupStats | None:
        """The group with the highest mean test accuracy (ties: fewer dropout, lower norm)."""
        return max(self.groups, key=lambda g: g.test.mean, default=None)


def summarize(records: Sequence[TrialRecord]) -> SweepSummary:
    by_group: dict[Group, list[TrialRecord]] = defaultdict(list)
    done = completed(records)
    for cell, record in done.items():
        by_group[cell.group].append(record)
    groups = []
    for group in sorted(by_group, key=_group_order):
        rows = sorted(by_group[group], key=lambda r: r.cell.seed)
        test = [float(r.test_accuracy) for r in rows if r.test_accuracy is not None]
        train = [r.train_accuracy for r in rows if r.train_accuracy is not None]
        groups.append(
            GroupStats(group, len(test), mean_ci(test), mean_ci(train),
                       tuple(r.cell.seed for r in rows), tuple(test))
        )
    return SweepSummary(tuple(groups), len(done))


def _group_order(group: Group) -> tuple[float, str, float]:
    return (group.rate, group.placement, -1.0 if group.max_norm is None else group.max_norm)
