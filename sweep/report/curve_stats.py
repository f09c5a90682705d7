"""Seed-averaged learning curves of a group: per epoch, the mean and 95% t-band across seeds."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..grid import Group
from ..stats import t_quantile

if TYPE_CHECKING:
    from ..engines import Curves


@dataclass(frozen=True)
class Band:
    """Mean and 95% t-interval across seeds, per epoch (low/high are nan when n < 2)."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class CurveStats:
    """Mean learning curves of one group: epoch numbers and train/compared metric bands."""

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
    train = np.stack([np.asarray(c.train_metric, dtype=float) for c in kept])
    test = np.stack([np.asarray(c.test_metric, dtype=float) for c in kept])
    return CurveStats(group, len(kept), grid, _band(train), _band(test))


def _band(matrix: np.ndarray) -> Band:
    n = matrix.shape[0]
    mean = matrix.mean(axis=0)
    if n < 2:
        nan = np.full_like(mean, np.nan)
        return Band(mean, nan, nan.copy())
    half = t_quantile(n) * matrix.std(axis=0, ddof=1) / math.sqrt(n)
    return Band(mean, mean - half, mean + half)
