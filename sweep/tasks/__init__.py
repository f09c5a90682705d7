"""Task registry: add a task by registering a :class:`Task`; the sweep machinery needs no change."""

from __future__ import annotations

import difflib

from ..exceptions import ConfigError
from ._base import Dataset, Task
from .circles import CIRCLES
from .digits_cnn import DIGITS_CNN
from .sequence_lstm import SEQUENCE_LSTM

__all__ = ["Dataset", "Task", "get_task", "register_task", "task_names"]

_REGISTRY: dict[str, Task] = {}


def register_task(task: Task) -> None:
    _REGISTRY[task.name] = task


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown task {name!r}{hint}; choose one of: {', '.join(task_names())}"
        ) from None


register_task(CIRCLES)
register_task(DIGITS_CNN)
register_task(SEQUENCE_LSTM)
