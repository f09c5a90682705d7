"""Sweep settings: defaults < TOML config file < command-line flags, validated before any I/O.

A config file holds top-level keys with the same names as the fields of :class:`SweepConfig`
(``rates``, ``placements``, ``max_norms``, ``seeds``, ``epochs`` ...). Unknown keys are errors.
``SweepConfig(...)`` built in Python is parsed and checked the same way (each value by
:mod:`sweep.values`), so a config object is valid wherever it comes from.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .engines import check_engine_name
from .exceptions import ConfigError
from .files import DIRECTORY, MISSING, REGULAR, what_is
from .grid import Cell, Group, expand, grid_groups, normalize_rate
from .racing import RaceSettings
from .ranking import check_ranking
from .tasks import Task, get_task
from .tasks.tabular import OPTIONS as TABULAR_OPTIONS
from .tasks.tabular import is_tabular, tabular_reference
from .values import AUTO, DEFAULT_MC_PASSES, PARSERS, check_study_name

DEFAULT_RATES = tuple(normalize_rate(r / 10) for r in range(10))
DEFAULT_SEEDS = tuple(range(10))
NOT_NONE = ("task", "rates", "seeds", "mc_passes", "heartbeat_seconds", "workers", "allow_large")
"""Settings that have a value always: ``None`` is refused, not taken for the default (a
``heartbeat_seconds`` of None would switch off the recovery of a dead worker's cells)."""


@dataclass(frozen=True)
class SweepConfig:
    """One sweep, fully resolved and checked. ``storage=None`` means
    ``sqlite:///studies/<study>.db``; empty ``placements`` or ``max_norms`` mean the task's
    own (all its placements; its default max-norms); ``study=None`` means ``tutorial`` for the
    circles task and the task's name for any other (``-race`` appended for ``seeds="auto"``).
    ``task`` is a built-in task's name, a ``.py`` file that defines ``TASK``, or
    ``package.module:attribute``, or ``tabular`` with ``data`` (a table file) and ``target``
    (its column), optionally ``hidden_units``, ``target_kind`` and ``split_column``
    (:mod:`sweep.tasks.tabular`); ``task`` then becomes that table's reference. Values may be
    given in any form the TOML file accepts (``rates="0:0.9:0.1"``, ``seeds=5``,
    ``max_norms=[None, 3]``...). ``seeds="auto"`` races the groups over seeds
    (:mod:`sweep.racing`), bounded by ``first_seeds`` and ``max_seeds``, at ``alpha`` with ties
    within ``margin``; those four are errors with a fixed list of seeds. ``confirm`` retrains
    the best dropout group and its no-dropout baseline on that many fresh seeds after the
    sweep (0: none; ``None``: :func:`sweep.confirming.default_confirm`'s rule)."""

    study: str | None = None
    storage: str | None = None
    task: str = "circles"
    data: str | None = None
    target: str | None = None
    hidden_units: tuple[int, ...] | None = None
    target_kind: str | None = None
    split_column: str | None = None
    engine: str | None = None
    rates: tuple[float, ...] = DEFAULT_RATES
    placements: tuple[str, ...] = ()
    max_norms: tuple[float | None, ...] = ()
    seeds: tuple[int, ...] | str = DEFAULT_SEEDS
    first_seeds: int | None = None
    max_seeds: int | None = None
    alpha: float | None = None
    margin: float | None = None
    confirm: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    mc_passes: int = DEFAULT_MC_PASSES  # MC dropout passes per cell (0: none)
    metric: str | None = None  # a calibration figure to rank by (sweep.ranking); None: the task's
    cells_per_claim: int | None = None
    heartbeat_seconds: float = 10.0
    workers: int | str = AUTO  # a count, or one per core when worth it (sweep.budget)
    allow_large: bool = False

    def __new__(cls, *args: Any, **settings: Any) -> SweepConfig:
        check_keys(settings, "SweepConfig")  # the closest key, not a bare TypeError
        return super().__new__(cls)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in NOT_NONE:  # heartbeat_seconds=None: no recovery
                raise ConfigError(f"SweepConfig: {f.name}=None is not a value; give one or "
                                  f"leave it out (default: {f.default!r})")
            if value is None or (f.name in ("placements", "max_norms") and value == ()):
                continue
            object.__setattr__(self, f.name, PARSERS[f.name](value))
        _resolve_tabular(self)
        task = self.resolved_task
        if self.study is None:
            object.__setattr__(self, "study", _default_study(task.name, self.seeds == AUTO))
        if not self.placements:
            object.__setattr__(self, "placements", task.placements)
        if not self.max_norms:
            object.__setattr__(self, "max_norms", task.default_max_norms)
        validate(self)

    @property
    def resolved_task(self) -> Task:
        """The task ``task`` names, resolved once per config and kept by :meth:`replace`: a
        user's file is not read again by each check and step of a run. Not a field."""
        held = self.__dict__.get("_task")
        if held is None or held[0] != self.task:
            object.__setattr__(self, "_task", held := (self.task, get_task(self.task)))
        return held[1]

    def replace(self, **changes: Any) -> SweepConfig:
        """:func:`dataclasses.replace`, checked the same way, keeping the resolved task."""
        check_keys(changes, "SweepConfig.replace")
        copy = object.__new__(SweepConfig)
        copy.__dict__.update(self.__dict__, **changes)
        copy.__post_init__()
        return copy

    def __getstate__(self) -> dict[str, Any]:  # for workers: a user's task need not pickle
        return {k: v for k, v in self.__dict__.items() if k != "_task"}

    @property
    def study_name(self) -> str:
        assert self.study is not None  # resolved in __post_init__
        return self.study

    @property
    def storage_url(self) -> str:
        return self.storage or default_storage_url(self.study_name)

    @property
    def uses_default_storage(self) -> bool:
        return self.storage is None or self.storage == default_storage_url(self.study_name)

    @property
    def resolved_engine(self) -> str:
        """The engine asked for, else the task's default (its first supported engine)."""
        return self.engine or self.resolved_task.default_engine

    @property
    def resolved_epochs(self) -> int:
        return self.epochs if self.epochs is not None else self.resolved_task.epochs

    @property
    def resolved_batch_size(self) -> int:
        return self.batch_size if self.batch_size is not None else self.resolved_task.batch_size

    @property
    def race(self) -> RaceSettings | None:
        """The race's settings for ``seeds = "auto"`` (``None``: a fixed list of seeds)."""
        if self.seeds != AUTO:
            return None
        defaults = RaceSettings()
        return RaceSettings(
            n0=defaults.n0 if self.first_seeds is None else self.first_seeds,
            max_seeds=defaults.max_seeds if self.max_seeds is None else self.max_seeds,
            alpha=defaults.alpha if self.alpha is None else self.alpha,
            margin=defaults.margin if self.margin is None else self.margin,
        )

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds every group gets: the fixed list, or a race's first round's."""
        race = self.race
        return tuple(range(race.n0)) if race is not None else self._fixed_seeds

    @property
    def most_seeds(self) -> tuple[int, ...]:
        """The most seeds a group can get (a race's ``max_seeds``): what bounds the work."""
        race = self.race
        return tuple(range(race.max_seeds)) if race is not None else self._fixed_seeds

    @property
    def _fixed_seeds(self) -> tuple[int, ...]:
        assert not isinstance(self.seeds, str)  # "auto" is a race
        return self.seeds

    def cells(self) -> list[Cell]:
        """The grid's cells; for a race, its first round's (every group's first seeds)."""
        return expand(self.rates, self.placements, self.max_norms, self.seed_list)

    def groups(self) -> list[Group]:
        return grid_groups(self.rates, self.placements, self.max_norms)


KEYS = tuple(f.name for f in fields(SweepConfig))


def check_keys(keys: Any, where: str) -> None:
    """Every key a setting's name (:data:`KEYS`), else one line with the closest one."""
    for key in keys:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown key {key!r}{hint} (valid keys: "
                              f"{', '.join(KEYS)})")


def _resolve_tabular(config: SweepConfig) -> None:
    """``task="tabular"`` and its options become the table's task reference; the options are
    errors with any other task."""
    given = [name for name in TABULAR_OPTIONS if getattr(config, name) is not None]
    if config.task == "tabular":
        reference = tabular_reference(config.data, config.target, config.hidden_units,
                                      config.target_kind, config.split_column)
        object.__setattr__(config, "task", reference)
    elif given and not is_tabular(config.task):
        raise ConfigError(f"{given[0]}: only the tabular task reads a table; use --task tabular "
                          f"--data FILE --target COLUMN, or drop {given[0]}")


def _default_study(task: str, race: bool = False) -> str:
    """``tutorial`` for the circles task, else the task's name (it must make a valid study
    name, else the user gives one); a race's (``seeds = "auto"``) gets ``-race`` after it, so
    it never meets the fixed sweep's study."""
    suffix = "-race" if race else ""
    if task == "circles":
        return "tutorial" + suffix
    try:
        return check_study_name(task + suffix)
    except ConfigError:
        raise ConfigError(f"study: the task's name {task!r} is not a valid study name; give "
                          "--study NAME") from None


def default_storage_url(study: str) -> str:
    return f"sqlite:///studies/{study}.db"


# ---- layering ---------------------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file's settings, with unknown keys reported by name and closest valid key."""
    kind = what_is(path)
    if kind not in (REGULAR, MISSING, DIRECTORY):  # a FIFO would block the read
        raise ConfigError(f"config file {str(path)!r} {kind}, not a regular file; give a "
                          ".toml file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a directory; give a .toml file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text (byte {e.start}); "
                          "save it as UTF-8") from e
    except OSError as e:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {e.strerror}") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {e}; fix the syntax"
                          ) from e
    check_keys(data, f"config file {str(path)!r}")
    if "study" not in data:
        try:
            data["study"] = check_study_name(path.stem)
        except ConfigError:
            raise ConfigError(
                f"config file {str(path)!r}: its name {path.stem!r} is not a valid study name; "
                "set study = \"...\" in the file or pass --study NAME"
            ) from None
    return data


def build_config(
    file_settings: Mapping[str, Any] | None = None, flags: Mapping[str, Any] | None = None
) -> SweepConfig:
    """Defaults < config file < flags (flags whose value is ``None`` are not given)."""
    raw: dict[str, Any] = dict(file_settings or {})
    raw.update({k: v for k, v in (flags or {}).items() if v is not None})
    return SweepConfig(**raw)


def validate(config: SweepConfig) -> None:
    """What no single value shows: the engine, placements and max-norms against the task."""
    task = config.resolved_task
    if config.engine is not None:
        check_engine_name(config.engine)
        if task.engines and config.engine not in task.engines:
            raise ConfigError(
                f"engine: {config.engine!r} cannot train task {task.name!r}; "
                f"use one of: {', '.join(task.engines)}")
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
    check_ranking(task, config.metric, config.mc_passes)
    _validate_race(config)


RACE_KEYS = ("first_seeds", "max_seeds", "alpha", "margin")


def _validate_race(config: SweepConfig) -> None:
    race = config.race
    if race is None:
        given = [key for key in RACE_KEYS if getattr(config, key) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ConfigError(
                f"{given[0]}: {flag} sets a race over seeds, but seeds is a fixed list; add "
                f"--seeds auto (TOML: seeds = \"auto\") or drop {flag}")
        return
    if race.max_seeds < race.n0:
        raise ConfigError(
            f"max_seeds: {race.max_seeds} is below the race's first seeds per group "
            f"({race.n0}); give --max-seeds {race.n0} or more, or fewer --first-seeds")
    if len(config.groups()) < 2:
        raise ConfigError("seeds: a race needs at least two groups to compare; add rates, "
                          "placements or max-norms, or give a fixed --seeds count")

