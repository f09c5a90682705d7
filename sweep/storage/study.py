"""The study of one sweep: the one object the CLI, workers, reports and tests use.

:func:`open_study` opens (or creates) the Optuna study of a sweep and checks its fixed
settings; :class:`SweepStudy` reads its trials as records (:mod:`sweep.storage.records`) and
works its cell queue (:mod:`sweep.storage.queue`), each database or disk error as one line.
What a trial and the study hold is declared in :mod:`sweep.storage.schema`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..exceptions import IncompatibleStudyError, StorageUnavailableError, StudyNotFoundError
from ..grid import Cell
from ..objective import Objective
from . import _optuna, queue
from .curves import DASHBOARD_POINTS, create_table, write_probe
from .opening import Access, first_line, make_engine, open_storage, storage_errors
from .queue import Claim
from .records import TrialRecord, cell_states, read_records, records_via_optuna
from .schema import (
    CONFIRM_ATTR,
    DEFAULT_HEARTBEAT_SECONDS,
    ENGINES_ATTR,
    HEARTBEAT_ATTR,
    SETTINGS_ATTR,
    distributions,
    engine_entry,
)
from .settings import changed_task, name_metric, pinned, repin, settings_diff, stored_task
from .sqlite import checkpoint
from .url import StorageURL, parse_storage_url

if TYPE_CHECKING:
    import optuna
    import sqlalchemy

    from ..engines import CellResult
    from ..tasks import Task

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
        self.study_id = _optuna.study_id(study)
        """The storage's id of the study (optuna-dashboard's URLs use it)."""
        self._engine: sqlalchemy.engine.Engine | None = None
        self._distributions = distributions(task)
        self._engine_ids: dict[str, int] = {}

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
        """Release the database connections (the study stays usable; they reopen on use).
        Every command closes the studies it opened, so that a process that goes on (a notebook,
        a test) holds no connection, lock or file handle on the database afterwards."""
        if self._engine is not None and self._engine is not self.storage.engine:
            self._engine.dispose()
        self.storage.engine.dispose()
        if self.access != "read" and self.url.sqlite_path is not None:
            checkpoint(self.url.sqlite_path)

    def __enter__(self) -> SweepStudy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def objective(self) -> Objective:
        """What the study compares cells on: its metric, direction and split."""
        return Objective.from_settings(self.settings)

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

    @property
    def confirm_seeds(self) -> int:
        """Fresh seeds the study's confirmation retrains (0: none), as its latest run set."""
        return int(self.study.user_attrs.get(CONFIRM_ATTR, 0))

    def note_confirm(self, seeds: int) -> None:
        """Store this run's ``--confirm``, so any worker enqueues the same confirmation."""
        if self.study.user_attrs.get(CONFIRM_ATTR) != seeds:
            with storage_errors(self.url, "storing the confirmation's seeds"):
                self.study.set_user_attr(CONFIRM_ATTR, seeds)

    @_storage_op("reading heartbeats")
    def stale_trial_ids(self) -> set[int]:
        """RUNNING trials whose last heartbeat is older than 3 heartbeat intervals."""
        return queue.stale_trials(self.engine, self.study_id, self.heartbeat_seconds)

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
        return read_records(self.study, self.engine)

    def records_via_optuna(self) -> list[TrialRecord]:
        """The same records through Optuna's API (slower: it loads every intermediate value)."""
        return records_via_optuna(self.study)

    # ---- the queue ---------------------------------------------------------------------------

    @_storage_op("queueing cells")
    def enqueue_missing(self, cells: Iterable[Cell], skip: Iterable[Cell] = ()) -> int:
        """Enqueue each cell without a complete, running or waiting trial; return how many.
        Found missing, the cells are looked for again under the enqueue lock
        (:func:`queue.enqueue`): another process may have enqueued them meanwhile."""
        cells, skip = list(cells), set(skip)

        def missing() -> list[Cell]:
            return queue.missing_cells(cell_states(self.records()), cells, skip)

        return queue.enqueue(self.storage, self.study_id, missing) if missing() else 0

    @_storage_op("claiming cells")
    def claim(self, limit: int, only: set[Cell] | None = None) -> list[Claim]:
        """Claim up to ``limit`` waiting cells (of ``only``, if given): :func:`queue.claim`."""
        return queue.claim(self.storage, self.records, self._distributions, limit, only,
                           self.heartbeat_enabled)

    @_storage_op("failing stale cells")
    def fail_stale(self) -> None:
        """Fail RUNNING trials whose worker stopped sending heartbeats."""
        queue.fail_stale(self.study)

    @_storage_op("recording results")
    def record(self, claims: Sequence[Claim], results: Sequence[CellResult], *,
               dashboard_points: int = DASHBOARD_POINTS, with_curves: bool = True) -> int:
        """Complete the claims' trials with their results, curves included, in one transaction.

        Returns how many were recorded (a trial failed as stale meanwhile is not). What a
        trial holds, and the study-level facts, are declared in :mod:`sweep.storage.schema`.
        """
        engine_ids = {engine: self._engine_id(engine)
                      for engine in sorted({result.engine for result in results})}
        if with_curves:
            self.engine  # noqa: B018 - makes sure the curves table exists
        return queue.complete(self.storage, claims, results, engine_ids,
                              dashboard_points=dashboard_points, with_curves=with_curves)

    def _engine_id(self, engine: str) -> int:
        """The position of ``engine`` (with this process's library versions) in the study's
        engines list, appended if new; the list only grows, so it is looked up once."""
        entry = engine_entry(engine)
        key = json.dumps(entry, sort_keys=True)
        if key not in self._engine_ids:
            self._engine_ids[key] = _optuna.study_list_index(
                self.storage, self.study_id, ENGINES_ATTR, entry)
        return self._engine_ids[key]

    def record_failure(self, claims: Sequence[Claim], reason: str) -> None:
        """Mark claimed trials failed (they are retried by the next run)."""
        queue.fail_trials(self.storage, [claim.trial_id for claim in claims], reason)

    def fail_running_of(self, workers: set[str], reason: str) -> int:
        """Fail the RUNNING trials claimed by ``workers`` (``host:pid``, processes known to have
        exited) at once, instead of after the heartbeat grace period; return how many."""
        ids = queue.running_of(self.records(), workers)
        queue.fail_trials(self.storage, ids, reason)
        return len(ids)


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
            if settings is not None and (diff := settings_diff(stored, settings)):
                if access != "create" or pinned(study):
                    raise IncompatibleStudyError(changed_task(study_name, stored, settings)
                                                 or f"study {study_name!r} has other fixed "
                                                 f"settings ({'; '.join(diff)}); use another "
                                                 "--study name or the study's settings")
                repin(study, storage, settings)
        elif access != "create":
            available = ", ".join(sorted(names)) or "none"
            raise StudyNotFoundError(
                f"no study {study_name!r} in {url.safe!r} (studies there: {available}); "
                "check --study and --storage"
            )
        else:
            assert settings is not None
            objective = Objective.from_settings(settings)
            study = optuna.create_study(
                study_name=study_name, storage=storage, direction=objective.direction,
                sampler=optuna.samplers.RandomSampler(), load_if_exists=True,
            )
            if SETTINGS_ATTR not in study.user_attrs:
                study.set_user_attr(SETTINGS_ATTR, settings)
                name_metric(study, objective.label)
    stored = study.user_attrs[SETTINGS_ATTR]
    if task is None:
        task = stored_task(stored, access)
    return SweepStudy(study, storage, url, task, access)
