"""Seed statistics per cell group, as plain numbers (no words, no plotting here).

For each group (rate x placement x max-norm): n seeds, mean, std and 95% t-interval of the
compared metric (the study's :class:`~sweep.objective.Objective`: the task's metric on test, or
on validation, then with test beside it), of the train metric and of the train - compared gap;
against the no-dropout baseline with the same max-norm (rate 0): a paired-by-seed t-test on
the seeds both groups have, the mean paired difference with its t-interval, and Holm's
correction over the distinct comparisons (:mod:`.comparison`: groups identical seed by seed are
marked and tested once); the confirmation on fresh seeds, from the cells of seeds a sweep's own
never reach. Learning-curve bands are in :mod:`.curve_stats`.
Groups have one order everywhere (:meth:`SweepSummary.order`): by rate, then the task's
placement order, then max-norm (none first).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from ..exceptions import EmptyStudyError
from ..grid import Cell, Group, baseline_group, is_confirmation
from ..objective import Objective
from ..race_answer import RaceReport, race_report
from ..stats import mean_ci
from ..storage import FAILED, PENDING, RUNNING, TrialRecord, cell_states, completed
from ..storage.records import failure_reasons
from .calibration_stats import figure_stats, group_reliability, mc_differences
from .comparison import compare_with_baselines, confirmation_of, mark_identical
from .group_stats import Confirmation, GroupStats

if TYPE_CHECKING:
    from ..storage import SweepStudy
    from ..tasks import Task


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
    race_dropout: Group | None = None  # the dropout group a race's answer names
    race_pending: bool = False  # a race whose next round is still to run
    confirmation: Confirmation | None = None  # on fresh seeds, when asked for or stored

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
    def best_dropout(self) -> GroupStats | None:
        """The dropout group (rate > 0) a confirmation retrains: the best group when it has
        dropout; else a race's answer's dropout group; else the dropout group with the best
        mean."""
        best = self.best
        if best is not None and not best.group.is_baseline:
            return best
        if self.race_dropout is not None and (named := self.get(self.race_dropout)):
            return named
        return next((g for g in self.ranked if not g.group.is_baseline), None)

    @property
    def distinct(self) -> tuple[GroupStats, ...]:
        """The groups not identical to an earlier one: one per distinct result (ranked order
        where :attr:`ranked` is used)."""
        return tuple(g for g in self.groups if g.identical_to is None)

    def copies(self, group: Group) -> tuple[GroupStats, ...]:
        """``group``'s identical set (itself first, then the groups identical to it), in the
        summary's order; for a group identical to another, that other's set."""
        head = self.get(group)
        lead = group if head is None or head.identical_to is None else head.identical_to
        return tuple(g for g in self.groups if g.group == lead or g.identical_to == lead)

    def representative(self, group: Group) -> GroupStats | None:
        """The row that stands for ``group``: the first group of its identical set."""
        stats = self.get(group)
        if stats is None or stats.identical_to is None:
            return stats
        return self.get(stats.identical_to)

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


def summarize(records: Sequence[TrialRecord], task: Task,
              objective: Objective | None = None, *, leader: Group | None = None,
              race_dropout: Group | None = None, race_pending: bool = False,
              confirm_seeds: int = 0) -> SweepSummary:
    """The statistics of a study's records (each cell's earliest completed trial counts once);
    ``task`` gives the placement order and the reference group, ``objective`` (the study's;
    default the task's, on test) the metric and its direction. Groups are the sweep's own
    cells; the confirmation's cells (fresh seeds, :mod:`sweep.confirming`) give
    :attr:`SweepSummary.confirmation` (``confirm_seeds`` asked for). A race gives its
    ``leader`` (its best group) and the dropout group its answer names."""
    objective = objective or task.objective()
    by_group: dict[Group, list[TrialRecord]] = defaultdict(list)
    fresh: dict[Group, list[TrialRecord]] = defaultdict(list)
    done = completed(records)
    for cell, record in done.items():
        (fresh if is_confirmation(cell) else by_group)[cell.group].append(record)
    order = tuple(task.placements)
    groups = [_group_stats(group, by_group[group], objective)
              for group in sorted(by_group, key=lambda g: group_order(g, order))]
    groups = compare_with_baselines(mark_identical(groups), objective.maximize)
    cell_state = cell_states(records)
    states = Counter(cell_state.values())
    summary = SweepSummary(
        tuple(groups), len(done), n_cells=sum(states.values()), n_running=states[RUNNING],
        n_pending=states[PENDING], n_failed=states[FAILED], placement_order=order,
        reference=task.reference_group, objective=objective,
        failures=failure_reasons(records, cell_state), leader=leader,
        race_dropout=race_dropout, race_pending=race_pending,
    )
    dropout = summary.best_dropout
    baseline = None if dropout is None else summary.baseline_for(dropout.group)
    if dropout is None or baseline is None or not (confirm_seeds or fresh.get(dropout.group)):
        return summary
    return replace(summary, confirmation=confirmation_of(
        dropout.group, baseline.group, confirm_seeds, fresh, objective))


def summary_and_race(sweep_study: SweepStudy, summary: SweepSummary | None = None,
                     race: RaceReport | None = None) -> tuple[SweepSummary, RaceReport | None]:
    """The study's summary and race: those given (a run's, computed once after its last
    trial), else computed from one read of the trials and one replay of the race."""
    if summary is None:
        records = sweep_study.records()
        race = race_report(sweep_study, records) if race is None else race
        return study_summary(sweep_study, records, race), race
    return summary, race_report(sweep_study) if race is None else race  # fixed: no replay


def study_summary(sweep_study: SweepStudy, records: Sequence[TrialRecord] | None = None,
                  race: RaceReport | None = None) -> SweepSummary:
    """The summary of a study with at least one completed cell; else :class:`EmptyStudyError`
    saying why there is none (all failed, or none finished yet). A race's best and answer, and
    the study's confirmation, come from the stored trials: ``race`` is the race already
    replayed from these ``records`` (:func:`~sweep.race_answer.race_report`), so a caller that
    needs both replays once; without it a race study's race is replayed here."""
    records = sweep_study.records() if records is None else records
    race = race_report(sweep_study, records) if race is None else race
    summary = summarize(records, sweep_study.task, sweep_study.objective,
                        leader=None if race is None else race.state.best,
                        race_dropout=None if race is None else race.answer.dropout,
                        race_pending=race is not None and race.state.next_seeds is not None,
                        confirm_seeds=sweep_study.confirm_seeds)
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
        figures=figure_stats(rows, objective.compared_on),
        mc_differences=mc_differences(rows, objective.compared_on),
        reliability=group_reliability(rows, objective.compared_on),
    )


def _norm_order(max_norm: float | None) -> float:
    return -1.0 if max_norm is None else max_norm
