"""Every use of Optuna's private internals, in this one package, checked before anything is
written.

Optuna's public API costs one transaction per call (a claim, each param, each intermediate
value, each user attribute, the final tell): about 265 ms per recorded trial on SQLite here,
as long as a population engine takes to train it. The writers here do the state changes of
``Study._pop_waiting_trial_id`` (WAITING -> RUNNING only if still WAITING), ``Trial.suggest_*``,
``Trial.report``, ``Trial.set_user_attr`` and ``Study.tell`` for a whole batch in one
transaction, through Optuna's own models (``optuna.storages._rdb.models``); on PostgreSQL and
MySQL a claim locks rows with ``SKIP LOCKED``, so concurrent workers get disjoint batches. The
readers are plain SQL on Optuna's tables; ``Study._study_id`` and ``FrozenTrial._trial_id``
name rows.

All of it depends on Optuna's RDB schema (unchanged from Optuna 3 to 5), so a storage opened
for writing is checked first (:func:`check_compatible`): the installed Optuna must be within
:data:`OPTUNA_PIN` (pyproject's pin; a test keeps them equal) and the tables and columns of the
models used must be in the database as declared. Otherwise one line
(:class:`~sweep.exceptions.OptunaCompatibilityError`, exit 2) names what differs and the fix,
and nothing is written.
"""

from .check import (
    OPTUNA_MAJORS,
    OPTUNA_PIN,
    being_created,
    check_compatible,
    check_version,
    holds_studies,
    schema_differences,
)
from .read import read_trials, running_heartbeats, study_id, trial_id
from .write import beat, claim_waiting, complete, enqueue, study_list_index

__all__ = [
    "OPTUNA_MAJORS", "OPTUNA_PIN", "beat", "check_compatible", "check_version", "claim_waiting",
    "being_created", "complete", "enqueue", "holds_studies", "read_trials", "running_heartbeats",
    "schema_differences", "study_id", "study_list_index", "trial_id",
]
