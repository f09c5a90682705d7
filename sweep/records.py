"""Reading a sweep study back: trials -> cells, each cell counted once.

A cell is *complete* if any of its trials completed (the earliest completed trial is the one that
counts, so a duplicate completion by a racing worker never counts twice), *running* if a trial is
running, *pending* if a trial waits in Optuna's queue, otherwise *failed*.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .grid import Cell

COMPLETE, RUNNING, PENDING, FAILED = "complete", "running", "pending", "failed"


def cell_from_params(params: dict[str, Any]) -> Cell | None:
    try:
        return Cell(
            rate=float(params["rate"]),
            placement=str(params["placement"]),
            max_norm=None if params.get("max_norm") is None else float(params["max_norm"]),
            seed=int(params["seed"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class TrialRecord:
    """One Optuna trial of a sweep, with its cell and metrics (``None`` unless complete)."""

    trial_id: int
    number: int
    state: str
    cell: Cell
    test_accuracy: float | None
    user_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def train_accuracy(self) -> float | None:
        value = self.user_attrs.get("train_accuracy")
        return None if value is None else float(value)


def records_from_trials(trials: Iterable[Any]) -> list[TrialRecord]:
    """Optuna FrozenTrials -> records; trials without a cell (not sweep's) are left out."""
    from optuna.trial import TrialState

    states = {
        TrialState.COMPLETE: COMPLETE,
        TrialState.RUNNING: RUNNING,
        TrialState.WAITING: PENDING,
        TrialState.FAIL: FAILED,
        TrialState.PRUNED: FAILED,
    }
    records = []
    for trial in trials:
        params = trial.params or trial.system_attrs.get("fixed_params", {})
        cell = cell_from_params(params)
        if cell is None or trial.user_attrs.get("duplicate_of") is not None:
            continue
        value = trial.value if trial.state == TrialState.COMPLETE else None
        records.append(
            TrialRecord(trial._trial_id, trial.number, states[trial.state], cell, value,
                        dict(trial.user_attrs))
        )
    return records


def cell_states(records: Sequence[TrialRecord]) -> dict[Cell, str]:
    """Each cell's state by the rule in the module docstring."""
    order = {COMPLETE: 0, RUNNING: 1, PENDING: 2, FAILED: 3}
    states: dict[Cell, str] = {}
    for record in records:
        current = states.get(record.cell)
        if current is None or order[record.state] < order[current]:
            states[record.cell] = record.state
    return states


def completed(records: Sequence[TrialRecord]) -> dict[Cell, TrialRecord]:
    """The one completed trial that counts for each complete cell (the earliest)."""
    result: dict[Cell, TrialRecord] = {}
    for record in sorted(records, key=lambda r: r.number):
        if record.state == COMPLETE:
            result.setdefault(record.cell, record)
    return result
