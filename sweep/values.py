"""One setting's value, from a command-line string or a TOML value, parsed and checked.

Every parser takes what a user can write (``"0,0.4"``, ``"0:0.9:0.1"``, ``[0, 0.4]``, ``0.4``)
and what it returns itself (so parsing is idempotent), and raises :class:`ConfigError` with one
line naming the setting, the problem and the fix. The bounds keep every run's work finite and
every value acceptable to numpy, TensorFlow, Keras and Optuna alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from . import _parsing as parse
from .exceptions import ConfigError
from .grid import CONFIRM_SEED_BASE, normalize_rate

MAX_NORM_LIMIT = 1000.0
MAX_RATES = 1000
MAX_LISTED = 1000
"""At most this many rates, max-norms or seeds in one list (a range of rates too)."""
MAX_SEED = 2**31 - 1
"""The largest seed: numpy's, TensorFlow's and Keras' seeding all accept it, and it is the upper
bound of the study's ``seed`` distribution, so both engines see every seed alike."""
MAX_SEED_COUNT = 100_000
MAX_EPOCHS = 1_000_000
"""Learning curves are kept per epoch (16 bytes per epoch and cell), so epochs are bounded."""
MAX_CELLS_PER_CLAIM = 4096
HEARTBEAT_RANGE = (1.0, 3600.0)
STUDY_NAME_MAX = 100
_STUDY_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _rate_range(value: str) -> list[float]:
    parts = value.split(":")
    if len(parts) != 3:
        raise ConfigError(f"rates: {value!r} is not start:stop:step (e.g. 0:0.9:0.1)")
    start, stop, step = (parse.number(p, "rates") for p in parts)
    if step <= 0:
        raise ConfigError(f"rates: step in {value!r} must be > 0 (e.g. 0:0.9:0.1)")
    if stop < start:
        raise ConfigError(
            f"rates: the range {value!r} is reversed (start {start:g} > stop {stop:g}); "
            f"write {stop:g}:{start:g}:{step:g}"
        )
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_RATES:
        raise ConfigError(
            f"rates: {value!r} gives {count:,} rates, more than {MAX_RATES:,}; use a larger step"
        )
    return [start + i * step for i in range(count)]


def parse_rates(value: Any) -> tuple[float, ...]:
    """A list, a comma list ``0,0.4`` or an inclusive range ``start:stop:step``.

    Rates are kept to 6 decimals (so ``0:0.9:0.1`` gives stable keys); a rate must stay inside
    [0, 1) and a non-zero rate must stay non-zero after that rounding.
    """
    if isinstance(value, str) and ":" in value:
        rates = _rate_range(value)
    else:
        rates = [parse.number(p, "rates") for p in parse.items(value)]
    if not rates:
        raise ConfigError("rates: no rates given; give e.g. 0,0.4 or 0:0.9:0.1")
    parse.check_count(rates, "rates", MAX_RATES)
    normalized = []
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ConfigError(
                f"rates: {rate:g} is outside [0, 1); a dropout rate is the probability of "
                "dropping a unit, e.g. 0.4"
            )
        kept = normalize_rate(rate)
        if kept >= 1.0:
            raise ConfigError(
                f"rates: {rate!r} rounds to 1 (rates are kept to 6 decimals); use at most 0.999999"
            )
        if rate > 0 and kept == 0.0:
            raise ConfigError(
                f"rates: {rate!r} rounds to 0 (rates are kept to 6 decimals); use 0 for no "
                "dropout or at least 0.000001"
            )
        normalized.append(kept)
    return tuple(dict.fromkeys(normalized))


def parse_placements(value: Any) -> tuple[str, ...]:
    items = parse.items(value)
    if not items or not all(isinstance(p, str) and p for p in items):
        raise ConfigError(
            f"placements: {value!r} is not a list of names; give e.g. input,hidden,both "
            '(TOML: placements = ["input", "hidden"])'
        )
    return tuple(dict.fromkeys(items))


