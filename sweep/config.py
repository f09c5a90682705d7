"""Sweep settings: defaults < TOML config file < command-line flags, validated before any I/O.

A config file holds top-level keys with the same names as the fields of :class:`SweepConfig`
(``rates``, ``placements``, ``max_norms``, ``seeds``, ``epochs`` ...). Unknown keys are errors.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .engines import check_engine_name
from .exceptions import ConfigError
from .grid import Cell, expand, normalize_rate
from .tasks import get_task
from .tasks.circles import CIRCLES

DEFAULT_RATES = tuple(normalize_rate(r / 10) for r in range(10))
DEFAULT_SEEDS = tuple(range(10))
MAX_NORM_LIMIT = 1000.0


@dataclass(frozen=True)
class SweepConfig:
    """One sweep, fully resolved. ``storage=None`` means ``sqlite:///studies/<study>.db``."""

    study: str = "tutorial"
    storage: str | None = None
    task: str = "circles"
    engine: str | None = None
    rates: tuple[float, ...] = DEFAULT_RATES
    placements: tuple[str, ...] = CIRCLES.placements
    max_norms: tuple[float | None, ...] = CIRCLES.default_max_norms
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    epochs: int | None = None
    batch_size: int | None = None
    cells_per_claim: int | None = None
    heartbeat_seconds: float = 10.0
    workers: int = 1

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///studies/{self.study}.db"

    @property
    def resolved_engine(self) -> str:
        """The engine asked for, else the task's default (its first supported engine)."""
        return self.engine or get_task(self.task).engines[0]

    @property
    def resolved_epochs(self) -> int:
        return self.epochs if self.epochs is not None else get_task(self.task).default_epochs

    @property
    def resolved_batch_size(self) -> int:
        return self.batch_size if self.batch_size is not None else get_task(self.task).batch_size

    def cells(self) -> list[Cell]:
        return expand(self.rates, self.placements, self.max_norms, self.seeds)


KEYS = tuple(f.name for f in fields(SweepConfig))


# ---- parsing: each accepts the TOML value or the CLI string ---------------------------------


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _number(text: Any, what: str) -> float:
    if isinstance(text, bool):
        raise ConfigError(f"{what}: {text!r} is not a number")
    try:
        number = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{what}: {text!r} is not a finite number")
    return number


def parse_rates(value: Any) -> tuple[float, ...]:
    """A list, a comma list ``0,0.4`` or an inclusive range ``start:stop:step``."""
    if isinstance(value, str) and ":" in value:
        parts = value.split(":")
        if len(parts) != 3:
            raise ConfigError(f"rates: {value!r} is not start:stop:step (e.g. 0:0.9:0.1)")
        start, stop, step = (_number(p, "rates") for p in parts)
        if step <= 0:
            raise ConfigError(f"rates: step in {value!r} must be > 0 (e.g. 0:0.9:0.1)")
        count = math.floor((stop - start) / step + 1e-9) + 1
        rates = [start + i * step for i in range(max(count, 0))]
    elif isinstance(value, str):
        rates = [_number(p, "rates") for p in _split(value)]
    elif isinstance(value, list | tuple):
        rates = [_number(p, "rates") for p in value]
    else:
        rates = [_number(value, "rates")]
    if not rates:
        raise ConfigError("rates: no rates given; give e.g. 0,0.4 or 0:0.9:0.1")
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ConfigError(
                f"rates: {rate:g} is outside [0, 1); a dropout rate is the probability of "
                "dropping a unit, e.g. 0.4"
            )
    return tuple(dict.fromkeys(normalize_rate(r) for r in rates))


def parse_placements(value: Any) -> tuple[str, ...]:
    items = _split(value) if isinstance(value, str) else list(value)
    if not items or not all(isinstance(p, str) for p in items):
        raise ConfigError("placements: give a list of names, e.g. input,hidden,both")
    return tuple(dict.fromkeys(items))


def parse_max_norms(value: Any) -> tuple[float | None, ...]:
    """Numbers and ``none`` (no constraint), e.g. ``none,1,3``."""
    items = _split(value) if isinstance(value, str) else list(value)
    if not items:
        raise ConfigError("max_norms: none given; give e.g. none,1,3")
    norms: list[float | None] = []
    for item in items:
        if isinstance(item, str) and item.strip().lower() == "none":
            norms.append(None)
            continue
        norm = _number(item, "max_norms")
        if not 0 < norm <= MAX_NORM_LIMIT:
            raise ConfigError(
                f"max_norms: {norm:g} must be > 0 and <= {MAX_NORM_LIMIT:g} "
                "(use 'none' for no constraint)"
            )
        norms.append(norm)
    return tuple(dict.fromkeys(norms))


