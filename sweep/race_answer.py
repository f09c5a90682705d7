"""What a race decided, from its replayed state: each group's fate, the answer to "does the
best dropout group beat no dropout?", and the whole :class:`RaceReport` of a study (plain data;
:mod:`sweep.report.race` renders it).

:func:`race_report` is the one replay of a study's race that its readers share: the summary
(:func:`sweep.report.summary.study_summary`), the closing lines, ``status`` and the report take
it as an argument rather than replaying the same trials again. It lives here, below the report
package, so that the summary can take it without importing the report's words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .grid import Group
from .racing import RaceSettings, RaceState, Versus
from .rounds import race_groups, race_state, stored_race
from .stats import Interval

if TYPE_CHECKING:
    from .storage import SweepStudy, TrialRecord

Fate = tuple[str, Versus | None]
"""("best" | "eliminated" | "tied" | "racing" | "undecided", the decision's comparison)."""


@dataclass(frozen=True)
class Answer:
    """The race's answer to "does the best dropout group beat no dropout?"."""

    verdict: str  # "yes" | "no" | "tie" | "undecided" | "pending"
    dropout: Group | None
    baseline: Group | None
    difference: Interval | None  # dropout - baseline, paired over their shared seeds
    p_holm: float
    round: int | None  # the round (1-based) that decided it


def race_fates(state: RaceState, groups: tuple[Group, ...]) -> dict[Group, Fate]:
    fates: dict[Group, Fate] = {g: ("racing", None) for g in groups}
    for look in state.looks:
        for versus in look.eliminated:
            fates[versus.group] = ("eliminated", versus)
        for versus in look.tied:
            fates[versus.group] = ("tied", versus)
    if state.next_seeds is None and state.looks:
        last = state.looks[-1]
        for versus in last.undecided:
            fates[versus.group] = ("undecided", versus)
        fates[last.best] = ("best", None)
    return fates


def _root(group: Group, fates: dict[Group, Fate]) -> tuple[Group, str]:
    """Follow ties to the group that raced on for them; its fate is theirs."""
    seen = set()
    while fates[group][0] == "tied" and group not in seen:
        seen.add(group)
        versus = fates[group][1]
        assert versus is not None
        group = versus.against
    return group, fates[group][0]


def round_of(versus: Versus, state: RaceState) -> int:
    for look in state.looks:
        if versus in (*look.eliminated, *look.tied, *look.undecided):
            return look.round + 1
    return len(state.looks)


def race_answer(state: RaceState, fates: dict[Group, Fate], maximize: bool = True) -> Answer:
    """The answer to "does the best dropout group beat no dropout?", from the fates."""
    best = state.best
    if best is None or state.next_seeds is not None:
        return Answer("pending", None, None, None, math.nan, None)
    if best.is_baseline:
        return _baseline_won(state, fates, best, maximize)
    return _dropout_won(state, fates, best)


def _decisions(groups: list[Group], fates: dict[Group, Fate], fate: str) -> list[Versus]:
    """The decisions of the groups whose fate (through their ties) is ``fate``."""
    return [v for g in groups if _root(g, fates)[1] == fate and (v := fates[g][1]) is not None]


def _baseline_won(state: RaceState, fates: dict[Group, Fate], best: Group,
                  maximize: bool = True) -> Answer:
    """No dropout is best: was every dropout group eliminated against it, or tied? The
    closest eliminated group is the one whose paired mean difference was the smallest loss."""
    dropout = [g for g in fates if not g.is_baseline]
    if open_ := _decisions(dropout, fates, "undecided"):
        return Answer("undecided", open_[0].group, best, open_[0].difference,
                      open_[0].p_holm, None)
    if tied := _decisions(dropout, fates, "best"):
        return Answer("tie", tied[0].group, best, tied[0].difference, tied[0].p_holm,
                      round_of(tied[0], state))
    eliminated = [v for g in dropout if fates[g][0] == "eliminated"
                  and (v := fates[g][1]) is not None]
    if not eliminated:  # a grid of no-dropout groups only
        return Answer("undecided", None, best, None, math.nan, None)
    sign = 1.0 if maximize else -1.0
    closest = max(eliminated, key=lambda v: sign * v.difference.mean)
    return Answer("no", closest.group, best, closest.difference, closest.p_holm,
                  round_of(closest, state))


def _dropout_won(state: RaceState, fates: dict[Group, Fate], best: Group) -> Answer:
    """A dropout group is best: the fate of the strongest no-dropout group answers."""
    baselines = [g for g in fates if g.is_baseline]
    if not baselines:
        return Answer("undecided", best, None, None, math.nan, None)
    if tied := _decisions(baselines, fates, "best"):
        return Answer("tie", best, tied[0].group, _flip(tied[0].difference), tied[0].p_holm,
                      round_of(tied[0], state))
    if open_ := [v for g in baselines if (root := _root(g, fates))[1] == "undecided"
                 and (v := fates[root[0]][1]) is not None]:
        return Answer("undecided", best, open_[0].group, _flip(open_[0].difference),
                      open_[0].p_holm, None)
    roots = list(dict.fromkeys(_root(g, fates)[0] for g in baselines))  # in the grid's order
    eliminated = [v for g in roots if (v := fates[g][1]) is not None]
    last = max(eliminated, key=lambda v: (v.group.is_baseline, v.p_holm))
    return Answer("yes", last.against, last.group, _flip(last.difference), last.p_holm,
                  round_of(last, state))


def _flip(interval: Interval) -> Interval:
    return Interval(-interval.mean, interval.std, -interval.high, -interval.low)


@dataclass(frozen=True)
class RaceReport:
    settings: RaceSettings
    state: RaceState
    groups: tuple[Group, ...]
    fates: dict[Group, Fate]
    seeds: dict[Group, int]
    answer: Answer
    cells_used: int

    @property
    def fixed_cells(self) -> int:
        """A fixed design giving every group the seeds the race's last look had: the fixed
        sweep that reaches the same decisions at the same seed counts."""
        last = self.state.looks[-1].seeds if self.state.looks else self.settings.n0
        return len(self.groups) * last


def race_report(sweep_study: SweepStudy, records: Sequence[TrialRecord] | None = None
                ) -> RaceReport | None:
    """The study's race, replayed from its trials (``records``: the study's, read once by the
    caller; ``None``: read here); ``None`` for a fixed-seed study, which replays nothing."""
    settings = stored_race(sweep_study.settings, sweep_study.objective)
    if settings is None:
        return None
    state = race_state(sweep_study, sweep_study.records() if records is None else records)
    assert state is not None
    groups = tuple(race_groups(sweep_study.settings))
    fates = race_fates(state, groups)
    seeds = {g: _seeds_of(g, state, settings) for g in groups}
    answer = race_answer(state, fates, settings.maximize)
    return RaceReport(settings, state, groups, fates, seeds, answer, sum(seeds.values()))


def _seeds_of(group: Group, state: RaceState, settings: RaceSettings) -> int:
    """The seeds a group was given: the last look it raced in (or the round running now)."""
    looked = [look.seeds for look in state.looks if group in look.racing]
    if group in state.racing and state.next_seeds is not None:
        return state.next_seeds
    return max(looked, default=settings.n0)
