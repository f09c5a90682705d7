"""Batched writes through Optuna's own models: the state changes of its public API, one
transaction per batch."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..schema import FIXED_PARAMS, WORKER_ATTR, Completion, worker_id

if TYPE_CHECKING:
    import optuna
    from sqlalchemy.orm import Session


@contextmanager
def _transaction(storage: optuna.storages.RDBStorage) -> Iterator[Session]:
    session: Session = storage.scoped_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def enqueue(
    storage: optuna.storages.RDBStorage,
    study: int,
    entries: Callable[[], Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]],
) -> int:
    """Create WAITING trials with fixed params, as ``Study.enqueue_trial`` does, in one
    transaction; ``entries()`` finds them, (fixed params, user attrs) each. Like Optuna, the
    study row is locked while trial numbers are assigned (SQLite: the write lock, taken up
    front); ``entries`` is called under that lock, so two processes that each enqueue what they
    find missing never both add it. Returns how many were created."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    with _transaction(storage) as session:
        models.StudyModel.find_or_raise_by_id(study, session, for_update=True)
        found = entries()
        if not found:
            return 0
        base = session.scalar(
            sa.select(sa.func.count(models.TrialModel.trial_id)).where(
                models.TrialModel.study_id == study)
        ) or 0
        trials = [models.TrialModel(study_id=study, number=base + i, state=TrialState.WAITING)
                  for i in range(len(found))]
        session.add_all(trials)
        session.flush()
        for trial, (fixed, attrs) in zip(trials, found, strict=True):
            session.add(models.TrialSystemAttributeModel(
                trial_id=trial.trial_id, key=FIXED_PARAMS, value_json=json.dumps(fixed)))
            for key, value in attrs.items():
                session.add(models.TrialUserAttributeModel(
                    trial_id=trial.trial_id, key=key, value_json=json.dumps(value)))
        return len(found)


def claim_waiting(
    storage: optuna.storages.RDBStorage,
    candidates: Sequence[int],
    limit: int,
    params: Mapping[int, Mapping[str, tuple[float, str]]],
    heartbeat: bool,
) -> list[int]:
    """Move up to ``limit`` of ``candidates`` from WAITING to RUNNING; set their params and
    the ``worker`` user attr (``host:pid``), so a user can see which machine holds a cell.

    The ``fixed_params`` system attr that :func:`enqueue` wrote is deleted once the real params
    are set: Optuna reads it only while a trial is waiting (``Trial.suggest_*``;
    ``enqueue_trial(skip_if_exists=True)`` falls back to the params), and optuna-dashboard
    would otherwise send it with every trial.

    ``params[trial_id]`` maps a param name to (internal value, distribution JSON).
    Returns the trial ids this call claimed (others may have been claimed by other workers).
    """
    import sqlalchemy as sa
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    if not candidates or limit <= 0:
        return []
    with _transaction(storage) as session:
        query = (
            session.query(models.TrialModel)
            .filter(models.TrialModel.trial_id.in_(list(candidates)))
            .filter(models.TrialModel.state == TrialState.WAITING)
            .order_by(models.TrialModel.trial_id)
            .limit(limit)
        )
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        trials = query.all()
        now = datetime.now()
        for trial in trials:
            trial.state = TrialState.RUNNING
            trial.datetime_start = now
            for name, (value, distribution_json) in params[int(trial.trial_id)].items():
                session.add(models.TrialParamModel(
                    trial_id=trial.trial_id, param_name=name, param_value=value,
                    distribution_json=distribution_json))
            session.add(models.TrialUserAttributeModel(
                trial_id=trial.trial_id, key=WORKER_ATTR, value_json=json.dumps(worker_id())))
            if heartbeat:
                session.add(models.TrialHeartbeatModel(trial_id=trial.trial_id))
        claimed = [int(trial.trial_id) for trial in trials]
        if claimed:
            session.execute(sa.delete(models.TrialSystemAttributeModel).where(
                models.TrialSystemAttributeModel.trial_id.in_(claimed),
                models.TrialSystemAttributeModel.key == FIXED_PARAMS))
        return claimed


def beat(storage: optuna.storages.RDBStorage, trial_ids: Sequence[int]) -> None:
    """Record a heartbeat for several running trials in one statement."""
    import sqlalchemy as sa
    from optuna.storages._rdb import models

    with _transaction(storage) as session:
        session.execute(
            sa.update(models.TrialHeartbeatModel)
            .where(models.TrialHeartbeatModel.trial_id.in_(list(trial_ids)))
            .values(heartbeat=sa.func.current_timestamp())
        )


def complete(
    storage: optuna.storages.RDBStorage,
    completions: Sequence[Completion],
    extra_rows: Sequence[tuple[Any, list[dict[str, Any]]]] = (),
) -> list[int]:
    """Finish the still-RUNNING trials among ``completions`` as COMPLETE, in one transaction.

    ``extra_rows`` are (SQLAlchemy table, rows) written in the same transaction (the curves),
    so a trial is never complete without them. Returns the ids completed; a trial that is no
    longer RUNNING (failed as stale meanwhile) is left alone.
    """
    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    by_id = {c.trial_id: c for c in completions}
    with _transaction(storage) as session:
        query = session.query(models.TrialModel).filter(
            models.TrialModel.trial_id.in_(list(by_id)),
            models.TrialModel.state == TrialState.RUNNING,
        )
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update()
        trials = query.all()
        now = datetime.now()
        done = [int(trial.trial_id) for trial in trials]
        for trial in trials:
            completion = by_id[int(trial.trial_id)]
            for step, value in completion.intermediate:
                stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(
                    value)
                session.add(models.TrialIntermediateValueModel(
                    trial_id=trial.trial_id, step=step, intermediate_value=stored,
                    intermediate_value_type=kind))
            for key, value in completion.user_attrs.items():
                session.add(models.TrialUserAttributeModel(
                    trial_id=trial.trial_id, key=key, value_json=json.dumps(value)))
            stored_value, value_type = models.TrialValueModel.value_to_stored_repr(
                completion.value)
            session.add(models.TrialValueModel(
                trial_id=trial.trial_id, objective=0, value=stored_value, value_type=value_type))
            trial.state = TrialState.COMPLETE
            trial.datetime_complete = now
        for table, rows in extra_rows:
            kept = [row for row in rows if row["trial_id"] in done]
            if kept:
                session.execute(table.delete().where(table.c.trial_id.in_(done)))
                session.execute(table.insert(), kept)
        return done


def study_list_index(
    storage: optuna.storages.RDBStorage, study: int, key: str, value: Any
) -> int:
    """The position of ``value`` in the list held by the study user attr ``key``; appended
    first if absent, in one transaction with the study row locked (two workers never append
    at once)."""
    from optuna.storages._rdb import models

    with _transaction(storage) as session:
        models.StudyModel.find_or_raise_by_id(study, session, for_update=True)
        attr = session.query(models.StudyUserAttributeModel).filter_by(
            study_id=study, key=key).one_or_none()
        stored = [] if attr is None else json.loads(str(attr.value_json))
        if value in stored:
            return int(stored.index(value))
        stored.append(value)
        if attr is None:
            session.add(models.StudyUserAttributeModel(
                study_id=study, key=key, value_json=json.dumps(stored)))
        else:
            attr.value_json = json.dumps(stored)
        return len(stored) - 1
