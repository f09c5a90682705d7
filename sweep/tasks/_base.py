"""What a task is: its data, its model builder and its fixed training settings.

The same contract serves the built-in tasks and a user's own (:mod:`sweep.tasks.loading`)::

    TASK = sweep.Task(name="mytask", placements=("input", "hidden"),
                      load_data=load_data, build_model=build_model, epochs=100, batch_size=32)

Everything else has a default: metric ``accuracy`` (its direction: maximize), no max-norm, the
population engine where the model is a chain it can stack, else the Keras engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import ConfigError
from ..grid import BASELINE_PLACEMENT, Cell, Group
from ..objective import Direction, Objective, Split, check_metric, check_unit

_ARRAYS = ("train_x", "train_y", "test_x", "test_y", "validation_x", "validation_y")


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays, and optionally a validation split: then cells are compared on
    validation and test is recorded beside it (choosing on test is optimistic). Labels are
    0/1 for binary tasks, integers (or one-hot rows) for multi-class, numbers for regression."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    validation_x: np.ndarray | None = None
    validation_y: np.ndarray | None = None

    @property
    def compared_on(self) -> Split:
        return "test" if self.validation_x is None else "validation"

    @property
    def compared(self) -> tuple[np.ndarray, np.ndarray]:
        """The split cells are compared on (and whose curves are kept): validation, else test."""
        if self.validation_x is None or self.validation_y is None:
            return self.test_x, self.test_y
        return self.validation_x, self.validation_y

    def shapes(self) -> dict[str, list[Any]]:
        """Each array's shape and dtype (part of a user task's fingerprint)."""
        return {name: [list(np.shape(value)), str(np.asarray(value).dtype)]
                for name in _ARRAYS if (value := getattr(self, name)) is not None}

    def check(self) -> None:
        """One line on what is wrong: missing arrays, inputs and labels of unequal length,
        splits whose rows differ in shape, a NaN or infinite value."""
        if (self.validation_x is None) != (self.validation_y is None):
            raise ConfigError("Dataset: give both validation_x and validation_y, or neither")
        for split in ("train", "test", "validation"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if x is None:
                continue
            if not hasattr(x, "shape") or not hasattr(y, "shape"):
                raise ConfigError(f"Dataset: {split}_x and {split}_y must be numpy arrays")
            if len(x) == 0 or len(x) != len(y):
                raise ConfigError(
                    f"Dataset: {split}_x has {len(x)} rows and {split}_y {len(y)}; give the same "
                    "number of rows (at least one)"
                )
            for name, values in ((f"{split}_x", x), (f"{split}_y", y)):
                _check_finite(name, values)
            for name, values, first in ((f"{split}_x", x, self.train_x),
                                        (f"{split}_y", y, self.train_y)):
                if np.shape(values)[1:] != np.shape(first)[1:]:
                    kind = name.rsplit("_", 1)[1]
                    raise ConfigError(
                        f"Dataset: {name}'s rows have shape {np.shape(values)[1:]} but "
                        f"train_{kind}'s {np.shape(first)[1:]}; give every split the same "
                        "features"
                    )


def _check_finite(name: str, values: Any) -> None:
    """A NaN or infinite number in a float array: one line with the count and the first row."""
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype,
                                                                        np.complexfloating):
        return
    bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
    if bad.any():
        flat = array[bad].ravel()
        what = "a NaN value" if np.isnan(flat).any() else "an infinite value"
        raise ConfigError(
            f"Dataset: {name} has {what} in {int(bad.sum())} row(s) (first: row "
            f"{int(np.flatnonzero(bad)[0])}); fill or drop them before returning the Dataset"
        )


@dataclass(frozen=True)
class Task:
    """A sweepable task. ``build_model(cell)`` returns a compiled Keras model and never fits;
    it reads ``cell.rate``, ``cell.placement`` (one of ``placements``, or ``"none"`` for the
    no-dropout baseline) and ``cell.max_norm``. sweep calls
    ``keras.utils.set_random_seed(cell.seed)`` before building and fitting.

    ``metric`` is any key the compiled model reports (``accuracy``, ``auc``, ``loss``, ``mse``
    ...); ``direction`` defaults to the known metric's obvious one. ``metric_unit`` is the
    metric's unit in words, shown with it wherever it is labelled (e.g. ``"squared training
    SDs of the target"`` for the MSE of a standardised target; ``""``: none said).
    ``engines``: the engines that can train it faithfully, the default first (none named: the
    population engine where the built model is a chain of layers it can stack, else the Keras
    engine).
    ``epoch_seconds`` estimates, per engine, the seconds one model-epoch takes on a 2-core
    machine, and ``cell_seconds`` what a cell costs beyond its epochs (building, compiling and
    tracing the model, evaluating and recording it), for the run's time estimate
    (:mod:`sweep.budget`; none given: its figures for a small model).
    ``reference`` is a group the terminal and the report always show (rate, placement,
    max-norm), named ``reference_label``. The report's words: ``placement_words`` complete the
    sentence "dropout rate 0.4 ..." (e.g. "on the hidden layer"), ``baseline_label`` names the
    rate-0 group. ``origin`` and ``source_file`` are set by sweep when it loads a user's task.
    """

    name: str
    placements: tuple[str, ...]
    load_data: Callable[[], Dataset]
    build_model: Callable[[Cell], Any]
    epochs: int = 100
    batch_size: int = 32
    metric: str = "accuracy"
    direction: Direction | None = None
    metric_unit: str = ""
    supports_max_norm: bool = False
    default_max_norms: tuple[float | None, ...] = (None,)
    engines: tuple[str, ...] = ()
    description: str = ""
    optimizer: str = ""
    epoch_seconds: Mapping[str, float] = field(default_factory=dict)
    cell_seconds: Mapping[str, float] = field(default_factory=dict)
    reference: tuple[float, str, float | None] | None = None
    reference_label: str = "reference"
    placement_words: Mapping[str, str] = field(default_factory=dict)
    baseline_label: str = "no dropout"
    origin: str | None = None
    source_file: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("Task: name must be a non-empty string, e.g. name=\"mytask\"")
        placements = ((self.placements,) if isinstance(self.placements, str)
                      else tuple(self.placements))
        if not placements or not all(isinstance(p, str) and p for p in placements):
            raise ConfigError(
                f"Task {self.name!r}: placements must be names, e.g. placements=(\"input\", "
                "\"hidden\")"
            )
        if BASELINE_PLACEMENT in placements:
            raise ConfigError(
                f"Task {self.name!r}: {BASELINE_PLACEMENT!r} is the no-dropout baseline's "
                "placement; name your placements otherwise"
            )
        object.__setattr__(self, "placements", placements)
        for name in ("load_data", "build_model"):
            if not callable(getattr(self, name)):
                raise ConfigError(f"Task {self.name!r}: {name} must be a function")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"Task {self.name!r}: {name} must be a whole number >= 1")
        metric, direction = check_metric(self.metric, self.direction)
        object.__setattr__(self, "direction", direction)
        try:
            check_unit(self.metric_unit)
        except ConfigError as e:
            raise ConfigError(f"Task {self.name!r}: {e}") from e
        object.__setattr__(self, "engines", tuple(self.engines))
        object.__setattr__(self, "default_max_norms", tuple(self.default_max_norms))
        if not self.supports_max_norm and any(n is not None for n in self.default_max_norms):
            raise ConfigError(
                f"Task {self.name!r}: default_max_norms has values but supports_max_norm is "
                "False; set supports_max_norm=True"
            )

    @property
    def default_engine(self) -> str:
        """The engine used when none is asked for: the first of :attr:`engines`; with none
        named, the population engine (where the model stacks: see
        :func:`sweep.engines.pick_engine`)."""
        return self.engines[0] if self.engines else "population"

    @property
    def is_users(self) -> bool:
        """Loaded from a user's file or module (not one of sweep's own tasks)."""
        return self.origin is not None

    @property
    def reference_name(self) -> str:
        """How runs and workers find the task again: its file or ``module:attribute``, else its
        registered name."""
        return self.origin or self.name

    @property
    def reference_group(self) -> Group | None:
        return None if self.reference is None else Group(*self.reference)

    def objective(self, compared_on: Split = "test") -> Objective:
        assert self.direction is not None  # resolved in __post_init__
        return Objective(self.metric, self.direction, compared_on, self.metric_unit)

    def placement_phrase(self, placement: str) -> str:
        """Where the dropout is, in words: "on the hidden layer"; "at <name>" when unnamed."""
        return self.placement_words.get(placement, f"at {placement}")

    def fixed_settings(self, epochs: int, batch_size: int,
                       compared_on: Split = "test") -> dict[str, Any]:
        """The settings every trial of one study shares; a study refuses runs that differ."""
        settings: dict[str, Any] = {"task": self.reference_name, "epochs": epochs,
                                    "batch_size": batch_size}
        if self.optimizer:
            settings["optimizer"] = self.optimizer
        settings.update(self.objective(compared_on).settings())
        if self.is_users:
            settings["placements"] = list(self.placements)
        return settings
