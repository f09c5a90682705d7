"""The primitives every setting's parser (:mod:`sweep.values`) is built from: lists, numbers,
whole numbers within bounds, names and flags, each refused with one line naming the setting."""

from __future__ import annotations

import math
from typing import Any

from .exceptions import ConfigError


def split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def items(value: Any) -> list[Any]:
    """A TOML list, a comma list in a string, or one scalar as a one-element list."""
    if isinstance(value, str):
        return split(value)
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def number(text: Any, what: str) -> float:
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise ConfigError(f"{what}: {text!r} is not a number")
    try:
        number = float(text)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{what}: {text!r} is not a finite number")
    return number


def check_count(items: list[Any], what: str, limit: int) -> None:
    if len(items) > limit:
        raise ConfigError(f"{what}: {len(items):,} values given, more than {limit:,}")


def integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what}: {value!r} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not a whole number") from None


def bounded_int(value: Any, what: str, high: int, example: str, why: str = "") -> int:
    """A whole number in [1, ``high``]; above it, ``why`` (else the example) ends the line."""
    number = integer(value, what)
    if number <= 0:
        raise ConfigError(f"{what}: {number} must be >= 1 (e.g. {example})")
    if number > high:
        raise ConfigError(f"{what}: {number:,} is more than {high:,}"
                          + (why or f" (e.g. {example})"))
    return number


def fraction(value: Any, what: str, high: float, example: str) -> float:
    found = number(value, what)
    if not 0 < found < high:
        raise ConfigError(f"{what}: {found:g} must be > 0 and < {high:g} (e.g. {example})")
    return found


def name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what}: give a non-empty name")
    return value.strip()


def flag(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{what}: {value!r} is not true or false")
