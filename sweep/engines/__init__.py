"""Engine registry. Engines are imported lazily so ``--help`` never loads TensorFlow."""

from __future__ import annotations

import difflib
import importlib

from ..exceptions import ConfigError
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
    "engine_names", "get_engine", "train_all",
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