def parse_max_norms(value: Any) -> tuple[float | None, ...]:
    """Numbers and ``none`` (no constraint), e.g. ``none,1,3``; one number alone is a list."""
    items = parse.items(value)
    if not items:
        raise ConfigError("max_norms: none given; give e.g. none,1,3")
    parse.check_count(items, "max_norms", MAX_LISTED)
    norms: list[float | None] = []
    for item in items:
        if item is None or (isinstance(item, str) and item.strip().lower() == "none"):
            norms.append(None)
            continue
        norm = parse.number(item, "max_norms")
        if not 0 < norm <= MAX_NORM_LIMIT:
            raise ConfigError(
                f"max_norms: {norm:g} must be > 0 and <= {MAX_NORM_LIMIT:g} "
                "(use 'none' for no constraint)"
            )
        norms.append(norm)
    return tuple(dict.fromkeys(norms))


AUTO = "auto"
"""``seeds = "auto"``: race the groups over seeds (:mod:`sweep.racing`) instead of a fixed list."""
MAX_RACE_SEEDS = 1000


def parse_seeds(value: Any) -> tuple[int, ...] | str:
    """A count N (seeds 0..N-1), a list of seeds (``0,1,7`` or ``[0, 1, 7]``), or ``auto``."""
    if isinstance(value, str) and "," not in value:
        value = value.strip()
        if value.lower() == AUTO:
            return AUTO
    if any(isinstance(item, str) and item.strip().lower() == AUTO for item in parse.items(value)):
        raise ConfigError(
            f"seeds: {value!r} mixes 'auto' with seeds; give either --seeds auto (a race: "
            "--first-seeds and --max-seeds bound it) or a count or list of seeds")
    if isinstance(value, list | tuple) or (isinstance(value, str) and "," in value):
        items = parse.items(value)
        if not items:
            raise ConfigError("seeds: no seeds given; give a count (e.g. 10) or a list (0,3,7)")
        parse.check_count(items, "seeds", MAX_SEED_COUNT)
        seeds = [parse.integer(s, "seeds") for s in items]
        for seed in seeds:
            if seed < 0:
                raise ConfigError(f"seeds: {seed} is negative; seeds must be >= 0")
            if seed > MAX_SEED:
                raise ConfigError(
                    f"seeds: {seed} is above {MAX_SEED} (2^31 - 1), the largest seed numpy, "
                    "TensorFlow and the study's seed distribution all accept"
                )
            if seed >= CONFIRM_SEED_BASE:
                raise ConfigError(
                    f"seeds: {seed} is a confirmation seed (from {CONFIRM_SEED_BASE:,} up, kept "
                    "for retraining the best group on fresh seeds); give seeds below it")
        return tuple(dict.fromkeys(seeds))
    count = parse.bounded_int(value, "seeds", MAX_SEED_COUNT, "--seeds 10", why=(
        " seeds per group; give a smaller count (10-50 seeds already resolve differences of "
        "a point or two)"))
    return tuple(range(count))


def _margin(value: Any) -> float:
    number = parse.number(value, "margin")
    if number <= 0:
        raise ConfigError(f"margin: {number:g} must be > 0, in the metric's units "
                          "(e.g. --margin 0.005: half a point of accuracy)")
    return number


def _race_seeds(value: Any, what: str, example: str) -> int:
    number = parse.bounded_int(value, what, MAX_RACE_SEEDS, example)
    if number < 2:
        raise ConfigError(f"{what}: {number} is too few for a paired test; give 2 or more "
                          f"(e.g. {example})")
    return number


MAX_CONFIRM = 1000
"""The most fresh seeds a confirmation retrains (two groups: twice as many cells)."""


def parse_confirm(value: Any) -> int:
    """Fresh seeds for the confirmation: a whole number, 0 (no confirmation) to MAX_CONFIRM."""
    number = parse.integer(value, "confirm")
    if number < 0 or number == 1:
        raise ConfigError(f"confirm: {number} fresh seeds cannot give a paired test; give 0 "
                          "(no confirmation) or 2 or more (e.g. --confirm 30)")
    if number > MAX_CONFIRM:
        raise ConfigError(f"confirm: {number:,} is more than {MAX_CONFIRM:,} fresh seeds; 30-100 "
                          "already decide differences of a fraction of the seed noise")
    return number


def _epochs(value: Any) -> int:
    return parse.bounded_int(value, "epochs", MAX_EPOCHS, "--epochs 4000", why=(
        ", the most sweep trains (learning curves are kept per epoch); use fewer epochs"))


DEFAULT_MC_PASSES = 50
MAX_MC_PASSES = 10_000


