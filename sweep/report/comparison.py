"""Group against group, paired by seed: each dropout group against its no-dropout baseline
(Holm over the distinct comparisons), identical groups found, and the confirmation's one test
on fresh seeds (:mod:`sweep.confirming`). Plain numbers, in the types of :mod:`.group_stats`;
:mod:`.summary` assembles them."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..grid import Group, baseline_group
from ..stats import Interval, holm, mean_ci, paired_test
from .group_stats import Comparison, Confirmation, GroupStats

if TYPE_CHECKING:
    from ..objective import Objective
    from ..storage import TrialRecord


def confirmation_of(dropout: Group, baseline: Group, planned: int,
                    fresh: dict[Group, list[TrialRecord]], objective: Objective) -> Confirmation:
    """The confirmation's paired test of ``dropout`` against ``baseline`` on the fresh seeds'
    completed trials (``fresh``, by group)."""
    mine, theirs = ({r.cell.seed: float(r.value) for r in fresh.get(g, ()) if r.value is not None}
                    for g in (dropout, baseline))
    n, difference, t, p = paired_test(mine, theirs)
    return Confirmation(dropout, baseline, max(planned, n), n, mean_ci(list(mine.values())),
                        mean_ci(list(theirs.values())), difference, t, p, objective.maximize)


def mark_identical(groups: list[GroupStats]) -> list[GroupStats]:
    """Each group whose per-seed results (compared and train metric, to the stored precision,
    on the same seeds) are those of an earlier group in the order is marked identical to it
    (a max-norm that never binds gives its group's numbers exactly); dropout groups and
    baselines are never merged with each other."""
    first: dict[tuple[object, ...], Group] = {}
    result = []
    for stats in groups:
        key = (stats.group.is_baseline, stats.seeds, stats.test_values, stats.train_values)
        if stats.n and key in first:
            stats = replace(stats, identical_to=first[key])
        elif stats.n:
            first[key] = stats.group
        result.append(stats)
    return result


def compare_with_baselines(groups: list[GroupStats],
                            higher_is_better: bool = True) -> list[GroupStats]:
    """Each dropout group against its baseline; Holm's family counts each distinct comparison
    once (identical groups against identical baselines are one test, not several)."""
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

    def distinct(group: Group) -> tuple[Group, Group]:
        base = by_group[raw[group][0]]
        return (by_group[group].identical_to or group, base.identical_to or base.group)

    family = {distinct(g): raw[g][5] for g in raw}
    adjusted_once = dict(zip(family, holm(list(family.values())), strict=True))
    adjusted = {g: adjusted_once[distinct(g)] for g in raw}
    result = []
    for stats in groups:
        if stats.group in raw:
            reference, n, diff, mean_diff, t, p = raw[stats.group]
            comparison = Comparison(reference, n, diff, mean_diff, t, p, adjusted[stats.group],
                                    higher_is_better)
            stats = replace(stats, vs_baseline=comparison)
        result.append(stats)
    return result
