"""What each stored ``model.fit`` reference is: a task, its cells, epochs, batch size, and how
``model.fit`` was called (with per-epoch validation on the test split for the trajectory
references; ``shuffle=False`` where the population side trains on the rows in order).

Seeds per distribution reference: 40 (the live fixtures they replace fitted 20 a side); the
population side trains :func:`population_seeds` seeds per group (the reference's 40 among them):
120 where a population is cheap, 40 for the two costly text models (the suite's time is
budgeted), at the same alpha (0.01) throughout. Simulated (normal data, Welch's t
or Mann-Whitney U rejecting, 4,000 draws), the power to see a shift of one standard deviation is
0.68 with 20 seeds a side (the old fixtures), 0.97 with 40 a side, 0.99 with 60 against 40 and
0.999 with 120 against 40; for half a standard deviation 0.16, 0.37, 0.45 and 0.58. With no
shift, either test rejects in 1.0% to 1.7% of draws.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from sweep.grid import BASELINE_PLACEMENT, Cell
from sweep.tasks import Task
from sweep.values import MAX_SEED

from .models import MERGE_MODES, SIGNAL_PLACEMENTS, task_named

DISTRIBUTION_SEEDS = 40
POPULATION_SEEDS = 3 * DISTRIBUTION_SEEDS
FEWER_POPULATION_SEEDS = {"text-gru-dropout": DISTRIBUTION_SEEDS,
                          "text-simple-rnn-dropout": DISTRIBUTION_SEEDS}
"""The references whose population side trains fewer than :data:`POPULATION_SEEDS` seeds a
group: their population costs minutes per 120 seeds on two cores."""


@dataclass(frozen=True)
class Definition:
    name: str
    task: str
    cells: tuple[Cell, ...]
    epochs: int
    batch_size: int = 32
    validate: bool = False
    """Per-epoch validation on the test split: the stored fit has the four curves."""
    shuffle: bool = True
    mc_passes: int = 0
    """MC dropout passes after the fit: the stored fit has the Keras engine's calibration
    figures on test (:func:`sweep.engines.keras_fit.calibration_figures`)."""

    @property
    def task_of(self) -> Callable[[], Task]:
        """The task, as a picklable callable for the fitting processes."""
        return functools.partial(task_named, self.task)

    def settings(self) -> dict[str, object]:
        settings: dict[str, object] = {
            "task": self.task, "epochs": self.epochs, "batch_size": self.batch_size,
            "validate": self.validate, "shuffle": self.shuffle,
            "cells": [cell.key for cell in self.cells]}
        return {**settings, "mc_passes": self.mc_passes} if self.mc_passes else settings


def _baseline(seed: int, max_norm: float | None = None) -> Cell:
    return Cell(0.0, BASELINE_PLACEMENT, max_norm, seed)


def _seeds(groups: list[tuple[float, str, float | None]]) -> tuple[Cell, ...]:
    return tuple(Cell(rate, placement, max_norm, seed) for rate, placement, max_norm in groups
                 for seed in range(DISTRIBUTION_SEEDS))


CIRCLES_BASELINES = (_baseline(1), _baseline(2), _baseline(3, 0.2), _baseline(4, 1.0))
"""Max-norm 0.2 binds from the first steps; 1.0 does not bind but still rescales by n/(n + 1e-7)."""
CIRCLES_SHORT = (_baseline(0), _baseline(4, 2.0), _baseline(MAX_SEED))
CIRCLES_DROPOUT = [(0.4, "hidden", None), (0.2, "input", None), (0.5, "both", 3.0)]
CHAIN_DROPOUT = {"multiclass": (0.3, "hidden", None), "regression": (0.2, "hidden", None),
                 "sgd": (0.3, "input", 1.0)}
CHAIN_TRAJECTORY_EPOCHS = 8
STACKED_TRAJECTORY_EPOCHS = 4
STACKED_RATE = 0.5
STACKED_EPOCHS = {"digits-cnn": 15, "sequence-lstm": 20, "signal-cnn": 15, "text-simple-rnn": 12,
                  "text-gru": 15}
STACKED_PLACEMENTS = {"digits-cnn": ("pooling", "spatial", "both"),
                      "sequence-lstm": ("input", "output", "variational"),
                      "signal-cnn": SIGNAL_PLACEMENTS,
                      "text-simple-rnn": ("embedding", "recurrent", "output"),
                      "text-gru": ("embedding", "recurrent", "output")}
NOISE_DROPOUT = {"noise-mlp": [(0.3, "gaussian", None), (0.5, "noise", None),
                              (0.2, "alpha", None)],
                 "text-noise-shape": [(0.3, "words", None)]}
"""The dropout family beyond Dropout: a rate (GaussianNoise: a stddev) per placement; the
GaussianDropout rate is not 0.5, where rate / (1 - rate) is 1 and its square root no different."""
NOISE_EPOCHS = 15
MC_PASSES = 50
MC_REFERENCES = {"circles-mc": ("circles", (0.5, "hidden", None), 200),
                 "multiclass-mc": ("multiclass", (0.3, "hidden", None), 15)}
"""MC dropout's figures in distribution (task, group, epochs): the Keras engine's 50 passes
(``model(x, training=True)``, the default count) against the population program's, on the
tutorial's model (two classes, a sigmoid) and on a ten-class softmax MLP."""


