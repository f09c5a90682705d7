"""One Optuna study per sweep: fixed settings, the cell queue, claiming and recording trials.

Mechanism (instead of Optuna's GridSampler, whose semantics do not fit repeated, extensible
sweeps): every cell that has no completed, running or waiting trial is *enqueued* as a WAITING
trial with fixed params (``study.enqueue_trial``); workers claim waiting trials with Optuna's own
WAITING -> RUNNING transition (the storage refuses a second claim), record a heartbeat while they
train, and ``tell`` the result. Stale RUNNING trials (killed workers) are failed with
``optuna.storages.fail_stale_trials`` and their cells are enqueued again.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ._rdb import Completion, claim_waiting, complete, enqueue
from .curves import (
    DASHBOARD_POINTS,
    create_table,
    curve_rows,
    curves_table,
    sample_epochs,
    write_probe,
)
from .exceptions import IncompatibleStudyError, StorageUnavailableError, StudyNotFoundError
from .grid import BASELINE_PLACEMENT, Cell
from .records import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    TrialRecord,
    cell_states,
    records_from_trials,
)
from .storage import StorageURL, first_line, make_engine, open_storage, parse_storage_url

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

    from .engines import CellResult
    from .tasks import Task

SETTINGS_ATTR = "sweep_settings"
MAX_NORM_HIGH = 1000.0


def distributions(task: Task) -> dict[str, Any]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    return {
        "rate": FloatDistribution(0.0, 1.0),
        "placement": CategoricalDistribution((BASELINE_PLACEMENT, *task.placements)),
        "max_norm": FloatDistribution(0.0, MAX_NORM_HIGH),
        "seed": IntDistribution(0, 2**31 - 1),
    }


def cell_params(cell: Cell) -> dict[str, Any]:
    """Trial params of a cell; ``max_norm`` is absent when the cell has no constraint."""
    params: dict[str, Any] = {"rate": cell.rate, "placement": cell.placement, "seed": cell.seed}
    if cell.max_norm is not None:
        params["max_norm"] = cell.max_norm
    return params


@dataclass(frozen=True)
class Claim:
    """A cell this worker has claimed: its RUNNING trial."""

    trial_id: int
    number: int
    cell: Cell


class SweepStudy:
    """The study of one sweep; the single entry point shared by the CLI, workers and tests."""

    def __init__(
        self, study: optuna.Study, storage: optuna.storages.RDBStorage, url: StorageURL, task: Task
    ) -> None:
        self.study = study
        self.storage = storage
        self.url = url
        self.task = task
        self._engine: sqlalchemy.engine.Engine | None = None
        self._distributions = distributions(task)

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def heartbeat_enabled(self) -> bool:
        return self.storage.get_heartbeat_interval() is not None

    @property
    def engine(self) -> sqlalchemy.engine.Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
            create_table(self._engine)
        return self._engine

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.study.user_attrs.get(SETTINGS_ATTR, {})
        return settings

    def check_writable(self) -> None:
        """Fail early, before any cell is claimed, if this storage cannot be written."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            write_probe(self.engine)
        except SQLAlchemyError as e:
            raise StorageUnavailableError(
                f"cannot write to storage {self.url.url!r}: {first_line(e)}; "
                f"{self.url.fix_hint()}"
            ) from e

    # ---- reading ---------------------------------------------------------------------------

    def records(self) -> list[TrialRecord]:
        """Every sweep trial of the study as a record (plain SQL on Optuna's tables)."""
        from ._fast_records import read_records

        return read_records(self)

    def records_via_optuna(self) -> list[TrialRecord]:
        """The same records through Optuna's API (slower: it loads every intermediate value)."""
        return records_from_trials(self.study.get_trials(deepcopy=False))

    # ---- queueing and claiming ---------------------------------------------------------------

    def enqueue_missing(self, cells: Iterable[Cell], skip: Iterable[Cell] = ()) -> int:
        """Enqueue each cell without a complete, running or waiting trial; return how many."""
        states = cell_states(self.records())
        skipped = set(skip)
        missing = [c for c in cells if c not in skipped and states.get(c, FAILED) == FAILED]
        study_id = self.storage.get_study_id_from_name(self.name)
        enqueue(self.storage, study_id, [(cell_params(c), {"cell": c.key}) for c in missing])
        return len(missing)

    def claim(self, limit: int, only: set[Cell] | None = None) -> list[Claim]:
        """Move up to ``limit`` WAITING trials (of ``only``'s cells, if given) to RUNNING for
        this worker, with their params and a first heartbeat, in one transaction.

        A waiting trial whose cell already completed or runs elsewhere (two ``run`` commands
        that enqueued one cell twice) is failed as ``duplicate_of`` instead of being claimed.
        """
        from optuna.distributions import distribution_to_json

        records = self.records()
        held = _holders(records)
        candidates: dict[int, TrialRecord] = {}
        params: dict[int, dict[str, tuple[float, str]]] = {}
        for record in records:
            if record.state != PENDING or (only is not None and record.cell not in only):
                continue
            if record.cell in held:
                self._fail_duplicate(record.trial_id, held[record.cell])
                continue
            params[record.trial_id] = {
                name: (self._distributions[name].to_internal_repr(value),
                       distribution_to_json(self._distributions[name]))
                for name, value in cell_params(record.cell).items()
            }
            candidates[record.trial_id] = record
        claimed = claim_waiting(self.storage, list(candidates), limit, params,
                                self.heartbeat_enabled)
        claims = [Claim(tid, candidates[tid].number, candidates[tid].cell) for tid in claimed]
        if not claims:
            return claims
        # Of two trials of one cell claimed at the same moment, the lower number proceeds.
        held = _holders(self.records())
        kept = []
        for claim in claims:
            holder = held.get(claim.cell)
            if holder is not None and holder != claim.number:
                self._fail_duplicate(claim.trial_id, holder)
            else:
                kept.append(claim)
        return kept

    def _fail_duplicate(self, trial_id: int, holder: int) -> None:
        from optuna.trial import TrialState

        self.storage.set_trial_user_attr(trial_id, "duplicate_of", holder)
        self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL)

    def fail_stale(self) -> None:
        """Fail RUNNING trials whose worker stopped sending heartbeats."""
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)

    # ---- recording --------------------------------------------------------------------------

    def record(self, claims: Sequence[Claim], results: Sequence[CellResult]) -> int:
        """Complete the claims' trials with their results, curves included, in one transaction.

        Returns how many were recorded (a trial failed as stale meanwhile is not).
        """
        from . import __version__

        versions = _versions(__version__)
        completions = []
        curves = {}
        for claim, result in zip(claims, results, strict=True):
            test_accuracy = result.curves.test_accuracy
            completions.append(Completion(
                trial_id=claim.trial_id,
                value=result.test_accuracy,
                intermediate=[(int(e) + 1, float(test_accuracy[e]))
                              for e in sample_epochs(result.curves.epochs, DASHBOARD_POINTS)],
                user_attrs={
                    "train_accuracy": result.train_accuracy,
                    "train_loss": result.train_loss,
                    "test_loss": result.test_loss,
                    "fit_seconds": round(result.fit_seconds, 4),
                    "engine": result.engine,
                    "versions": versions,
                },
            ))
            curves[claim.trial_id] = result.curves
        self.engine  # noqa: B018 - makes sure the curves table exists
        return len(complete(self.storage, completions, [(curves_table, curve_rows(curves))]))

    def record_failure(self, claims: Sequence[Claim], reason: str) -> None:
        """Mark claimed trials failed (they are retried by the next run)."""
        from optuna.trial import TrialState

        for claim in claims:
            try:
                self.storage.set_trial_user_attr(claim.trial_id, "fail_reason", reason[:500])
                self.storage.set_trial_state_values(claim.trial_id, state=TrialState.FAIL)
            except Exception:  # noqa: BLE001 - best effort: heartbeat expiry covers the rest
                continue


