"""Where a sweep stands: cell counts overall and per group, the best group so far, the failed
cells.

``--json`` (:meth:`StudyStatus.to_json`): ``confirmation`` (:func:`confirmation_json`);
``objective`` (``metric``, ``direction``,
``compared_on``, and ``metric_unit`` when the task names one); per group and for ``best`` the
compared metric as ``value`` (``n``, ``mean``, ``std``, ``low``, ``high``: its 95% t-interval,
clipped to [0, 1] for a bounded metric as on every surface), also under its old name
``test_accuracy`` when the objective is accuracy on test, and ``held_out_test`` (the test
metric) when it is compared on validation; ``failures``: every failed cell's key and
fail_reason; for a ``--seeds auto`` study, ``race`` (:func:`race_json`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..grid import Group, is_confirmation
from ..objective import Objective
from ..stats import Interval, clip_ci
from ..storage import COMPLETE, FAILED, PENDING, RUNNING, TrialRecord, cell_states
from ._failures import failures_json
from .summary import GroupStats, SweepSummary, summarize
from .text import plain_accuracy

if TYPE_CHECKING:
    from ..race_answer import RaceReport
    from ..tasks import Task

STALE = "stale"
STATES = (COMPLETE, RUNNING, PENDING, FAILED, STALE)
"""``stale``: running, but its worker stopped sending heartbeats (killed, or its machine is
gone); the next ``run`` or any ``worker`` fails such cells and redoes them."""


@dataclass(frozen=True)
class GroupStatus:
    group: Group
    counts: dict[str, int]
    stats: GroupStats | None


@dataclass(frozen=True)
class StudyStatus:
    study: str
    settings: dict[str, Any]
    counts: dict[str, int]
    groups: tuple[GroupStatus, ...]
    summary: SweepSummary
    race: RaceReport | None = None
    task: Task | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        """What ``status --json`` prints (the module docstring lists the keys)."""
        objective = self.summary.objective

        def values(stats: GroupStats | None) -> dict[str, Any]:
            bounded = objective.bounded
            value = None if stats is None else _interval(stats.n, stats.test, bounded)
            named: dict[str, Any] = {"value": value}
            if plain_accuracy(objective):
                named["test_accuracy"] = value
            if objective.validated:
                named["held_out_test"] = (None if stats is None else
                                          _interval(stats.n, stats.held_out, bounded))
            return named

        best = self.summary.best
        return {
            "study": self.study,
            "settings": self.settings,
            "objective": objective.settings(),
            "cells": {"total": self.total, **self.counts},
            "groups": [
                {"rate": g.group.rate, "placement": g.group.placement,
                 "max_norm": g.group.max_norm, **g.counts, **values(g.stats)}
                for g in self.groups
            ],
            "best": None if best is None else {
                "rate": best.group.rate, "placement": best.group.placement,
                "max_norm": best.group.max_norm, **values(best),
            },
            "confirmation": confirmation_json(self.summary),
            "failures": failures_json(self.summary),
            **({} if self.race is None else {"race": race_json(self.race)}),
        }


def _group(g: Group) -> dict[str, Any]:
    return {"rate": g.rate, "placement": g.placement, "max_norm": g.max_norm}


def confirmation_json(summary: SweepSummary) -> dict[str, Any] | None:
    """The confirmation on fresh seeds for ``status --json`` (``None``: none): the groups,
    fresh seeds asked for and paired, the paired difference (``difference``: mean, std, low,
    high), ``p`` (one test), ``verdict`` (better, worse, neutral, or pending until every fresh
    seed is in) and, labelled ``selection_stage``, the same comparison on the sweep's own
    seeds (Holm-corrected)."""
    c = summary.confirmation
    if c is None:
        return None
    verdict = ("pending" if not c.complete or c.n_pairs < 2 else
               "better" if c.better else "worse" if c.worse else "neutral")
    chosen = summary.get(c.dropout)
    selection = None if chosen is None else chosen.vs_baseline
    return {
        "dropout": _group(c.dropout), "baseline": _group(c.baseline),
        "fresh_seeds": c.planned, "n_pairs": c.n_pairs, "complete": c.complete,
        "difference": {k: _clean(v) for k, v in asdict(c.difference).items()},
        "dropout_value": _interval(c.n_pairs, c.dropout_values, summary.objective.bounded),
        "baseline_value": _interval(c.n_pairs, c.baseline_values, summary.objective.bounded),
        "p": _clean(c.p), "verdict": verdict,
        "selection_stage": None if selection is None else {
            "n_pairs": selection.n_pairs,
            "difference": {k: _clean(v) for k, v in asdict(selection.difference).items()},
            "p": _clean(selection.p), "p_holm": _clean(selection.p_holm)},
    }


def race_json(race: RaceReport) -> dict[str, Any]:
    """A race's state for ``status --json``: its settings, looks, each group's fate, the
    answer to "does the best dropout group beat no dropout?", cells used."""
    def group(g: Group | None) -> dict[str, Any] | None:
        return None if g is None else _group(g)

    answer = race.answer
    state = race.state
    return {
        "rounds_done": len(state.looks),
        "next_seeds": state.next_seeds,
        "ended": state.ended or None,
        "best": group(state.best),
        "answer": {
            "verdict": answer.verdict, "dropout": group(answer.dropout),
            "baseline": group(answer.baseline),
            "difference": None if answer.difference is None else {
                k: _clean(v) for k, v in asdict(answer.difference).items()},
            "p_holm": _clean(answer.p_holm), "round": answer.round,
        },
        "cells_used": race.cells_used,
        "fixed_cells": race.fixed_cells,
        "groups": [{**(group(g) or {}), "seeds": race.seeds[g], "fate": race.fates[g][0],
                    "against": group(v.against) if (v := race.fates[g][1]) else None,
                    "p_holm": _clean(v.p_holm) if v and race.fates[g][0] != "tied" else None}
                   for g in race.groups],
    }


def _interval(n: int, interval: Interval, bounded: bool = False) -> dict[str, Any]:
    """n and the interval; a bounded metric's limits clipped to [0, 1] (:func:`clip_ci`)."""
    return {"n": n, **{k: _clean(v) for k, v in asdict(clip_ci(interval, bounded)).items()}}


