"""Reading a study back: trials -> cells, each cell counted once.

What a trial holds is declared in :mod:`sweep.storage.schema`. A cell is *complete* if any of
its trials completed (the earliest completed trial is the one that counts, so a duplicate
completion by a racing worker never counts twice), *running* if a trial is running, *pending*
if a trial waits in Optuna's queue, otherwise *failed*. Trials without a cell (not sweep's)
and trials failed as duplicates are left out.

Two read paths give the same records (a test checks it): :func:`read_records` reads Optuna's
tables with one plain query per table in one read transaction (``sweep.storage._optuna``);
``study.get_trials()`` builds an ORM object for every intermediate value and attribute, about
4-5 s for 2,000 trials with 50 intermediate values each here, and is the fallback should the
tables ever differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..grid import Cell
from . import _optuna
from .schema import DUPLICATE_ATTR, FAIL_REASON_ATTR, FIXED_PARAMS, StoredTrial, cell_from_params

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

COMPLETE, RUNNING, PENDING, FAILED = "complete", "running", "pending", "failed"
_CELL_STATES = {"COMPLETE": COMPLETE, "RUNNING": RUNNING, "WAITING": PENDING, "FAIL": FAILED,
                "PRUNED": FAILED}
"""Optuna's trial state names -> a cell's."""


@dataclass(frozen=True)
class TrialRecord:
    """One Optuna trial of a sweep, with its cell; ``value`` is the compared metric (``None``
    unless complete)."""

    trial_id: int
    number: int
    state: str
    cell: Cell
    value: float | None
    user_attrs: dict[str, Any] = field(default_factory=dict)

    def attr(self, name: str) -> float | None:
        """A numeric user attr (e.g. ``train_accuracy``), None if absent."""
        value = self.user_attrs.get(name)
        return None if value is None else float(value)

    @property
    def fail_reason(self) -> str | None:
        reason = self.user_attrs.get(FAIL_REASON_ATTR)
        return None if reason is None else str(reason)


def read_records(study: optuna.Study, engine: sqlalchemy.engine.Engine) -> list[TrialRecord]:
    """The study's records, read with plain SQL from ``engine`` (its database)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        trials = _optuna.read_trials(engine, _optuna.study_id(study))
    except (SQLAlchemyError, KeyError, ValueError):
        return records_via_optuna(study)
    return records_from_trials(trials)


def records_via_optuna(study: optuna.Study) -> list[TrialRecord]:
    """The same records through Optuna's API (slower: it loads every intermediate value)."""
    return records_from_trials(
        StoredTrial(_optuna.trial_id(t), t.number, t.state.name, dict(t.params),
                    dict(t.system_attrs.get(FIXED_PARAMS, {})), dict(t.user_attrs), t.value)
        for t in study.get_trials(deepcopy=False))


def records_from_trials(trials: Iterable[StoredTrial]) -> list[TrialRecord]:
    """Stored trials -> records; trials without a cell (not sweep's) are left out."""
    records = []
    for trial in trials:
        cell = cell_from_params(trial.params or trial.fixed_params)
        if cell is None or trial.user_attrs.get(DUPLICATE_ATTR) is not None:
            continue
        value = trial.value if trial.state == "COMPLETE" else None
        state = _CELL_STATES[trial.state]
        records.append(TrialRecord(trial.trial_id, trial.number, state, cell, value,
                                   dict(trial.user_attrs)))
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


def failure_reasons(records: Sequence[TrialRecord],
                    states: dict[Cell, str]) -> tuple[tuple[Cell, str], ...]:
    """Each failed cell's latest reason, by cell key (cells failed only as interrupted are
    retried by the next run, so they are listed too: their reason says so)."""
    latest: dict[Cell, str] = {}
    for record in sorted(records, key=lambda r: r.number):
        if states.get(record.cell) == FAILED and record.fail_reason:
            latest[record.cell] = record.fail_reason
    return tuple(sorted(latest.items(), key=lambda item: item[0].key))
