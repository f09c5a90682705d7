"""Where a sweep stands: cell counts overall and per group, the best group so far, the failed
cells.

``--json`` (:meth:`StudyStatus.to_json`): ``objective`` (``metric``, ``direction``,
``compared_on``); per group and for ``best`` the compared metric as ``value`` (``n``, ``mean``,
``std``, ``low``, ``high``: its 95% t-interval), also under its old name ``test_accuracy`` when
the objective is accuracy on test, and ``held_out_test`` (the test metric) when it is compared
on validation; ``failures``: every failed cell's key and fail_reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
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
) -> StudyStatus:
    """Counts per state, overall and per group (in the summary's group order); ``task``
    defaults to the one named in ``settings``."""
    from ..tasks import get_task

    states = cell_states(records)
    for record in records:
        if record.trial_id in stale_trials and states.get(record.cell) == RUNNING:
            states[record.cell] = STALE
    summary = summarize(records, task or get_task(settings["task"]),
                        Objective.from_settings(settings))
    stats_by_group = {g.group: g for g in summary.groups}
    per_group: dict[Group, Counter[str]] = {}
    for cell, state in states.items():
        per_group.setdefault(cell.group, Counter())[state] += 1
    overall = Counter(states.values())
    groups = tuple(
        GroupStatus(group, {s: per_group[group][s] for s in STATES}, stats_by_group.get(group))
        for group in sorted(per_group, key=summary.order)
    )
    return StudyStatus(study, settings, {s: overall[s] for s in STATES}, groups, summary)
