"""A race stored in a study: its settings, its values read back from the trials, its round.

A ``--seeds auto`` study keeps its race's settings (first and most seeds, alpha, margin, and the
grid it races) among the study's fixed settings under :data:`RACE_KEY`, so a later run or
worker races the same way and a fixed-seed run cannot join it. Every decision is replayed from
the completed trials (:func:`sweep.racing.replay`), never kept in memory: a run killed in the
middle of a round resumes in that round, and any worker, on any machine, that finds a round
complete enqueues the next one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .grid import Cell, Group, grid_groups, is_confirmation
from .racing import RaceSettings, RaceState, Values, replay

if TYPE_CHECKING:
    from .config import SweepConfig
    from .objective import Objective
    from .storage import SweepStudy, TrialRecord

RACE_KEY = "race"


def race_settings(config: SweepConfig) -> dict[str, Any]:
    """What a race study stores (``{}`` for a fixed list of seeds): JSON values only."""
    race = config.race
    if race is None:
        return {}
    return {RACE_KEY: {
        "first_seeds": race.n0, "max_seeds": race.max_seeds, "alpha": race.alpha,
        "margin": race.margin, "rates": list(config.rates),
        "placements": list(config.placements), "max_norms": list(config.max_norms),
    }}


def stored_race(settings: Mapping[str, Any], objective: Objective) -> RaceSettings | None:
    """The race of a study's stored settings, in its objective's direction (``None``: the
    study has a fixed list of seeds)."""
    race = settings.get(RACE_KEY)
    if not race:
        return None
    return RaceSettings(int(race["first_seeds"]), int(race["max_seeds"]), float(race["alpha"]),
                        float(race["margin"]), objective.maximize)


def race_groups(settings: Mapping[str, Any]) -> list[Group]:
    """The groups a study races (every group of its stored grid)."""
    race = settings[RACE_KEY]
    return grid_groups(race["rates"], race["placements"], race["max_norms"])


def race_values(records: Sequence[TrialRecord], groups: Sequence[Group]) -> Values:
    """Each raced group's value by seed, from the completed trials (a confirmation's fresh
    seeds left out: they come after the race, :mod:`sweep.confirming`)."""
    from .storage import completed

    wanted = set(groups)
    values: dict[Group, dict[int, float]] = {g: {} for g in groups}
    for cell, record in completed(records).items():
        if cell.group in wanted and record.value is not None and not is_confirmation(cell):
            values[cell.group][cell.seed] = record.value
    return values


def race_state(sweep_study: SweepStudy, records: Sequence[TrialRecord] | None = None
               ) -> RaceState | None:
    """Where the study's race stands, replayed from its stored trials (``None``: not a race)."""
    race = stored_race(sweep_study.settings, sweep_study.objective)
    if race is None:
        return None
    groups = race_groups(sweep_study.settings)
    values = race_values(sweep_study.records() if records is None else records, groups)
    return replay(values, groups, race)


def round_cells(state: RaceState) -> list[Cell]:
    """The cells the race's current round needs (its racing groups' first ``next_seeds``
    seeds; those already complete are skipped when enqueued). Empty once the race is over."""
    if state.next_seeds is None:
        return []
    return [Cell(g.rate, g.placement, g.max_norm, seed)
            for g in state.racing for seed in range(state.next_seeds)]


def round_line(state: RaceState) -> str:
    """One line on the race's progress: the last look's decisions, what the next round runs."""
    if not state.looks:
        return f"race: round 1 gives {len(state.racing)} groups {state.next_seeds} seeds each"
    last = state.looks[-1]
    decided = (f"after round {last.round + 1} ({last.seeds} seeds): {len(last.eliminated)} "
               f"group(s) eliminated, {len(last.tied)} tied, {len(state.racing)} racing")
    if state.next_seeds is None:
        return f"race over {decided}"
    return f"race {decided}; round {last.round + 2} gives them {state.next_seeds} seeds each"

