"""Engine registry. Engines are imported lazily so ``--help`` never loads TensorFlow."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Sequence

from ..exceptions import ConfigError, NotStackableError
from ..tasks import Task
from ._base import (
    NO_CONTROL,
    CellResult,
    Curves,
    Engine,
    TrainControl,
    TrainSettings,
    train_all,
)

__all__ = [
    "NO_CONTROL", "CellResult", "Curves", "Engine", "TrainControl", "TrainSettings",
    "engine_names", "get_engine", "pick_engine", "train_all",
]

_ENGINES: dict[str, tuple[str, str]] = {
    "keras": ("sweep.engines.keras_fit", "KerasFitEngine"),
    "population": ("sweep.engines.population", "PopulationEngine"),
}


def engine_names() -> list[str]:
    return sorted(_ENGINES)


def check_engine_name(name: str) -> None:
    if name not in _ENGINES:
        close = difflib.get_close_matches(name, _ENGINES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown engine {name!r}{hint}; choose one of: {', '.join(engine_names())}"
        )


def get_engine(name: str) -> Engine:
    check_engine_name(name)
    module_name, class_name = _ENGINES[name]
    engine: Engine = getattr(importlib.import_module(module_name), class_name)()
    return engine


def pick_engine(task: Task, settings: TrainSettings, asked: str | None,
                placements: Sequence[str] | None) -> tuple[Engine, str | None]:
    """The engine to train ``task`` with, checked (:class:`ConfigError` before any write), and a
    notice when it was chosen for the user: the one asked for, else the task's first engine;
    a task that names no engines gets the population engine where its model stacks (a
    chain of layers it stacks), else the Keras engine, with a notice naming what the
    population engine cannot stack and saying that model.fit is training it."""
    name = asked or (task.engines[0] if task.engines else None)
    if name is not None:
        engine = get_engine(name)
        engine.check(task, settings, placements)
        return engine, None
    population = get_engine("population")
    try:
        population.check(task, settings, placements)
    except ConfigError as e:
        if not isinstance(e.__cause__, NotStackableError):
            raise  # the task's data or settings: the Keras engine would not train them either
        keras = get_engine("keras")
        keras.check(task, settings, placements)
        return keras, f"{e.__cause__.reason}; model.fit (the Keras engine) is training it"
    return population, None