def parse_seeds(value: Any) -> tuple[int, ...]:
    """A count N (seeds 0..N-1), or a list of seeds (``0,1,7`` or ``[0, 1, 7]``)."""
    if isinstance(value, str):
        items: list[Any] = _split(value)
        if len(items) == 1 and "," not in value:
            value = items[0]
            items = []
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = []
    if not items:
        count = _integer(value, "seeds")
        if count <= 0:
            raise ConfigError(f"seeds: count {count} must be >= 1 (e.g. --seeds 10)")
        return tuple(range(count))
    seeds = [_integer(s, "seeds") for s in items]
    for seed in seeds:
        if seed < 0:
            raise ConfigError(f"seeds: {seed} is negative; seeds must be >= 0")
    return tuple(dict.fromkeys(seeds))


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what}: {value!r} is not a whole number")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a whole number") from None


def _positive_int(value: Any, what: str, example: str) -> int:
    number = _integer(value, what)
    if number <= 0:
        raise ConfigError(f"{what}: {number} must be >= 1 (e.g. {example})")
    return number


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what}: give a non-empty name")
    return value.strip()


_PARSERS: dict[str, Any] = {
    "study": lambda v: _name(v, "study"),
    "storage": lambda v: _name(v, "storage"),
    "task": lambda v: _name(v, "task"),
    "engine": lambda v: _name(v, "engine"),
    "rates": parse_rates,
    "placements": parse_placements,
    "max_norms": parse_max_norms,
    "seeds": parse_seeds,
    "epochs": lambda v: _positive_int(v, "epochs", "--epochs 4000"),
    "batch_size": lambda v: _positive_int(v, "batch_size", "--batch-size 32"),
    "cells_per_claim": lambda v: _positive_int(v, "cells_per_claim", "--cells-per-claim 64"),
    "heartbeat_seconds": lambda v: _number(v, "heartbeat_seconds"),
    "workers": lambda v: _positive_int(v, "workers", "--workers 2"),
}


# ---- layering ---------------------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file's settings, with unknown keys reported by name and closest valid key."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; check the path") from None
    except OSError as e:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {e.strerror}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(
            f"config file {str(path)!r} is not valid TOML: {e}; fix the syntax"
        ) from e
    for key in data:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"config file {str(path)!r}: unknown key {key!r}{hint} "
                f"(valid keys: {', '.join(KEYS)})"
            )
    data.setdefault("study", path.stem)
    return data


def build_config(
    file_settings: Mapping[str, Any] | None = None, flags: Mapping[str, Any] | None = None
) -> SweepConfig:
    """Defaults < config file < flags (flags whose value is ``None`` are not given)."""
    raw: dict[str, Any] = dict(file_settings or {})
    raw.update({k: v for k, v in (flags or {}).items() if v is not None})
    parsed = {key: _PARSERS[key](value) for key, value in raw.items()}
    task = get_task(parsed.get("task", SweepConfig.task))
    parsed.setdefault("placements", task.placements)
    parsed.setdefault("max_norms", task.default_max_norms)
    config = replace(SweepConfig(), **parsed)
    validate(config)
    return config


def validate(config: SweepConfig) -> None:
    task = get_task(config.task)
    if config.engine is not None:
        check_engine_name(config.engine)
        if config.engine not in task.engines:
            raise ConfigError(
                f"engine: {config.engine!r} cannot train task {task.name!r}; "
                f"use one of: {', '.join(task.engines)}"
            )
    for placement in config.placements:
        if placement not in task.placements:
            close = difflib.get_close_matches(placement, task.placements, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"placements: {placement!r} is not a placement of task {task.name!r}{hint}; "
                f"valid: {', '.join(task.placements)}"
            )
    if not task.supports_max_norm and any(n is not None for n in config.max_norms):
        raise ConfigError(f"max_norms: task {task.name!r} has no max-norm; use max_norms none")
    if config.heartbeat_seconds < 1:
        raise ConfigError("heartbeat_seconds: must be >= 1")
