"""Synthetic sweep studies with plausible numbers, for tests, benchmarks and report previews.

Trials are written exactly as :meth:`sweep.storage.study.SweepStudy.record` writes them
(params rate, placement, max_norm (absent = none), seed; value = test accuracy; user attrs
:func:`sweep.storage.records.result_attrs`; engine ``synthetic`` in the study's ``sweep_engines``;
strided curves in ``sweep_curves``; :func:`sweep.storage.curves.dashboard_curve` as intermediate
values), but with made-up accuracies instead of training.

The accuracy model imitates the tutorial's circles task (70 test, 30 train points): the
no-dropout MLP overfits (train 1.0, test about 0.76), hidden dropout around 0.4-0.5 helps by a
few points, input dropout on two inputs hurts at high rates; each seed shifts every group alike
(so paired tests have something to pair), plus independent noise per cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .. import __version__
from ..engines import CellResult, Curves
from ..grid import Cell, expand
from ._optuna import study_list_index
from .curves import DASHBOARD_POINTS, dashboard_curve, save_curves
from .records import ENGINES_ATTR, result_attrs
from .study import SweepStudy, _versions, cell_params, distributions, open_study

N_TEST, N_TRAIN = 70, 30
Accuracy = Callable[[Cell, np.random.Generator], tuple[float, float]]
_NORM_EFFECT = {None: 0.0, 1.0: 0.035, 2.0: 0.03, 3.0: 0.025, 4.0: 0.015, 5.0: 0.01}


def _seed_shift(seed: int) -> float:
    return float(np.random.default_rng([seed, 7]).normal(0.0, 0.02))


def plausible_accuracy(cell: Cell, rng: np.random.Generator) -> tuple[float, float]:
    """(train, test) accuracy of one cell, quantised to the circles task's 30/70 points."""
    rate = cell.rate
    hidden = 0.07 * math.sin(math.pi * min(rate / 0.9, 1.0)) if cell.dropout_on_hidden else 0.0
    inputs = (0.02 * rate - 0.6 * max(0.0, rate - 0.3) ** 2) if cell.dropout_on_input else 0.0
    norm = _NORM_EFFECT.get(cell.max_norm, 0.02)
    test = 0.757 + hidden + inputs + norm * (1 - rate) + _seed_shift(cell.seed)
    test += float(rng.normal(0.0, 0.015))
    squeeze = (0.12 if cell.dropout_on_hidden else 0.0) + (0.35 if cell.dropout_on_input else 0.0)
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
        train_accuracy=train_acc,
        test_loss=np.maximum(0.01, 0.7 * (1.0 - test_acc) + 0.1),
        test_accuracy=test_acc,
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
    ``dashboard_points`` intermediate values per trial (Optuna writes them one by one: slow)."""
    import optuna

    from ..tasks import get_task

    task = get_task("circles")
    sweep_study = open_study(
        study_name=study_name, storage_url=storage_url, task=task,
        settings=task.fixed_settings(epochs, task.batch_size), access="create",
    )
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    cells = expand(rates, placements, max_norms, seed_list)
    unfinished = set(sorted(cells, key=lambda c: (-c.seed, c.key))[: running + pending])
    rng = np.random.default_rng(random_seed)
    dists = distributions(task)
    engine_id = study_list_index(sweep_study.storage, sweep_study.study._study_id, ENGINES_ATTR,
                                 {"engine": "synthetic", **_versions(__version__)})
    trials, curves = [], []
    for cell in (c for c in cells if c not in unfinished):
        train, test = accuracy(cell, rng)
        cell_curves = synthetic_curves(cell, train, test, epochs, rng)
        params = cell_params(cell)
        result = CellResult(
            cell=cell, train_accuracy=train, test_accuracy=test,
            train_loss=float(cell_curves.train_loss[-1]),
            test_loss=float(cell_curves.test_loss[-1]),
            fit_seconds=float(rng.uniform(20, 40)), curves=cell_curves, engine="synthetic",
        )
        trials.append(optuna.trial.create_trial(
            params=params, distributions={k: dists[k] for k in params}, value=test,
            intermediate_values=dict(dashboard_curve(cell_curves, dashboard_points)),
            user_attrs=result_attrs(result, engine_id),
        ))
        curves.append(cell_curves)
    first = len(sweep_study.study.get_trials(deepcopy=False))
    sweep_study.study.add_trials(trials)
    stored = sweep_study.study.get_trials(deepcopy=False)[first:]
    if with_curves:
        for start in range(0, len(stored), 200):
            batch = zip(stored[start:start + 200], curves[start:start + 200], strict=True)
            save_curves(sweep_study.engine, {t._trial_id: c for t, c in batch})
    sweep_study.enqueue_missing(sorted(unfinished, key=lambda c: (c.seed, c.key)))
    if running:
        sweep_study.claim(running)
    return sweep_study
