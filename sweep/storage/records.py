"""What a sweep trial holds, and reading a study back: trials -> cells, each cell counted once.

A trial is a cell: its params are ``rate``, ``placement``, ``seed`` and ``max_norm`` (absent:
no constraint); a WAITING trial has Optuna's ``fixed_params`` system attr instead, deleted
when a worker claims the trial and sets the params. A completed trial's value is the test
accuracy; its user attrs are :func:`result_attrs` and ``worker`` (``host:pid``, set at the
claim); its intermediate values are a coarse test-accuracy curve for optuna-dashboard
(:func:`sweep.storage.curves.dashboard_curve`). Facts shared by the study's trials are study user
attrs, written once: ``sweep_settings`` and ``sweep_engines`` (:data:`ENGINES_ATTR`: each
engine and library versions that trained trials; :func:`trial_engine` reads a trial's).

Trials written by earlier versions of sweep also hold ``cell`` (the cell key), ``engine`` and
``versions`` user attrs and keep ``fixed_params``; they are read the same way.

A cell is *complete* if any of its trials completed (the earliest completed trial is the one that
counts, so a duplicate completion by a racing worker never counts twice), *running* if a trial is
running, *pending* if a trial waits in Optuna's queue, otherwise *failed*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..grid import Cell

if TYPE_CHECKING:
    from ..engines import CellResult

COMPLETE, RUNNING, PENDING, FAILED = "complete", "running", "pending", "failed"
ENGINES_ATTR = "sweep_engines"


def result_attrs(result: CellResult, engine_id: int = 0) -> dict[str, Any]:
    """A completed trial's user attrs. ``engine_id``: the position of the engine (and library
    versions) that trained it in the study's :data:`ENGINES_ATTR` list; stored only when not
    the first, so a study trained by one engine stores none per trial."""
    attrs: dict[str, Any] = {
        "train_accuracy": result.train_accuracy,
        "train_loss": result.train_loss,
        "test_loss": result.test_loss,
        "fit_seconds": round(result.fit_seconds, 4),
    }
    if engine_id:
        attrs["engine_id"] = engine_id
    return attrs


def trial_engine(
    user_attrs: Mapping[str, Any], study_attrs: Mapping[str, Any]
) -> dict[str, str] | None:
    """The engine and library versions that trained a completed trial (``{"engine":
    "population", "sweep": ..., "tensorflow": ..., "keras": ..., "optuna": ...}``), from its
    user attrs and its study's; None if not recorded."""
    if isinstance(user_attrs.get("engine"), str):  # written by an earlier version of sweep
        return {"engine": user_attrs["engine"], **user_attrs.get("versions", {})}
    engines = study_attrs.get(ENGINES_ATTR, [])
    engine_id = user_attrs.get("engine_id", 0)
    return dict(engines[engine_id]) if engine_id < len(engines) else None


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
