"""Tasks: the :class:`Task` contract, the registry of built-in tasks, and loading a user's task
from a ``.py`` file or ``package.module:attribute`` (:mod:`sweep.tasks.loading`); the sweep
machinery needs no change for either."""

from __future__ import annotations

from ._base import Dataset, Task
from .checks import TaskFacts, check_first_cell, described_task, task_facts
from .circles import CIRCLES
from .digits_cnn import DIGITS_CNN
from .loading import fingerprint, is_reference, load_task
from .sequence_lstm import SEQUENCE_LSTM
from .text_gru import TEXT_GRU

__all__ = [
    "Dataset", "Task", "TaskFacts", "check_first_cell", "described_task", "fingerprint",
    "get_task", "is_reference", "register_task", "task_facts", "task_names",
]

_REGISTRY: dict[str, Task] = {}


def register_task(task: Task) -> None:
    _REGISTRY[task.name] = task


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def get_task(reference: str) -> Task:
    """A built-in task by name, or a user's: ``path/to/file.py`` (its ``TASK``) or
    ``package.module:attribute``."""
    return load_task(reference, _REGISTRY)


register_task(CIRCLES)
register_task(DIGITS_CNN)
register_task(SEQUENCE_LSTM)
register_task(TEXT_GRU)