def parse_mc_passes(value: Any) -> int:
    """MC dropout passes per classification cell: 0 (none) to :data:`MAX_MC_PASSES`."""
    passes = parse.integer(value, "mc_passes")
    if passes < 0:
        raise ConfigError(f"mc_passes: {passes} must be >= 0 (0: no MC dropout figures; e.g. "
                          "--mc-passes 50)")
    return passes and parse.bounded_int(passes, "mc_passes", MAX_MC_PASSES, "--mc-passes 50")


def _heartbeat(value: Any) -> float:
    seconds = parse.number(value, "heartbeat_seconds")
    low, high = HEARTBEAT_RANGE
    if not low <= seconds <= high:
        raise ConfigError(
            f"heartbeat_seconds: {seconds:g} is outside [{low:g}, {high:g}] seconds "
            "(e.g. --heartbeat-seconds 10)"
        )
    return seconds


def parse_workers(value: Any) -> int | str:
    """``workers``: a count, or ``auto`` (one per core when the sweep is worth it, see
    :func:`sweep.budget.auto_workers`)."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    return parse.bounded_int(value, "workers", 2**31 - 1, "--workers 2 (or auto)")


def check_study_name(value: Any) -> str:
    """A study name becomes file names (``studies/<study>.db``, ``dashboards/<study>.html``):
    letters, digits, ``.``, ``_`` and ``-`` only, so the printed path is the written path."""
    if not isinstance(value, str):
        raise ConfigError(f"study: {value!r} is not a name; give e.g. --study demo")
    name = value.strip()
    if (not _STUDY_NAME.fullmatch(name) or ".." in name or len(name) > STUDY_NAME_MAX):
        raise ConfigError(
            f"study: {name[:STUDY_NAME_MAX + 20]!r} is not a valid study name; use up to "
            f"{STUDY_NAME_MAX} letters, digits, '.', '_' or '-' (not starting with '.' or '-', "
            "no '..'), e.g. --study demo"
        )
    return name


def parse_hidden_units(value: Any) -> tuple[int, ...]:
    """Layer widths, e.g. ``64,64`` (TOML ``[64, 64]``); one number is one layer."""
    items = parse.items(value)
    try:
        units = tuple(int(u) for u in items if not isinstance(u, bool) and float(u) == int(u))
    except (TypeError, ValueError):
        units = ()
    if not items or len(units) != len(items) or any(u < 1 for u in units):
        raise ConfigError(f"hidden_units: {value!r} is not a list of layer widths >= 1; give "
                          "e.g. --hidden-units 64,64 (TOML: hidden_units = [64, 64])")
    return units


PARSERS: dict[str, Callable[[Any], Any]] = {
    "study": check_study_name,
    "storage": lambda v: parse.name(v, "storage"),
    "task": lambda v: parse.name(v, "task"),
    "engine": lambda v: parse.name(v, "engine"),
    "data": lambda v: parse.name(v, "data"),
    "target": lambda v: parse.name(v, "target"),
    "hidden_units": parse_hidden_units,
    "target_kind": lambda v: parse.name(v, "target_kind"),
    "split_column": lambda v: parse.name(v, "split_column"),
    "rates": parse_rates,
    "placements": parse_placements,
    "max_norms": parse_max_norms,
    "seeds": parse_seeds,
    "first_seeds": lambda v: _race_seeds(v, "first_seeds", "--first-seeds 5"),
    "max_seeds": lambda v: _race_seeds(v, "max_seeds", "--max-seeds 50"),
    "alpha": lambda v: parse.fraction(v, "alpha", 0.5, "--alpha 0.05"),
    "margin": _margin,
    "confirm": parse_confirm,
    "epochs": _epochs,
    "batch_size": lambda v: parse.bounded_int(v, "batch_size", 2**31 - 1, "--batch-size 32"),
    "mc_passes": parse_mc_passes,
    "metric": lambda v: parse.name(v, "metric"),
    "cells_per_claim": lambda v: parse.bounded_int(
        v, "cells_per_claim", MAX_CELLS_PER_CLAIM, "--cells-per-claim 64"),
    "heartbeat_seconds": _heartbeat,
    "workers": parse_workers,
    "allow_large": lambda v: parse.flag(v, "allow_large"),
}
