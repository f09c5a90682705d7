"""Cells: one point of the sweep grid (rate x placement x max-norm x seed).

Rate 0.0 is the no-dropout baseline. Its placement is meaningless, so the baseline is one cell
per max-norm and seed with placement ``"none"``, not one per placement. Seeds from
:data:`CONFIRM_SEED_BASE` up are a confirmation's fresh seeds (:mod:`sweep.confirming`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BASELINE_PLACEMENT = "none"
CONFIRM_SEED_BASE = 1_000_000_000
"""Confirmation seeds are ``CONFIRM_SEED_BASE, CONFIRM_SEED_BASE + 1, ...``: a sweep's own
seeds stay below it, so the fresh seeds never took part in choosing the group they test."""


def _fmt(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, order=True)
class Group:
    """A cell without its seed: the unit that seed statistics are computed over."""

    rate: float
    placement: str
    max_norm: float | None

    @property
    def label(self) -> str:
        norm = "none" if self.max_norm is None else _fmt(self.max_norm)
        return f"rate={_fmt(self.rate)} placement={self.placement} max_norm={norm}"

    @property
    def is_baseline(self) -> bool:
        return self.rate == 0.0


def baseline_group(max_norm: float | None) -> Group:
    """The no-dropout group with ``max_norm``: what a dropout group is compared with."""
    return Group(0.0, BASELINE_PLACEMENT, max_norm)


def is_confirmation(cell: Cell) -> bool:
    """A confirmation's cell (a fresh seed), not one of the sweep's own."""
    return cell.seed >= CONFIRM_SEED_BASE


@dataclass(frozen=True, order=True)
class Cell:
    """One trial of the sweep: train one model with these settings and this seed.

    ``placement`` is one of the task's own placement names (the task interprets it), or
    ``"none"`` for the no-dropout baseline (rate 0)."""

    rate: float
    placement: str
    max_norm: float | None
    seed: int

    @property
    def group(self) -> Group:
        return Group(self.rate, self.placement, self.max_norm)

    @property
    def key(self) -> str:
        """A stable text identity, used to match trials to cells across runs."""
        norm = "none" if self.max_norm is None else _fmt(self.max_norm)
        return f"rate={_fmt(self.rate)}|placement={self.placement}|max_norm={norm}|seed={self.seed}"


def normalize_rate(rate: float) -> float:
    """Round away float noise from ranges such as ``0:0.9:0.1`` so keys stay stable."""
    return round(float(rate), 6) + 0.0


def expand(
    rates: Iterable[float],
    placements: Sequence[str],
    max_norms: Iterable[float | None],
    seeds: Iterable[int],
) -> list[Cell]:
    """All cells of a grid, baseline deduplicated, in a stable order (seed-major last)."""
    cells: dict[str, Cell] = {}
    seeds = list(seeds)
    for rate in rates:
        rate = normalize_rate(rate)
        for max_norm in max_norms:
            for placement in placements if rate > 0 else [BASELINE_PLACEMENT]:
                for seed in seeds:
                    cell = Cell(rate, placement, max_norm, seed)
                    cells.setdefault(cell.key, cell)
    return list(cells.values())


def grid_groups(
    rates: Iterable[float], placements: Sequence[str], max_norms: Iterable[float | None]
) -> list[Group]:
    """A grid's groups (baseline deduplicated), in :func:`expand`'s order."""
    return [cell.group for cell in expand(rates, placements, max_norms, (0,))]


def count_cells(
    rates: Sequence[float],
    placements: Sequence[str],
    max_norms: Sequence[float | None],
    seeds: Sequence[int],
) -> int:
    """``len(expand(...))`` without building the cells (to refuse a huge grid cheaply)."""
    distinct = {normalize_rate(r) for r in rates}
    groups = sum(1 if rate == 0.0 else len(set(placements)) for rate in distinct)
    return groups * len(set(max_norms)) * len(set(seeds))
