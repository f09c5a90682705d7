"""One group's numbers as plain data: :class:`GroupStats` (its seeds' statistics), the
:class:`Comparison` with its no-dropout baseline and the :class:`Confirmation` on fresh seeds.

The types alone, below both of their users: :mod:`.comparison` computes comparisons of
``GroupStats`` and :mod:`.summary` assembles ``GroupStats`` from the study's trials, so neither
needs the other's module to name them (the summary imports the comparison, never the reverse).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..calibration import Reliability
from ..grid import Group
from ..stats import ALPHA, NAN_INTERVAL, Interval


@dataclass(frozen=True)
class Comparison:
    """A group's compared metric against its baseline (rate 0, same max-norm), paired by seed.
    ``better`` and ``worse`` follow the objective's direction (``higher_is_better``)."""

    baseline: Group
    n_pairs: int
    difference: Interval  # of the paired differences group - baseline (shared seeds)
    mean_difference: float  # group mean - baseline mean, over all seeds of each
    t: float
    p: float  # two-sided; nan when fewer than 2 shared seeds
    p_holm: float  # Holm-corrected over every compared group; nan when p is nan
    higher_is_better: bool = True

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA  # False for nan

    @property
    def better(self) -> bool:
        gain = self.difference.mean if self.higher_is_better else -self.difference.mean
        return self.significant and gain > 0

    @property
    def worse(self) -> bool:
        gain = self.difference.mean if self.higher_is_better else -self.difference.mean
        return self.significant and gain < 0


@dataclass(frozen=True)
class Confirmation:
    """The best dropout group against its baseline on fresh seeds (:mod:`sweep.confirming`):
    one paired test, no multiplicity; ``planned`` fresh seeds were asked for."""

    dropout: Group
    baseline: Group
    planned: int
    n_pairs: int
    dropout_values: Interval  # the dropout group's compared metric on the fresh seeds
    baseline_values: Interval
    difference: Interval  # of the paired differences dropout - baseline
    t: float
    p: float  # two-sided; nan when fewer than 2 pairs
    higher_is_better: bool = True

    @property
    def complete(self) -> bool:
        return self.n_pairs >= self.planned

    @property
    def better(self) -> bool:
        gain = self.difference.mean if self.higher_is_better else -self.difference.mean
        return self.p < ALPHA and gain > 0

    @property
    def worse(self) -> bool:
        gain = self.difference.mean if self.higher_is_better else -self.difference.mean
        return self.p < ALPHA and gain < 0


@dataclass(frozen=True)
class GroupStats:
    group: Group
    n: int
    test: Interval
    train: Interval
    seeds: tuple[int, ...]
    test_values: tuple[float, ...]
    train_values: tuple[float, ...] = ()
    gap: Interval = NAN_INTERVAL  # train - compared metric, per seed
    trial_ids: tuple[int, ...] = ()
    vs_baseline: Comparison | None = None
    held_out: Interval = NAN_INTERVAL  # test metric, when the compared one is validation
    identical_to: Group | None = None  # the first group whose per-seed results are the same
    figures: Mapping[str, Interval] = field(default_factory=dict)
    """Calibration figures (:mod:`.calibration_stats`: a classifier's or a regression's) on the
    compared split."""
    mc_differences: Mapping[str, Interval] = field(default_factory=dict)
    """Per standard figure: MC dropout minus standard inference, paired within each seed."""
    reliability: Mapping[str, Reliability] = field(default_factory=dict)
    """``reliability`` and ``mc_reliability``: the bins of all its seeds' cells pooled."""
