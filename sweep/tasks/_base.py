"""What a task is: its data, its model builder and its fixed training settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..grid import Cell, Group


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays; labels are 0/1 for binary tasks, integers for multi-class."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


@dataclass(frozen=True)
class Task:
    """A sweepable task. ``build_model(cell)`` returns a compiled Keras model and never fits.

    ``engines`` are the engines that can train it faithfully, the default first.
    ``epoch_seconds`` estimates, per engine, the seconds one model-epoch takes on a 2-core
    machine (for the run's time estimate). ``reference`` is a group the terminal and the report
    always show, e.g. the tutorial's own setting (rate, placement, max-norm), named
    ``reference_label`` in the report's legends.

    The task's own words, used by the report (never hard-coded there): ``placements`` in the
    order every table and figure lists them; ``placement_words`` complete the sentence
    "dropout rate 0.4 ..." for each placement (e.g. "on the hidden layer");
    ``baseline_label`` names the rate-0 group.
    """

    name: str
    description: str
    placements: tuple[str, ...]
    default_epochs: int
    batch_size: int
    optimizer: str
    supports_max_norm: bool
    engines: tuple[str, ...]
    load_data: Callable[[], Dataset]
    build_model: Callable[[Cell], Any]
    default_max_norms: tuple[float | None, ...] = (None,)
    epoch_seconds: Mapping[str, float] = field(default_factory=dict)
    reference: tuple[float, str, float | None] | None = None
    reference_label: str = "reference"
    placement_words: Mapping[str, str] = field(default_factory=dict)
    baseline_label: str = "no dropout"

    @property
    def default_engine(self) -> str:
        """The engine used when none is asked for: the first of :attr:`engines`."""
        return self.engines[0]

    @property
    def reference_group(self) -> Group | None:
        return None if self.reference is None else Group(*self.reference)

    def placement_phrase(self, placement: str) -> str:
        """Where the dropout is, in words: "on the hidden layer"; "at <name>" when unnamed."""
        return self.placement_words.get(placement, f"at {placement}")

    def fixed_settings(self, epochs: int, batch_size: int) -> dict[str, Any]:
        """The settings every trial of one study shares; a study refuses runs that differ."""
        return {
            "task": self.name,
            "epochs": epochs,
            "batch_size": batch_size,
            "optimizer": self.optimizer,
        }
