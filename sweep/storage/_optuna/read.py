"""Plain SQL reads of Optuna's tables, and the private attributes that name their rows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..schema import FIXED_PARAMS, StoredTrial

if TYPE_CHECKING:
    import optuna
    import sqlalchemy


def study_id(study: optuna.Study) -> int:
    """The storage's id of a study (the row of ``studies``; optuna-dashboard's URLs use it)."""
    return int(study._study_id)


def trial_id(trial: optuna.trial.FrozenTrial) -> int:
    """The storage's id of a trial (the row of ``trials``; sweep's curves use it)."""
    return int(trial._trial_id)


_QUERIES = {
    "trials": "SELECT t.trial_id, t.number, t.state FROM trials t WHERE t.study_id = :study",
    "params": "SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json "
              "FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id "
              "WHERE t.study_id = :study",
    "values": "SELECT v.trial_id, v.value, v.value_type FROM trial_values v "
              "JOIN trials t ON t.trial_id = v.trial_id "
              "WHERE t.study_id = :study AND v.objective = 0",
    "user_attrs": "SELECT a.trial_id, a.key, a.value_json FROM trial_user_attributes a "
                  "JOIN trials t ON t.trial_id = a.trial_id WHERE t.study_id = :study",
    "fixed_params": "SELECT a.trial_id, a.value_json FROM trial_system_attributes a "
                    "JOIN trials t ON t.trial_id = a.trial_id "
                    f"WHERE t.study_id = :study AND a.key = '{FIXED_PARAMS}'",
}
_INFINITE = {"INF_POS": float("inf"), "INF_NEG": float("-inf")}


def read_trials(engine: sqlalchemy.engine.Engine, study: int) -> list[StoredTrial]:
    """A study's trials in one read transaction (a consistent snapshot of a running sweep),
    one plain query per table, by number; no intermediate values (the report needs none)."""
    import sqlalchemy as sa
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState

    with engine.connect() as connection, connection.begin():
        rows = {name: connection.execute(sa.text(sql), {"study": study}).all()
                for name, sql in _QUERIES.items()}
    trials = {tid: StoredTrial(tid, number, TrialState[state].name)
              for tid, number, state in rows["trials"]}
    distributions: dict[str, Any] = {}
    for tid, name, value, dist_json in rows["params"]:
        if dist_json not in distributions:
            distributions[dist_json] = json_to_distribution(dist_json)
        trials[tid].params[name] = distributions[dist_json].to_external_repr(value)
    for tid, value, value_type in rows["values"]:
        trials[tid].value = _INFINITE.get(value_type, value)
    for tid, key, value_json in rows["user_attrs"]:
        trials[tid].user_attrs[key] = json.loads(value_json)
    for tid, value_json in rows["fixed_params"]:
        trials[tid].fixed_params = json.loads(value_json)
    for trial in trials.values():
        if trial.state != "COMPLETE":
            trial.value = None
    return sorted(trials.values(), key=lambda t: t.number)


def running_heartbeats(
    engine: sqlalchemy.engine.Engine, study: int
) -> tuple[datetime, list[tuple[int, datetime]]]:
    """The database's clock now, and (trial id, last heartbeat) of each RUNNING trial that has
    heartbeats (the clock Optuna's ``fail_stale_trials`` judges them by)."""
    import sqlalchemy as sa

    query = sa.text(
        "SELECT h.trial_id, h.heartbeat FROM trial_heartbeats h JOIN trials t "
        "ON t.trial_id = h.trial_id WHERE t.study_id = :study AND t.state = 'RUNNING'"
    ).columns(trial_id=sa.Integer, heartbeat=sa.DateTime)
    with engine.connect() as connection:
        now = connection.execute(sa.select(sa.func.current_timestamp())).scalar_one()
        rows = connection.execute(query, {"study": study}).all()
    return now, [(int(tid), beat) for tid, beat in rows]