def _clean(value: float) -> float | None:
    return None if value != value else round(value, 6)


def study_status(
    study: str,
    settings: dict[str, Any],
    records: list[TrialRecord],
    stale_trials: set[int] = frozenset(),  # type: ignore[assignment]
    task: Task | None = None,
    race: RaceReport | None = None,
    confirm_seeds: int = 0,
) -> StudyStatus:
    """Counts per state, overall and per group (in the summary's group order: the sweep's own
    cells; the confirmation's are counted overall and summarized in ``summary``); ``task``
    defaults to the one named in ``settings``."""
    from ..tasks import get_task

    states = cell_states(records)
    for record in records:
        if record.trial_id in stale_trials and states.get(record.cell) == RUNNING:
            states[record.cell] = STALE
    task = task or get_task(settings["task"])
    summary = summarize(records, task, Objective.from_settings(settings),
                        leader=None if race is None else race.state.best,
                        race_dropout=None if race is None else race.answer.dropout,
                        race_pending=race is not None and race.state.next_seeds is not None,
                        confirm_seeds=confirm_seeds)
    stats_by_group = {g.group: g for g in summary.groups}
    per_group: dict[Group, Counter[str]] = {}
    for cell, state in states.items():
        if not is_confirmation(cell):
            per_group.setdefault(cell.group, Counter())[state] += 1
    overall = Counter(states.values())
    groups = tuple(
        GroupStatus(group, {s: per_group[group][s] for s in STATES}, stats_by_group.get(group))
        for group in sorted(per_group, key=summary.order)
    )
    return StudyStatus(study, settings, {s: overall[s] for s in STATES}, groups, summary, race,
                       task)