def _all() -> dict[str, Definition]:
    found = [
        Definition("circles-baselines", "circles", CIRCLES_BASELINES, 200, validate=True),
        Definition("circles-short", "circles", CIRCLES_SHORT, 10, validate=True),
        Definition("circles-dropout", "circles", _seeds(CIRCLES_DROPOUT), 200),
        *(Definition(name, task, _seeds([group]), epochs, mc_passes=MC_PASSES)
          for name, (task, group, epochs) in MC_REFERENCES.items()),
    ]
    for name in ("multiclass", "regression", "sgd", "adamw-logits"):
        cells = (_baseline(0), _baseline(1)) + ((_baseline(2, 0.5),) if name == "sgd" else ())
        found.append(Definition(f"{name}-trajectories", name, cells, CHAIN_TRAJECTORY_EPOCHS,
                                validate=True, shuffle=False))
    for name, group in CHAIN_DROPOUT.items():
        found.append(Definition(f"{name}-dropout", name, _seeds([group]), 15))
    for name, cells in (("digits-cnn", (_baseline(0), _baseline(1), _baseline(2, 0.5))),
                        ("sequence-lstm", (_baseline(0), _baseline(1))),
                        ("same-padding", (_baseline(0),)),
                        ("signal-cnn", (_baseline(0), _baseline(1), _baseline(2, 0.5))),
                        ("digits-avgpool", (_baseline(0), _baseline(1))),
                        ("text-gru", (_baseline(0), _baseline(1))),
                        ("text-simple-rnn", (_baseline(0), _baseline(1))),
                        ("text-bidirectional", tuple(Cell(0.0, merge, None, seed) for seed, merge
                                                     in enumerate(MERGE_MODES)))):
        found.append(Definition(f"{name}-trajectories", name, cells, STACKED_TRAJECTORY_EPOCHS,
                                validate=True, shuffle=False))
    for name, placements in STACKED_PLACEMENTS.items():
        found.append(Definition(f"{name}-dropout", name,
                                _seeds([(STACKED_RATE, p, None) for p in placements]),
                                STACKED_EPOCHS[name]))
    for name, groups in NOISE_DROPOUT.items():
        found.append(Definition(f"{name}-dropout", name, _seeds(groups), NOISE_EPOCHS))
    return {definition.name: definition for definition in found}


DEFINITIONS = _all()


def population_seeds(name: str) -> int:
    """How many seeds a group of distribution reference ``name`` trains on the population side."""
    return FEWER_POPULATION_SEEDS.get(name, POPULATION_SEEDS)


def population_cells(name: str) -> list[Cell]:
    """The population side of distribution reference ``name``: its groups, in its order, each
    with :func:`population_seeds` seeds (the reference's first)."""
    groups = dict.fromkeys(cell.group for cell in DEFINITIONS[name].cells)
    return [Cell(g.rate, g.placement, g.max_norm, seed) for g in groups
            for seed in range(population_seeds(name))]
