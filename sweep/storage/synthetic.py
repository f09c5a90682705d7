"""Synthetic sweep studies with plausible numbers, for tests, benchmarks and report previews.

Trials are written by the real writer: the cells are enqueued, claimed and recorded through
:class:`sweep.storage.SweepStudy` as a worker's are, with the same schema
(:mod:`sweep.storage.schema`; engine ``synthetic`` in the study's engines list), only with
made-up results (:class:`sweep.engines.CellResult`) instead of training; so a synthetic study
can never drift from a real one.

The accuracy model imitates the tutorial's circles task (70 test, 30 train points): the
no-dropout MLP overfits (train 1.0, test about 0.76), hidden dropout around 0.4-0.5 helps by a
few points, input dropout on two inputs hurts at high rates; each seed shifts every group alike
(so paired tests have something to pair), plus independent noise per cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..engines import CellResult, Curves
from ..grid import Cell, expand
from ..tasks.circles import on_hidden, on_input
from .curves import DASHBOARD_POINTS
from .study import SweepStudy, open_study

N_TEST, N_TRAIN = 70, 30
BATCH = 500
"""Cells recorded per transaction."""
Accuracy = Callable[[Cell, np.random.Generator], tuple[float, float]]
_NORM_EFFECT = {None: 0.0, 1.0: 0.035, 2.0: 0.03, 3.0: 0.025, 4.0: 0.015, 5.0: 0.01}


def _seed_shift(seed: int) -> float:
    return float(np.random.default_rng([seed, 7]).normal(0.0, 0.02))


def plausible_accuracy(cell: Cell, rng: np.random.Generator) -> tuple[float, float]:
    """(train, test) accuracy of one cell, quantised to the circles task's 30/70 points."""
    rate = cell.rate
    hidden = 0.07 * math.sin(math.pi * min(rate / 0.9, 1.0)) if on_hidden(cell) else 0.0
    inputs = (0.02 * rate - 0.6 * max(0.0, rate - 0.3) ** 2) if on_input(cell) else 0.0
    norm = _NORM_EFFECT.get(cell.max_norm, 0.02)
    test = 0.757 + hidden + inputs + norm * (1 - rate) + _seed_shift(cell.seed)
    test += float(rng.normal(0.0, 0.015))
    squeeze = (0.12 if on_hidden(cell) else 0.0) + (0.35 if on_input(cell) else 0.0)
    train = 1.0 - squeeze * rate**2 - 0.3 * norm + float(rng.normal(0.0, 0.01))
    return _quantize(train, N_TRAIN), _quantize(test, N_TEST)


def _quantize(value: float, points: int) -> float:
    return round(min(1.0, max(0.0, value)) * points) / points


def synthetic_curves(
    cell: Cell, train: float, test: float, epochs: int, rng: np.random.Generator
) -> Curves:
    """Noisy learning curves that end at (about) the final accuracies."""
    t = np.arange(1, epochs + 1, dtype=float)
    rise = 1.0 - np.exp(-t / max(1.0, epochs / 12))
    dropout_penalty = 0.08 * cell.rate  # train metrics are measured with dropout on
    train_acc = 0.5 + (train - dropout_penalty - 0.5) * rise + rng.normal(0, 0.02, epochs)
    test_acc = 0.5 + (test - 0.5) * rise + rng.normal(0, 0.01, epochs)
    train_acc, test_acc = np.clip(train_acc, 0, 1), np.clip(test_acc, 0, 1)
    return Curves(
        train_loss=np.maximum(0.01, 0.7 * (1.0 - train_acc) + 0.05),
        train_metric=train_acc,
        test_loss=np.maximum(0.01, 0.7 * (1.0 - test_acc) + 0.1),
        test_metric=test_acc,
    )


def build_study(
    storage_url: str,
    study_name: str = "synthetic",
    *,
    rates: Sequence[float] = (0.0, 0.2, 0.4, 0.6),
    placements: Sequence[str] = ("input", "hidden", "both"),
    max_norms: Sequence[float | None] = (None, 3.0),
    seeds: int | Sequence[int] = 5,
    epochs: int = 200,
    running: int = 0,
    pending: int = 0,
    accuracy: Accuracy = plausible_accuracy,
    with_curves: bool = True,
    dashboard_points: int = DASHBOARD_POINTS,
    random_seed: int = 0,
) -> SweepStudy:
    """Create a study whose cells are all complete except the ``running`` + ``pending`` cells
    with the highest seeds (those are claimed or left waiting, as a sweep in progress has).
    ``dashboard_points`` intermediate values per trial."""
    from ..tasks import get_task

    task = get_task("circles")
    sweep_study = open_study(
        study_name=study_name, storage_url=storage_url, task=task,
        settings=task.fixed_settings(epochs, task.batch_size), access="create",
    )
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    cells = expand(rates, placements, max_norms, seed_list)
    unfinished = sorted(cells, key=lambda c: (-c.seed, c.key))[: running + pending]
    left = set(unfinished)
    done = [c for c in cells if c not in left]
    sweep_study.enqueue_missing([*done, *sorted(unfinished, key=lambda c: (c.seed, c.key))])
    rng = np.random.default_rng(random_seed)
    for start in range(0, len(done), BATCH):
        results = {cell: synthetic_result(cell, epochs, accuracy, rng)
                   for cell in done[start:start + BATCH]}
        claims = sweep_study.claim(len(results), only=set(results))
        sweep_study.record(claims, [results[claim.cell] for claim in claims],
                           dashboard_points=dashboard_points, with_curves=with_curves)
    if running:
        sweep_study.claim(running)
    return sweep_study


def synthetic_result(
    cell: Cell, epochs: int, accuracy: Accuracy, rng: np.random.Generator
) -> CellResult:
    """A made-up result of training ``cell``, as an engine returns it."""
    train, test = accuracy(cell, rng)
    curves = synthetic_curves(cell, train, test, epochs, rng)
    return CellResult(
        cell=cell, train_metric=train, test_metric=test,
        train_loss=float(curves.train_loss[-1]), test_loss=float(curves.test_loss[-1]),
        fit_seconds=float(rng.uniform(20, 40)), curves=curves, engine="synthetic",
    )
