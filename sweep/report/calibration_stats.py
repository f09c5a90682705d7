"""A group's calibration figures over its seeds (classification and regression studies):
each figure's mean and 95% t-interval, and the paired difference MC dropout minus standard
inference per seed (both figures come from the same trained cell, so each seed is a pair).

The figures are read from the trials' ``<split>_<figure>`` attrs on the study's compared split
(:data:`FIGURES`, :func:`sweep.storage.schema.result_attrs`); a study without them has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..calibration import Reliability, pooled
from ..stats import Interval, mean_ci
from ..storage import TrialRecord

STANDARD = ("accuracy", "nll", "brier", "ece")
PAIRS = (*STANDARD, "gaussian_nll")
"""The figures recorded both ways: a classifier's four, a regression's Gaussian NLL."""
FIGURES = (*STANDARD, *(f"mc_{name}" for name in STANDARD),
           "gaussian_nll", "mc_mse", "mc_mae", "mc_gaussian_nll")
"""Every figure, in the columns' order: a classifier's under standard inference, then under MC
dropout; a regression's (:mod:`sweep.predictive`)."""
LOWER_IS_BETTER = frozenset({"nll", "brier", "ece", "gaussian_nll"})


def figure_stats(records: Sequence[TrialRecord], split: str) -> dict[str, Interval]:
    """Each figure some of the group's trials hold on ``split``: its mean and t-interval. Only
    trials that recorded the figures count (they hold their kind's NLL): a ``test_accuracy``
    of its own is a task metric's."""
    found = {}
    holding = [r for r in records if r.attr(f"{split}_nll") is not None
                or r.attr(f"{split}_gaussian_nll") is not None]
    for name in FIGURES:
        values = [v for r in holding if (v := r.attr(f"{split}_{name}")) is not None]
        if values:
            found[name] = mean_ci(values)
    return found


def mc_differences(records: Sequence[TrialRecord], split: str) -> dict[str, Interval]:
    """Per standard figure: the mean and t-interval of MC minus standard over the trials that
    hold both (negative NLL, Brier, ECE differences and a positive accuracy one: MC helps)."""
    found = {}
    for name in PAIRS:
        pairs = [mc - standard for r in records
                 if (standard := r.attr(f"{split}_{name}")) is not None
                 and (mc := r.attr(f"{split}_mc_{name}")) is not None]
        if pairs:
            found[name] = mean_ci(pairs)
    return found


def group_reliability(records: Sequence[TrialRecord], split: str) -> dict[str, Reliability]:
    """The reliability bins of all the group's cells pooled (:func:`sweep.calibration.pooled`),
    as ``reliability`` and ``mc_reliability``: those its trials hold."""
    found = {}
    for name in ("reliability", "mc_reliability"):
        cells = [bins for r in records if (bins := r.user_attrs.get(f"{split}_{name}"))]
        if cells:
            found[name] = pooled(cells)
    return found


def helps(name: str, difference: Interval) -> bool | None:
    """Whether MC averaging improves ``name`` (its CI excludes 0 on the better side), worsens
    it (False), or neither is shown (None)."""
    sign = -1.0 if name in LOWER_IS_BETTER else 1.0
    low, high = sorted((sign * difference.low, sign * difference.high))
    if low > 0:
        return True
    if high < 0:
        return False
    return None


def recorded(groups: Sequence[Mapping[str, Interval]]) -> tuple[str, ...]:
    """The figures any group holds, in :data:`FIGURES`' order."""
    held = {name for figures in groups for name in figures}
    return tuple(name for name in FIGURES if name in held)
