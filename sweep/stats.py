"""Seed statistics: the mean and its t-interval, the paired test, Holm's correction.

Plain numbers in, plain numbers out (scipy is imported by the functions that need it). The race
(:mod:`sweep.racing`) and the report (:mod:`sweep.report`) both decide with these numbers, so
they live outside both: importing the race loads no report module, and the report's modules
import no race to get them.

When paired differences have no spread the t statistic is undefined; the p-value is then the
exact two-sided sign test (``2 * 0.5**n``, capped at 1; 1 when every difference is zero).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
_NO_SPREAD = 1e-9


@dataclass(frozen=True)
class Interval:
    """A mean, the sample std and the ``CONFIDENCE`` t-interval of the mean (nan when n < 2)."""

    mean: float
    std: float
    low: float
    high: float


NAN_INTERVAL = Interval(math.nan, math.nan, math.nan, math.nan)
BOUNDS = (0.0, 1.0)
"""Where a bounded metric lives (:attr:`sweep.objective.Objective.bounded`: accuracy, AUC ...)."""


def clip_to_bounds(values: np.ndarray, bounded: bool) -> np.ndarray:
    """The one rule for a bounded metric's confidence limits, on every surface (the terminal,
    ``status`` and its JSON, ``summary`` in every format and its DataFrame, the report's text
    and figures): they are shown inside :data:`BOUNDS`. A t-interval of a few seeds can leave
    [0, 1] (two seeds at 0.9 and 1.0: 0.32 to 1.59), the metric cannot; the clipped interval
    is the set of possible values the t-interval covers. NaN stays NaN; an unbounded metric's
    values are returned as they are."""
    return np.clip(values, *BOUNDS) if bounded else values


def clip_ci(interval: Interval, bounded: bool) -> Interval:
    """``interval`` with its limits clipped by :func:`clip_to_bounds` (mean and std kept)."""
    if not bounded:
        return interval
    low, high = clip_to_bounds(np.array([interval.low, interval.high]), bounded).tolist()
    return Interval(interval.mean, interval.std, low, high)


@functools.lru_cache(maxsize=4096)
def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided t quantile for the mean of ``n`` values (n >= 2), from ``scipy.special``
    (what ``scipy.stats.t.ppf`` calls; ``scipy.stats`` costs a second of CPU to import)."""
    from scipy.special import stdtrit

    return float(stdtrit(n - 1, 0.5 + confidence / 2))


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean, sample std and the t-based confidence interval of the mean (nan when n < 2)."""
    array = np.asarray(values, dtype=float)
    n = array.size
    mean = float(array.mean()) if n else math.nan
    if n < 2:
        return Interval(mean, math.nan, math.nan, math.nan)
    std = float(array.std(ddof=1))
    half = t_quantile(n, confidence) * std / math.sqrt(n)
    return Interval(mean, std, mean - half, mean + half)


def paired_test(
    values: Mapping[int, float], baseline: Mapping[int, float]
) -> tuple[int, Interval, float, float]:
    """(n shared seeds, interval of the differences, t, two-sided p) for ``values - baseline``:
    the paired t-test (``scipy.stats.ttest_rel``'s figures, from ``scipy.special``)."""
    from scipy.special import stdtr

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
    t = interval.mean / (interval.std / math.sqrt(n))
    return n, interval, float(t), float(2 * stdtr(n - 1, -abs(t)))


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
