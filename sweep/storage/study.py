"""One Optuna study per sweep: fixed settings, the cell queue, claiming and recording trials.

Mechanism (instead of Optuna's GridSampler, whose semantics do not fit repeated, extensible
sweeps): every cell that has no completed, running or waiting trial is *enqueued* as a WAITING
trial with fixed params (``study.enqueue_trial``); workers claim waiting trials with Optuna's own
WAITING -> RUNNING transition (the storage refuses a second claim), record a heartbeat while they
train, and ``tell`` the result. Stale RUNNING trials (killed workers) are failed with
``optuna.storages.fail_stale_trials`` and their cells are enqueued again.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..exceptions import IncompatibleStudyError, StorageUnavailableError, StudyNotFoundError
from ..grid import BASELINE_PLACEMENT, Cell
from ._optuna import Completion, claim_waiting, complete, enqueue, study_list_index
from .curves import (
    create_table,
    curve_rows,
    curves_table,
    dashboard_curve,
    write_probe,
)
from .records import (
    COMPLETE,
    ENGINES_ATTR,
    FAILED,
    PENDING,
    RUNNING,
    TrialRecord,
    cell_states,
    records_from_trials,
    result_attrs,
)
from .url import (
    Access,
    StorageURL,
    first_line,
    make_engine,
    open_storage,
    parse_storage_url,
    storage_errors,
)

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

    from ..engines import CellResult
    from ..tasks import Task

SETTINGS_ATTR = "sweep_settings"
HEARTBEAT_ATTR = "sweep_heartbeat_seconds"
DEFAULT_HEARTBEAT_SECONDS = 10.0
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


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _storage_op(doing: str) -> Callable[[_Method], _Method]:
    """A database or disk error inside the method becomes one line naming ``doing``."""

    def decorate(method: _Method) -> _Method:
        @functools.wraps(method)
        def wrapped(self: SweepStudy, *args: Any, **kwargs: Any) -> Any:
            with storage_errors(self.url, doing):
                return method(self, *args, **kwargs)

        return cast(_Method, wrapped)

    return decorate


@dataclass(frozen=True)
class Claim:
    """A cell this worker has claimed: its RUNNING trial."""

    trial_id: int
    number: int
    cell: Cell


class SweepStudy:
    """The study of one sweep; the single entry point shared by the CLI, workers and tests.

    ``access`` is how its storage was opened (:data:`sweep.storage.Access`): a study opened
    for ``read`` never writes, creates nothing and changes nothing in the database.
    """

    def __init__(
        self,
        study: optuna.Study,
        storage: optuna.storages.RDBStorage,
        url: StorageURL,
        task: Task,
        access: Access = "create",
    ) -> None:
        self.study = study
        self.storage = storage
        self.url = url
        self.task = task
        self.access = access
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
        """SQLAlchemy engine for sweep's own tables; a writer's creates the curves table."""
        if self._engine is None:
            if self.access == "read":
                self._engine = self.storage.engine
            else:
                self._engine = make_engine(self.url)
                if self.access in ("work", "create"):
                    with storage_errors(self.url, "creating sweep's curves table"):
                        create_table(self._engine)
        return self._engine

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.study.user_attrs.get(SETTINGS_ATTR, {})
        return settings

    def close(self) -> None:
        """Release the database connections (the study stays usable; they reopen on use)."""
        if self._engine is not None and self._engine is not self.storage.engine:
            self._engine.dispose()
        self.storage.engine.dispose()

    @property
    def heartbeat_seconds(self) -> float:
        """The longest heartbeat interval a run or worker of this study used (10 s if none
        said): a running cell silent for 3 intervals is stale."""
        return float(self.study.user_attrs.get(HEARTBEAT_ATTR, DEFAULT_HEARTBEAT_SECONDS))

    def note_heartbeat(self, seconds: float) -> None:
        """Remember this process's heartbeat interval, so readers can tell stale cells."""
        if HEARTBEAT_ATTR not in self.study.user_attrs or seconds > self.heartbeat_seconds:
            with storage_errors(self.url, "storing the heartbeat interval"):
                self.study.set_user_attr(HEARTBEAT_ATTR, seconds)

    @_storage_op("reading heartbeats")
    def stale_trial_ids(self) -> set[int]:
        """RUNNING trials whose last heartbeat is older than 3 heartbeat intervals, by the
        database's clock (as Optuna's ``fail_stale_trials`` judges them)."""
        import sqlalchemy as sa

        query = sa.text(
            "SELECT h.trial_id, h.heartbeat FROM trial_heartbeats h JOIN trials t "
            "ON t.trial_id = h.trial_id WHERE t.study_id = :study AND t.state = 'RUNNING'"
        ).columns(trial_id=sa.Integer, heartbeat=sa.DateTime)
        with self.engine.connect() as connection:
            now = connection.execute(sa.select(sa.func.current_timestamp())).scalar()
            rows = connection.execute(query, {"study": self.study._study_id}).all()
        grace = timedelta(seconds=3 * self.heartbeat_seconds)
        return {int(trial_id) for trial_id, beat in rows if now - beat > grace}

    def check_writable(self) -> None:
        """Fail early, before any cell is claimed, if this storage cannot be written."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            write_probe(self.engine)
        except SQLAlchemyError as e:
            raise StorageUnavailableError(
                f"cannot write to storage {self.url.safe!r}: {first_line(e)}; "
                f"{self.url.fix_hint()}"
            ) from e

    # ---- reading ---------------------------------------------------------------------------

    @_storage_op("reading the study's trials")
    def records(self) -> list[TrialRecord]:
        """Every sweep trial of the study as a record (plain SQL on Optuna's tables)."""
        from .fast_records import read_records

        return read_records(self)

    def records_via_optuna(self) -> list[TrialRecord]:
        """The same records through Optuna's API (slower: it loads every intermediate value)."""
        return records_from_trials(self.study.get_trials(deepcopy=False))

    # ---- queueing and claiming ---------------------------------------------------------------

    @_storage_op("queueing cells")
    def enqueue_missing(self, cells: Iterable[Cell], skip: Iterable[Cell] = ()) -> int:
        """Enqueue each cell without a complete, running or waiting trial; return how many."""
        states = cell_states(self.records())
        skipped = set(skip)
        missing = [c for c in cells if c not in skipped and states.get(c, FAILED) == FAILED]
        study_id = self.storage.get_study_id_from_name(self.name)
        enqueue(self.storage, study_id, [(cell_params(c), {}) for c in missing])
        return len(missing)

    @_storage_op("claiming cells")
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

    @_storage_op("failing stale cells")
    def fail_stale(self) -> None:
        """Fail RUNNING trials whose worker stopped sending heartbeats."""
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)

    # ---- recording --------------------------------------------------------------------------

    @_storage_op("recording results")
    def record(self, claims: Sequence[Claim], results: Sequence[CellResult]) -> int:
        """Complete the claims' trials with their results, curves included, in one transaction.

        Returns how many were recorded (a trial failed as stale meanwhile is not). What a
        trial holds, and the study-level facts, are described in :mod:`sweep.storage.records`.
        """
        from .. import __version__

        engine_ids = {
            engine: study_list_index(self.storage, self.study._study_id, ENGINES_ATTR,
                                     {"engine": engine, **_versions(__version__)})
            for engine in sorted({result.engine for result in results})
        }
        completions = []
        curves = {}
        for claim, result in zip(claims, results, strict=True):
            completions.append(Completion(
                trial_id=claim.trial_id,
                value=result.test_accuracy,
                intermediate=dashboard_curve(result.curves),
                user_attrs=result_attrs(result, engine_ids[result.engine]),
            ))
            curves[claim.trial_id] = result.curves
        self.engine  # noqa: B018 - makes sure the curves table exists
        return len(complete(self.storage, completions, [(curves_table, curve_rows(curves))]))

    def record_failure(self, claims: Sequence[Claim], reason: str) -> None:
        """Mark claimed trials failed (they are retried by the next run)."""
        self._fail_trials([claim.trial_id for claim in claims], reason)

    def fail_running_of(self, workers: set[str], reason: str) -> int:
        """Fail the RUNNING trials claimed by ``workers`` (``host:pid``, processes known to have
        exited) at once, instead of after the heartbeat grace period; return how many."""
        ids = [r.trial_id for r in self.records()
               if r.state == RUNNING and r.user_attrs.get("worker") in workers]
        self._fail_trials(ids, reason)
        return len(ids)

    def _fail_trials(self, trial_ids: Sequence[int], reason: str) -> None:
        from optuna.trial import TrialState

        for trial_id in trial_ids:
            try:
                self.storage.set_trial_user_attr(trial_id, "fail_reason", reason[:500])
                self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
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
    """The library versions results depend on: the imported module's ``__version__`` (a
    worker has imported them all), else the installed distribution's (nothing is imported:
    synthetic studies and tests need no TensorFlow)."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    def installed(module: str, *distributions: str) -> str:
        imported = getattr(sys.modules.get(module), "__version__", None)
        if isinstance(imported, str):
            return imported
        for distribution in distributions:
            try:
                return version(distribution)
            except PackageNotFoundError:
                continue
        return "unknown"

    return {
        "sweep": sweep_version,
        "tensorflow": installed("tensorflow", "tensorflow", "tensorflow-cpu", "tf-nightly"),
        "keras": installed("keras", "keras"),
        "optuna": installed("optuna", "optuna"),
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
    access: Access,
    task: Task | None = None,
    settings: dict[str, Any] | None = None,
    heartbeat_seconds: float | None = None,
) -> SweepStudy:
    """Open a sweep study (with ``access="create"``, create it) and check its fixed settings.

    Nothing is written unless the storage is valid and the settings match. A new study gets
    ``settings``. An existing one with other settings raises :class:`IncompatibleStudyError`,
    unless no cell of it ever completed or runs (a run that trained nothing never pins a
    study): then a ``create`` takes the new settings and fails the old queue's waiting trials
    as superseded.
    """
    import optuna

    from ..tasks import get_task

    url = parse_storage_url(storage_url)
    storage = open_storage(url, study_name, access, heartbeat_seconds)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with storage_errors(url, f"opening study {study_name!r}"):
        names = set(optuna.study.get_all_study_names(storage))
        if study_name in names:
            study = optuna.load_study(study_name=study_name, storage=storage,
                                      sampler=optuna.samplers.RandomSampler())
            stored = study.user_attrs.get(SETTINGS_ATTR)
            if stored is None:
                raise IncompatibleStudyError(
                    f"study {study_name!r} in {url.safe!r} was not created by sweep; "
                    "choose another --study name"
                )
            if settings is not None and (diff := _settings_diff(stored, settings)):
                if access != "create" or _pinned(study):
                    raise IncompatibleStudyError(
                        f"study {study_name!r} has other fixed settings ({'; '.join(diff)}); "
                        "use another --study name or the study's settings"
                    )
                _repin(study, storage, settings)
        elif access != "create":
            available = ", ".join(sorted(names)) or "none"
            raise StudyNotFoundError(
                f"no study {study_name!r} in {url.safe!r} (studies there: {available}); "
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
    task = task or get_task(study.user_attrs[SETTINGS_ATTR]["task"])
    return SweepStudy(study, storage, url, task, access)


def _pinned(study: optuna.Study) -> bool:
    """True once a cell of the study completed or runs: its settings are then fixed."""
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)))


def _repin(
    study: optuna.Study, storage: optuna.storages.RDBStorage, settings: dict[str, Any]
) -> None:
    """Give an unpinned study new settings; its waiting trials (queued under the old ones)
    are failed as superseded, and the run enqueues its own cells again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        storage.set_trial_user_attr(trial._trial_id, "fail_reason",
                                    "superseded: the study's settings changed")
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    study.set_user_attr(SETTINGS_ATTR, settings)
