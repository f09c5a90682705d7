"""One Optuna study per sweep: fixed settings, the cell queue, claiming and recording trials.

Mechanism (instead of Optuna's GridSampler, whose semantics do not fit repeated, extensible
sweeps): every cell that has no completed, running or waiting trial is *enqueued* as a WAITING
trial with fixed params (``study.enqueue_trial``); workers claim waiting trials with Optuna's own
WAITING -> RUNNING transition (the storage refuses a second claim), record a heartbeat while they
train, and ``tell`` the result. Stale RUNNING trials (killed workers) are failed with
``optuna.storages.fail_stale_trials`` and their cells are enqueued again.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from .curves import DASHBOARD_POINTS, create_table, sample_epochs, save_curves, write_probe
from .exceptions import IncompatibleStudyError, StorageUnavailableError, StudyNotFoundError
from .grid import BASELINE_PLACEMENT, Cell
from .records import FAILED, TrialRecord, cell_states, records_from_trials
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


@dataclass
class Claim:
    """A cell this worker has claimed: its RUNNING trial."""

    trial: optuna.Trial
    cell: Cell

    @property
    def trial_id(self) -> int:
        return self.trial._trial_id


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
        return records_from_trials(self.study.get_trials(deepcopy=False))

    # ---- queueing and claiming ---------------------------------------------------------------

    def enqueue_missing(self, cells: Iterable[Cell], skip: Iterable[Cell] = ()) -> int:
        """Enqueue each cell without a complete, running or waiting trial; return how many."""
        states = cell_states(self.records())
        skipped = set(skip)
        count = 0
        for cell in cells:
            if cell in skipped or states.get(cell, FAILED) != FAILED:
                continue
            self.study.enqueue_trial(cell_params(cell), user_attrs={"cell": cell.key})
            count += 1
        return count

    def claim(self, limit: int, only: set[Cell] | None = None) -> list[Claim]:
        """Move up to ``limit`` WAITING trials (of ``only``'s cells, if given) to RUNNING for
        this worker, recording a first heartbeat at once."""
        import optuna
        from optuna.trial import TrialState

        storage = self.storage
        study_id = storage.get_study_id_from_name(self.name)
        waiting = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,))
        keys = None if only is None else {cell.key for cell in only}
        claims: list[Claim] = []
        for frozen in waiting:
            if len(claims) >= limit:
                break
            if keys is not None and frozen.user_attrs.get("cell") not in keys:
                continue
            try:
                if not storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                    continue
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            if self.heartbeat_enabled:
                storage.record_heartbeat(frozen._trial_id)
            fixed = frozen.system_attrs.get("fixed_params", {})
            holder = self._held_elsewhere(frozen)
            if holder is not None:
                storage.set_trial_user_attr(frozen._trial_id, "duplicate_of", holder)
                storage.set_trial_state_values(frozen._trial_id, state=TrialState.FAIL)
                continue
            trial = optuna.Trial(self.study, frozen._trial_id)
            claims.append(Claim(trial, self._apply_params(trial, fixed)))
        return claims

    def _held_elsewhere(self, claimed: optuna.trial.FrozenTrial) -> int | None:
        """The number of another trial that completed, or runs with priority, the same cell.

        Two racing ``run`` commands may enqueue one cell twice; claims are serialised by the
        storage, and of two running trials of one cell the lower-numbered one proceeds.
        """
        from optuna.trial import TrialState

        key = claimed.user_attrs.get("cell")
        for trial in self.study.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)
        ):
            if trial.number == claimed.number or trial.user_attrs.get("cell") != key:
                continue
            if trial.state == TrialState.COMPLETE or trial.number < claimed.number:
                return trial.number
        return None

    def _apply_params(self, trial: optuna.Trial, fixed: dict[str, Any]) -> Cell:
        """Record the enqueued params on the claimed trial (Optuna's fixed-params mechanism)."""
        dist = self._distributions
        max_norm = None
        if "max_norm" in fixed:
            max_norm = trial.suggest_float("max_norm", dist["max_norm"].low, dist["max_norm"].high)
        return Cell(
            rate=trial.suggest_float("rate", dist["rate"].low, dist["rate"].high),
            placement=str(trial.suggest_categorical("placement", dist["placement"].choices)),
            max_norm=max_norm,
            seed=trial.suggest_int("seed", dist["seed"].low, dist["seed"].high),
        )

    def fail_stale(self) -> None:
        """Fail RUNNING trials whose worker stopped sending heartbeats."""
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)

    # ---- recording --------------------------------------------------------------------------

    def record(self, claims: Sequence[Claim], results: Sequence[CellResult]) -> None:
        """Store each result as its claim's trial: curves first, then attrs, then ``tell``."""
        from . import __version__

        by_trial = {c.trial_id: r for c, r in zip(claims, results, strict=True)}
        save_curves(self.engine, {tid: r.curves for tid, r in by_trial.items()})
        versions = _versions(__version__)
        for claim, result in zip(claims, results, strict=True):
            trial = claim.trial
            for epoch in sample_epochs(result.curves.epochs, DASHBOARD_POINTS):
                trial.report(float(result.curves.test_accuracy[epoch]), int(epoch) + 1)
            attrs = {
                "train_accuracy": result.train_accuracy,
                "train_loss": result.train_loss,
                "test_loss": result.test_loss,
                "fit_seconds": round(result.fit_seconds, 4),
                "engine": result.engine,
                "versions": versions,
            }
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            self.study.tell(trial, result.test_accuracy)

    def record_failure(self, claims: Sequence[Claim], reason: str) -> None:
        from optuna.trial import TrialState

        for claim in claims:
            try:
                claim.trial.set_user_attr("fail_reason", reason[:500])
                self.study.tell(claim.trial, state=TrialState.FAIL, skip_if_finished=True)
            except Exception:  # noqa: BLE001 - best effort: heartbeat expiry covers the rest
                continue


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


@contextmanager
def heartbeat(sweep_study: SweepStudy, claims: Sequence[Claim], interval: float) -> Iterator[None]:
    """Record a heartbeat for the claimed trials every ``interval`` seconds while training."""
    import threading

    storage = sweep_study.storage
    if not sweep_study.heartbeat_enabled or not claims:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            for claim in claims:
                try:
                    storage.record_heartbeat(claim.trial_id)
                except Exception:  # noqa: BLE001 - a missed beat is retried next interval
                    time.sleep(0)

    thread = threading.Thread(target=beat, name="sweep-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
