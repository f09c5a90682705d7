"""Seed statistics per cell group, as plain numbers (no words, no plotting here).

For each group (rate x placement x max-norm): n seeds, mean, std and 95% t-interval of the
compared metric (the study's :class:`~sweep.objective.Objective`: the task's metric on test, or
on validation, then with test beside it), of the train metric and of the train - compared gap;
against the no-dropout baseline with the same max-norm (rate 0): a paired-by-seed t-test on
the seeds both groups have, the mean paired difference with its t-interval, and Holm's
correction over all compared groups (:mod:`sweep.report.stats`).
Groups have one order everywhere (:meth:`SweepSummary.order`): by rate, then the task's
placement order, then max-norm (none first).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import EmptyStudyError
from ..grid import BASELINE_PLACEMENT, Cell, Group
from ..objective import Objective
from ..storage import FAILED, PENDING, RUNNING, TrialRecord, cell_states, completed
from ..storage.records import failure_reasons
from .stats import ALPHA, NAN_INTERVAL, Interval, holm, mean_ci, paired_test, t_quantile

if TYPE_CHECKING:
    from ..engines import Curves
    from ..storage import SweepStudy
    from ..tasks import Task


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


def group_order(group: Group, placements: Sequence[str] = ()) -> tuple[float, int, str, float]:
    """The one sort key of groups: rate, the placement in ``placements``' order (the task's;
    others after it, by name), max-norm (none first)."""
    return (group.rate, *_placement_order(group.placement, placements),
            _norm_order(group.max_norm))


def _placement_order(placement: str, placements: Sequence[str]) -> tuple[int, str]:
    order = list(placements)
    return (order.index(placement) if placement in order else len(order), placement)


@dataclass(frozen=True)
class SweepSummary:
    """Every group's statistics (in :meth:`order`) and the sweep's cell counts.

    ``placement_order`` is the task's placements, ``reference`` the task's reference group
    (both from :func:`summarize`'s task): they order and pick groups, they are not words.
    """

    groups: tuple[GroupStats, ...]
    n_complete: int
    n_cells: int = 0
    n_running: int = 0
    n_pending: int = 0
    n_failed: int = 0
    placement_order: tuple[str, ...] = ()
    reference: Group | None = None
    objective: Objective = Objective()
    failures: tuple[tuple[Cell, str], ...] = ()
    """Failed cells (not interrupted, not superseded) with their fail_reason, by cell."""
    leader: Group | None = None  # a race's best, even if a tie on fewer seeds has a higher mean

    def order(self, group: Group) -> tuple[float, int, str, float]:
        return group_order(group, self.placement_order)

    @property
    def best(self) -> GroupStats | None:
        """The group with the best mean compared metric (highest, or lowest when minimized;
        ties: the first in :meth:`order`); in a race, the race's best."""
        if self.leader is not None and (led := self.get(self.leader)) is not None:
            return led
        sign = self.objective.sign
        return max(self.groups, key=lambda g: sign * g.test.mean, default=None)

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
        """Groups by mean compared metric, best first (ties in :meth:`order`)."""
        sign = self.objective.sign
        return tuple(sorted(self.groups, key=lambda g: (-sign * g.test.mean, self.order(g.group))))

    @property
    def rates(self) -> tuple[float, ...]:
        return tuple(sorted({g.group.rate for g in self.groups}))

    @property
    def placements(self) -> tuple[str, ...]:
        """Dropout placements present (the baseline's ``none`` left out), in the task's order."""
        names = {g.group.placement for g in self.groups if not g.group.is_baseline}
        return tuple(sorted(names, key=lambda p: _placement_order(p, self.placement_order)))

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


def summarize(records: Sequence[TrialRecord], task: Task,
              objective: Objective | None = None) -> SweepSummary:
    """The statistics of a study's records (each cell's earliest completed trial counts once);
    ``task`` gives the placement order and the reference group, ``objective`` (the study's;
    default the task's, on test) the metric and its direction."""
    objective = objective or task.objective()
    by_group: dict[Group, list[TrialRecord]] = defaultdict(list)
    done = completed(records)
    for cell, record in done.items():
        by_group[cell.group].append(record)
    order = tuple(task.placements)
    groups = [_group_stats(group, by_group[group], objective)
              for group in sorted(by_group, key=lambda g: group_order(g, order))]
    groups = _compare_with_baselines(groups, objective.maximize)
    cell_state = cell_states(records)
    states = Counter(cell_state.values())
    return SweepSummary(
        tuple(groups), len(done), n_cells=sum(states.values()), n_running=states[RUNNING],
        n_pending=states[PENDING], n_failed=states[FAILED], placement_order=order,
        reference=task.reference_group, objective=objective,
        failures=failure_reasons(records, cell_state),
    )


def study_summary(sweep_study: SweepStudy) -> SweepSummary:
    """The summary of a study with at least one completed cell; else :class:`EmptyStudyError`
    saying why there is none (all failed, or none finished yet)."""
    from ..rounds import race_state

    records = sweep_study.records()
    race = race_state(sweep_study, records)
    summary = replace(summarize(records, sweep_study.task, sweep_study.objective),
                      leader=None if race is None else race.best)
    if summary.n_complete:
        return summary
    waiting = summary.n_running + summary.n_pending
    if summary.n_failed and not waiting:
        raise EmptyStudyError(
            f"study {sweep_study.name!r} has no completed cells: all {summary.n_failed} "
            "failed; see their fail_reason (sweep status, optuna-dashboard), fix the cause "
            "and run the same command again to retry them"
        )
    detail = f"{waiting} cell(s) queued or running" if summary.n_cells else "no cells"
    if summary.n_failed:
        detail += f", {summary.n_failed} failed"
    raise EmptyStudyError(
        f"study {sweep_study.name!r} has no completed cells yet ({detail}); "
        "run 'python -m sweep run' (or wait for its workers) and try again"
    )


def _group_stats(group: Group, records: Sequence[TrialRecord],
                 objective: Objective) -> GroupStats:
    rows = sorted((r for r in records if r.value is not None), key=lambda r: r.cell.seed)
    compared = [float(r.value) for r in rows if r.value is not None]
    train_key = f"train_{objective.metric}"
    train = [v for r in rows if (v := r.attr(train_key)) is not None]
    gaps = [v - float(r.value) for r in rows
            if (v := r.attr(train_key)) is not None and r.value is not None]
    held_out = ([v for r in rows if (v := r.attr(f"test_{objective.metric}")) is not None]
                if objective.validated else [])
    return GroupStats(
        group, len(compared), mean_ci(compared), mean_ci(train),
        tuple(r.cell.seed for r in rows), tuple(compared), tuple(train), mean_ci(gaps),
        tuple(r.trial_id for r in rows), held_out=mean_ci(held_out),
    )


def _compare_with_baselines(groups: list[GroupStats],
                            higher_is_better: bool = True) -> list[GroupStats]:
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
            comparison = Comparison(reference, n, diff, mean_diff, t, p, adjusted[stats.group],
                                    higher_is_better)
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


def _norm_order(max_norm: float | None) -> float:
    return -1.0 if max_norm is None else max_norm
