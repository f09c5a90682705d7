"""A study's fixed settings: comparing a run's with the stored ones, pinning them, and finding
the study's task again from its stored reference (a user's task: checked against its
fingerprint; a reader never runs the user's code).

What the settings hold is declared in :mod:`sweep.storage.schema` (:data:`SETTINGS_ATTR`) and
:meth:`sweep.tasks.Task.fixed_settings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..exceptions import IncompatibleStudyError
from ..objective import LEGACY, UNIT_KEY
from . import _optuna
from .opening import Access
from .schema import FAIL_REASON_ATTR, MC_PASSES_KEY, SETTINGS_ATTR

if TYPE_CHECKING:
    import optuna

    from ..tasks import Task


def name_metric(study: optuna.Study, label: str) -> None:
    """Name the objective (optuna-dashboard shows it on every value axis and table)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # set_metric_names is marked experimental
        study.set_metric_names([label])


def stored_task(stored: dict[str, Any], access: Access) -> Task:
    """The study's task, found again from its stored reference. A reader never runs a user's
    code (it gets the task as described in the settings); a worker loads it and is refused if
    it changed since the study was created."""
    from ..tasks import described_task, get_task, is_reference, task_facts

    reference = str(stored["task"])
    if access in ("read", "annotate") and is_reference(reference):
        return described_task(stored)
    task = get_task(reference)
    if "task_fingerprint" in stored:
        now = {**stored, "task_fingerprint": task_facts(task).fingerprint}
        if (message := changed_task("this study", stored, now)) is not None:
            raise IncompatibleStudyError(message)
    return task


def changed_task(study: str, stored: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """One line when the same user task reference now has other source or data shapes."""
    before, after = stored.get("task_fingerprint"), wanted.get("task_fingerprint")
    if stored.get("task") != wanted.get("task") or before is None or before == after:
        return None
    name = study if study == "this study" else f"study {study!r}"
    return (f"task {stored['task']!r} changed since {name} was created (its source file or "
            f"its data shapes differ: fingerprint {before} there, {after} here); restore the "
            "file the study was made with, or sweep the changed task as a new --study")


def settings_diff(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """One entry per setting that differs. A study from before sweep stored the metric's unit
    (:data:`~sweep.objective.UNIT_KEY`) lacks it: that is no difference (its values stay
    labelled without the unit); nor is a study from before MC dropout's figures
    (:data:`~sweep.storage.schema.MC_PASSES_KEY`), whose cells go on recording none."""
    stored = {**LEGACY, **stored}  # studies from before sweep stored an objective
    keys = sorted((set(stored) | set(wanted)) - ({UNIT_KEY, MC_PASSES_KEY} - set(stored)))
    return [
        f"{k}: study has {stored.get(k)!r}, this run has {wanted.get(k)!r}"
        for k in keys
        if stored.get(k) != wanted.get(k)
    ]


def pinned(study: optuna.Study) -> bool:
    """True once a cell of the study completed or runs: its settings are then fixed."""
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)))


def repin(
    study: optuna.Study, storage: optuna.storages.RDBStorage, settings: dict[str, Any]
) -> None:
    """Give an unpinned study new settings; its waiting trials (queued under the old ones)
    are failed as superseded, and the run enqueues its own cells again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        storage.set_trial_user_attr(_optuna.trial_id(trial), FAIL_REASON_ATTR,
                                    "superseded: the study's settings changed")
        storage.set_trial_state_values(_optuna.trial_id(trial), state=TrialState.FAIL)
    study.set_user_attr(SETTINGS_ATTR, settings)
