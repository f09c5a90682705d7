"""Confirmation on fresh seeds: the best dropout group and its baseline, retrained and tested once.

Choosing the best of many groups on the same seeds that then test it costs twice: the
multiple-comparison correction that guards the choice also costs power, and the winner's
estimate is biased upward by the choice (the winner's curse). So, once a sweep's own cells are
done (a race: once it is over), the best dropout group (rate > 0) and the no-dropout group with
its max-norm are retrained on ``N`` fresh seeds (``--confirm N``) that took no part in the
choice: seeds from :data:`CONFIRM_SEED_BASE` up, which a sweep's own seeds never reach. They are
ordinary cells of the same study (exactly once, resumable, trained by any worker), and their
paired difference is one test, with no multiplicity to correct for
(:class:`sweep.report.group_stats.Confirmation`).

Which group is confirmed is replayed from the stored trials (:func:`pick`), as a race's rounds
are, so every worker and reader picks the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .grid import CONFIRM_SEED_BASE, Cell, Group, is_confirmation
from .report.summary import SweepSummary, study_summary
from .storage import COMPLETE, cell_states

if TYPE_CHECKING:
    from .race_answer import RaceReport
    from .storage import SweepStudy, TrialRecord

DEFAULT_CONFIRM = 30
"""Fresh seeds of a confirmation that is on by default."""
DEFAULT_SHARE = 0.25
"""On by default when its cells add at most this share to the sweep's (its most) cells: the
built-in tasks' default grids (280 and 1,680 cells) and every race of 240 cells or more."""

__all__ = ["CONFIRM_SEED_BASE", "DEFAULT_CONFIRM", "Pick", "confirm_line", "confirmation_cells",
           "confirmation_summary", "default_confirm", "is_confirmation", "off_line", "pick",
           "selection_records"]


@dataclass(frozen=True)
class Pick:
    """The groups a confirmation retrains: the best dropout group and its baseline."""

    dropout: Group
    baseline: Group

    def cells(self, seeds: int) -> list[Cell]:
        return [Cell(g.rate, g.placement, g.max_norm, CONFIRM_SEED_BASE + i)
                for i in range(seeds) for g in (self.dropout, self.baseline)]


def selection_records(records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The sweep's own trials (the confirmation's left out): what chose the best group."""
    return [r for r in records if not is_confirmation(r.cell)]


def default_confirm(sweep_cells: int) -> int:
    """The rule for ``confirm`` when none is given: :data:`DEFAULT_CONFIRM` fresh seeds when
    their cells add at most :data:`DEFAULT_SHARE` to the sweep's ``sweep_cells``, else 0."""
    return DEFAULT_CONFIRM if DEFAULT_SHARE * sweep_cells >= 2 * DEFAULT_CONFIRM else 0


def off_line() -> str:
    """What a sweep without confirmation says about it."""
    return (f"Not confirmed on fresh seeds: off by default for sweeps that {2 * DEFAULT_CONFIRM} "
            f"confirmation cells would grow by more than a quarter; --confirm {DEFAULT_CONFIRM} "
            "retrains the best dropout group and its baseline on fresh seeds and tests them once.")


def confirm_line(cells: Sequence[Cell]) -> str:
    """What a run says when its confirmation starts."""
    dropout = cells[0]
    norm = "none" if dropout.max_norm is None else f"{dropout.max_norm:g}"
    return (f"confirmation: retraining rate {dropout.rate:g}, {dropout.placement}, max-norm "
            f"{norm} and its no-dropout baseline on {len(cells) // 2} fresh seeds "
            f"({len(cells)} cells)")


def pick(summary: SweepSummary) -> Pick | None:
    """The groups to confirm, from a summary of the sweep's own trials: its best dropout group
    (:attr:`~sweep.report.summary.SweepSummary.best_dropout`) and the no-dropout group with its
    max-norm; ``None`` when the sweep has no such pair."""
    best = summary.best_dropout
    baseline = None if best is None else summary.baseline_for(best.group)
    return None if best is None or baseline is None else Pick(best.group, baseline.group)


def confirmation_summary(sweep_study: SweepStudy, records: Sequence[TrialRecord],
                         race: RaceReport | None = None) -> SweepSummary | None:
    """The summary a confirmation picks its groups from, once the sweep's own cells are all
    complete and the study asks for one (:attr:`SweepStudy.confirm_seeds`); else ``None``,
    computing nothing. ``race``: the study's race replayed from ``records`` by the caller
    (else replayed here). Once the run has nothing left to do this is the study's summary
    after its last trial: the caller hands it on rather than computing it again."""
    if sweep_study.confirm_seeds == 0:
        return None
    states = cell_states(selection_records(records))
    if not states or any(state != COMPLETE for state in states.values()):
        return None
    return study_summary(sweep_study, records, race)


def confirmation_cells(sweep_study: SweepStudy, summary: SweepSummary | None) -> list[Cell]:
    """The confirmation's cells, from :func:`confirmation_summary` (a race: once it is
    over); none while that is ``None``."""
    if summary is None or summary.race_pending:
        return []
    chosen = pick(summary)
    return [] if chosen is None else chosen.cells(sweep_study.confirm_seeds)
