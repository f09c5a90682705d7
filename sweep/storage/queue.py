"""The cell queue: enqueue missing cells, claim them, beat while training, complete or fail them.

Mechanism (instead of Optuna's GridSampler, whose semantics do not fit repeated, extensible
sweeps): every cell that has no completed, running or waiting trial is *enqueued* as a WAITING
trial with fixed params (as ``study.enqueue_trial`` does); workers claim waiting trials with
Optuna's own WAITING -> RUNNING transition (the storage refuses a second claim), record a
heartbeat while they train (:mod:`sweep.storage.heartbeat`), and complete them with their
results. Stale RUNNING trials (killed workers) are failed with
``optuna.storages.fail_stale_trials`` and their cells are enqueued again.

Each function takes the study's storage (and its id) and does its work in one transaction;
:class:`sweep.storage.SweepStudy` is the object that callers use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..grid import Cell
from . import _optuna
from .curves import DASHBOARD_POINTS, curve_rows, curves_table
from .records import COMPLETE, FAILED, PENDING, RUNNING, TrialRecord
from .schema import (
    DUPLICATE_ATTR,
    FAIL_REASON_ATTR,
    FAIL_REASON_CHARS,
    WORKER_ATTR,
    cell_params,
    completion,
    stored_params,
)

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

    from ..engines import CellResult


@dataclass(frozen=True)
class Claim:
    """A cell this worker has claimed: its RUNNING trial."""

    trial_id: int
    number: int
    cell: Cell


def missing_cells(
    states: Mapping[Cell, str], cells: Iterable[Cell], skip: Iterable[Cell] = ()
) -> list[Cell]:
    """The cells (not in ``skip``) without a complete, running or waiting trial."""
    skipped = set(skip)
    return [c for c in cells if c not in skipped and states.get(c, FAILED) == FAILED]


def enqueue(storage: optuna.storages.RDBStorage, study_id: int,
            cells: Sequence[Cell] | Callable[[], Sequence[Cell]]) -> int:
    """Add a WAITING trial for each cell, in one transaction; ``cells`` may be a function that
    finds them, called while the study is locked against other enqueuers (two workers that
    find the same cells missing at once, e.g. a confirmation's, add them once). Returns how
    many were added."""
    if not callable(cells) and not cells:
        return 0
    find = cells if callable(cells) else lambda: cells
    return _optuna.enqueue(storage, study_id,
                           lambda: [(cell_params(cell), {}) for cell in find()])


def claim(
    storage: optuna.storages.RDBStorage,
    read_records: Callable[[], list[TrialRecord]],
    dists: Mapping[str, Any],
    limit: int,
    only: set[Cell] | None = None,
    heartbeat: bool = False,
) -> list[Claim]:
    """Move up to ``limit`` WAITING trials (of ``only``'s cells, if given) to RUNNING for
    this worker, with their params and a first heartbeat, in one transaction.

    A waiting trial whose cell already completed or runs elsewhere (two ``run`` commands
    that enqueued one cell twice) is failed as a duplicate instead of being claimed; of two
    trials of one cell claimed at the same moment, the lower number proceeds.
    """
    records = read_records()
    held = holders(records)
    candidates: dict[int, TrialRecord] = {}
    params: dict[int, dict[str, tuple[float, str]]] = {}
    for record in records:
        if record.state != PENDING or (only is not None and record.cell not in only):
            continue
        if record.cell in held:
            fail_duplicate(storage, record.trial_id, held[record.cell])
            continue
        params[record.trial_id] = stored_params(record.cell, dists)
        candidates[record.trial_id] = record
    claimed = _optuna.claim_waiting(storage, list(candidates), limit, params, heartbeat)
    claims = [Claim(tid, candidates[tid].number, candidates[tid].cell) for tid in claimed]
    if not claims:
        return claims
    held = holders(read_records())
    kept = []
    for each in claims:
        holder = held.get(each.cell)
        if holder is not None and holder != each.number:
            fail_duplicate(storage, each.trial_id, holder)
        else:
            kept.append(each)
    return kept


def holders(records: Iterable[TrialRecord]) -> dict[Cell, int]:
    """Cell -> the number of the trial that holds it: a complete one, else the lowest running."""
    held: dict[Cell, tuple[bool, int]] = {}
    for record in records:
        if record.state not in (COMPLETE, RUNNING):
            continue
        rank = (record.state != COMPLETE, record.number)
        if record.cell not in held or rank < held[record.cell]:
            held[record.cell] = rank
    return {cell: number for cell, (_, number) in held.items()}


def _fail(storage: optuna.storages.RDBStorage, trial_id: int, attr: str, value: Any) -> None:
    """Mark a trial failed, saying why in the user attr ``attr``."""
    from optuna.trial import TrialState

    storage.set_trial_user_attr(trial_id, attr, value)
    storage.set_trial_state_values(trial_id, state=TrialState.FAIL)


def fail_duplicate(storage: optuna.storages.RDBStorage, trial_id: int, holder: int) -> None:
    """Fail a trial whose cell the trial number ``holder`` holds."""
    _fail(storage, trial_id, DUPLICATE_ATTR, holder)


def beat(storage: optuna.storages.RDBStorage, trial_ids: Sequence[int]) -> None:
    """Record a heartbeat for several running trials in one statement."""
    _optuna.beat(storage, trial_ids)


def complete(
    storage: optuna.storages.RDBStorage,
    claims: Sequence[Claim],
    results: Sequence[CellResult],
    engine_ids: Mapping[str, int],
    *,
    dashboard_points: int = DASHBOARD_POINTS,
    with_curves: bool = True,
) -> int:
    """Complete the claims' trials with their results, curves included, in one transaction;
    return how many were recorded (a trial failed as stale meanwhile is not).
    ``engine_ids``: each result's engine -> its position in the study's engines list."""
    completions = []
    curves = {}
    for each, result in zip(claims, results, strict=True):
        completions.append(completion(each.trial_id, result, engine_ids[result.engine],
                                      dashboard_points))
        curves[each.trial_id] = result.curves
    extra = [(curves_table, curve_rows(curves))] if with_curves else []
    return len(_optuna.complete(storage, completions, extra))


def fail_trials(
    storage: optuna.storages.RDBStorage, trial_ids: Iterable[int], reason: str
) -> None:
    """Mark trials failed with a ``fail_reason`` (their cells are retried by the next run)."""
    for trial_id in trial_ids:
        try:
            _fail(storage, trial_id, FAIL_REASON_ATTR, reason[:FAIL_REASON_CHARS])
        except Exception:  # noqa: BLE001 - best effort: heartbeat expiry covers the rest
            continue


def running_of(records: Iterable[TrialRecord], workers: set[str]) -> list[int]:
    """The RUNNING trials claimed by ``workers`` (``host:pid``)."""
    return [r.trial_id for r in records
            if r.state == RUNNING and r.user_attrs.get(WORKER_ATTR) in workers]


def fail_stale(study: optuna.Study) -> None:
    """Fail RUNNING trials whose worker stopped sending heartbeats."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def stale_trials(
    engine: sqlalchemy.engine.Engine, study_id: int, heartbeat_seconds: float
) -> set[int]:
    """RUNNING trials whose last heartbeat is older than 3 heartbeat intervals, by the
    database's clock (as Optuna's ``fail_stale_trials`` judges them)."""
    now, beats = _optuna.running_heartbeats(engine, study_id)
    grace = timedelta(seconds=3 * heartbeat_seconds)
    return {trial_id for trial_id, last in beats if now - last > grace}