def _holders(records: Iterable[TrialRecord]) -> dict[Cell, int]:
    """Cell -> the number of the trial that holds it: a complete one, else the lowest running."""
    held: dict[Cell, tuple[bool, int]] = {}
    for record in records:
        if record.state not in (COMPLETE, RUNNING):
            continue
        rank = (record.state != COMPLETE, record.number)
        if record.cell not in held or rank < held[record.cell]:
            held[record.cell] = rank
    return {cell: number for cell, (_, number) in held.items()}


@cache
def _versions(sweep_version: str) -> dict[str, str]:
    import keras
    import optuna
    import tensorflow as tf

    return {
        "sweep": sweep_version,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "optuna": optuna.__version__,
    }


def _settings_diff(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    keys = sorted(set(stored) | set(wanted))
    return [
        f"{k}: study has {stored.get(k)!r}, this run has {wanted.get(k)!r}"
        for k in keys
        if stored.get(k) != wanted.get(k)
    ]


def open_study(
    *,
    study_name: str,
    storage_url: str,
    task: Task | None,
    settings: dict[str, Any] | None,
    create: bool,
    heartbeat_seconds: float | None = None,
) -> SweepStudy:
    """Open (or, with ``create``, create) a sweep study and check its fixed settings.

    Nothing is written unless the storage is valid and the settings match: a new study gets its
    settings; an existing one with other settings raises :class:`IncompatibleStudyError`.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    from .tasks import get_task

    url = parse_storage_url(storage_url)
    if not create and url.sqlite_path is not None and not url.sqlite_path.exists():
        raise StudyNotFoundError(
            f"no study {study_name!r}: {str(url.sqlite_path)!r} does not exist; "
            "start it with 'python -m sweep run'"
        )
    storage = open_storage(url, heartbeat_seconds)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        names = set(optuna.study.get_all_study_names(storage))
        if study_name in names:
            study = optuna.load_study(study_name=study_name, storage=storage,
                                      sampler=optuna.samplers.RandomSampler())
            stored = study.user_attrs.get(SETTINGS_ATTR)
            if stored is None:
                raise IncompatibleStudyError(
                    f"study {study_name!r} in {storage_url!r} was not created by sweep; "
                    "choose another --study name"
                )
            if settings is not None and (diff := _settings_diff(stored, settings)):
                raise IncompatibleStudyError(
                    f"study {study_name!r} has other fixed settings ({'; '.join(diff)}); "
                    "use another --study name or the study's settings"
                )
        elif not create:
            available = ", ".join(sorted(names)) or "none"
            raise StudyNotFoundError(
                f"no study {study_name!r} in {storage_url!r} (studies there: {available}); "
                "check --study and --storage"
            )
        else:
            assert settings is not None
            study = optuna.create_study(
                study_name=study_name, storage=storage, direction="maximize",
                sampler=optuna.samplers.RandomSampler(), load_if_exists=True,
            )
            if SETTINGS_ATTR not in study.user_attrs:
                study.set_user_attr(SETTINGS_ATTR, settings)
    except SQLAlchemyError as e:
        raise StorageUnavailableError(
            f"storage {storage_url!r} failed: {first_line(e)}; {url.fix_hint()}"
        ) from e
    task = task or get_task(study.user_attrs[SETTINGS_ATTR]["task"])
    return SweepStudy(study, storage, url, task)
