"""Where a sweep stands: cell counts overall and per group, the best group so far, the failed
cells.

``--json`` (:meth:`StudyStatus.to_json`): ``objective`` (``metric``, ``direction``,
``compared_on``); per group and for ``best`` the compared metric as ``value`` (``n``, ``mean``,
``std``, ``low``, ``high``: its 95% t-interval), also under its old name ``test_accuracy`` when
the objective is accuracy on test, and ``held_out_test`` (the test metric) when it is compared
on validation; ``failures``: every failed cell's key and fail_reason; for a ``--seeds auto``
study, ``race`` (:func:`race_json`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ..grid import Group
from ..objective import Objective
from ..storage import COMPLETE, FAILED, PENDING, RUNNING, TrialRecord, cell_states
from ._failures import failures_json
from .stats import Interval
from .summary import GroupStats, SweepSummary, summarize
from .text import plain_accuracy

if TYPE_CHECKING:
    from ..tasks import Task
    from .race import RaceReport

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
            value = None if stats is None else _interval(stats.n, stats.test)
            named: dict[str, Any] = {"value": value}
            if plain_accuracy(objective):
                named["test_accuracy"] = value
            if objective.validated:
                named["held_out_test"] = (None if stats is None else
                                          _interval(stats.n, stats.held_out))
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
            "failures": failures_json(self.summary),
            **({} if self.race is None else {"race": race_json(self.race)}),
        }


def race_json(race: RaceReport) -> dict[str, Any]:
    """A race's state for ``status --json``: its settings, looks, each group's fate, the
    answer to "does the best dropout group beat no dropout?", cells used."""
    def group(g: Group | None) -> dict[str, Any] | None:
        return None if g is None else {"rate": g.rate, "placement": g.placement,
                                       "max_norm": g.max_norm}

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


def _interval(n: int, interval: Interval) -> dict[str, Any]:
    return {"n": n, **{k: _clean(v) for k, v in asdict(interval).items()}}


def _clean(value: float) -> float | None:
    return None if value != value else round(value, 6)


def study_status(
    study: str,
    settings: dict[str, Any],
    records: list[TrialRecord],
    stale_trials: set[int] = frozenset(),  # type: ignore[assignment]
    task: Task | None = None,
    race: RaceReport | None = None,
) -> StudyStatus:
    """Counts per state, overall and per group (in the summary's group order); ``task``
    defaults to the one named in ``settings``."""
    from ..tasks import get_task

    states = cell_states(records)
    for record in records:
        if record.trial_id in stale_trials and states.get(record.cell) == RUNNING:
            states[record.cell] = STALE
    task = task or get_task(settings["task"])
    summary = summarize(records, task, Objective.from_settings(settings))
    if race is not None and race.state.best is not None:
        summary = replace(summary, leader=race.state.best)
    stats_by_group = {g.group: g for g in summary.groups}
    per_group: dict[Group, Counter[str]] = {}
    for cell, state in states.items():
        per_group.setdefault(cell.group, Counter())[state] += 1
    overall = Counter(states.values())
    groups = tuple(
        GroupStatus(group, {s: per_group[group][s] for s in STATES}, stats_by_group.get(group))
        for group in sorted(per_group, key=summary.order)
    )
    return StudyStatus(study, settings, {s: overall[s] for s in STATES}, groups, summary, race,
                       task)
