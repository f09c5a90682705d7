"""The population engine: many cells of a dense task trained at once, as one stacked model.

A claim's cells (any mix of rate, placement, max-norm and seed) are split into populations of
at most :data:`MEMBERS` members, padded to a fixed size so the compiled program is reused. Each
member starts from exactly the weights the Keras engine's model has for its seed
(:mod:`._population_init`) and trains with Keras' own arithmetic (:mod:`._population_graph`):
the same Adam, MaxNorm, inverted dropout, loss, accuracy and History semantics, all epochs in one
XLA program. Without dropout a member follows the Keras engine's trajectory up to float32
rounding; with dropout its masks come from a different random generator, so the engines agree in
distribution over seeds, not seed by seed.

Only one full batch per epoch is supported (batch_size >= training rows, as in the tutorial:
30 rows, batch 32); with several batches Keras shuffles every epoch, which is not reproduced.

Measured on the project's 2-core machine (``benchmarks/bench_engines.py``, load average about 1):
``model.fit`` 56-57 ms per epoch; this engine 22-27 us per model-epoch once compiled (2,100-2,600x),
the whole default sweep (1,680 cells x 4,000 epochs) in 133 s. Per process and population shape,
tracing and XLA compilation take 1.6-2.5 s; initial weights 0.8 ms per cell (28-30 ms when the
Keras model is built). Peak RSS for one default claim (128 cells x 4,000 epochs): 877 MB, of which
707 MB is TensorFlow and Keras once imported; 256 cells peak at the same 875 MB, since a
population's memory does not depend on the claim, only the curves do (64 KB per cell).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..exceptions import EngineError
from ..grid import Cell
from ..tasks import Dataset, Task
from ._base import CellResult, Curves, TrainSettings
from ._population_graph import Population, PopulationRun, run_population
from ._population_init import InitialWeights, MemberWeights, dense_mlp_initial_weights
from ._population_rng import member_key

MEMBERS = 32
"""Members per compiled population: per member-epoch, 32 was the cheapest size measured here
(about 22 us of CPU, against 25 at 16, 25-31 at 64 and 75 at 128); bigger is not faster."""

PADDED_SIZES = (8, 16, MEMBERS)
"""A smaller population is padded up to one of these sizes: three programs at most per epochs
value, instead of one per claim size."""

CELLS_PER_CLAIM = 128
"""Four populations per claim: one study transaction per 128 cells (about 11 s of training at
4,000 epochs); memory does not grow with the claim beyond its curves (4 x epochs float32 per
cell: 8 MB for 128 cells at 4,000 epochs)."""

PLACEMENTS = ("none", "input", "hidden", "both")


@dataclass(frozen=True)
class DenseTask:
    """How the population engine sees a task: input -> [Dropout] -> Dense(hidden_units, relu)
    [MaxNorm] -> [Dropout] -> Dense(1, sigmoid), binary cross-entropy, Adam, accuracy."""

    features: int
    hidden_units: int
    fast_initial_weights: Callable[[Cell], MemberWeights] | None = None
    hidden_layer: str = "hidden"
    output_layer: str = "output"


def _circles() -> DenseTask:
    from ..tasks import circles

    def fast(cell: Cell) -> MemberWeights:
        return dense_mlp_initial_weights(cell, features=2, hidden_units=circles.HIDDEN_UNITS)

    return DenseTask(features=2, hidden_units=circles.HIDDEN_UNITS, fast_initial_weights=fast)


_DENSE_TASKS: dict[str, Callable[[], DenseTask]] = {"circles": _circles}


class PopulationEngine:
    """Trains up to :data:`MEMBERS` cells per XLA program; one result per cell, in order."""

    name = "population"

    def __init__(self) -> None:
        self._initial_weights: dict[str, InitialWeights] = {}

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int:
        _dense_task(task)
        return CELLS_PER_CLAIM

    def train(
        self, task: Task, cells: Sequence[Cell], settings: TrainSettings
    ) -> list[CellResult]:
        dense = _dense_task(task)
        data = task.load_data()
        _check_data(task, dense, data, settings)
        for cell in cells:
            if cell.placement not in PLACEMENTS:
                raise EngineError(
                    f"population engine: unknown placement {cell.placement!r} in {cell.key}; "
                    f"it supports {', '.join(PLACEMENTS)}"
                )
        initial_weights = self._initial_weights.get(task.name)
        if initial_weights is None:
            initial_weights = InitialWeights(
                task, dense.fast_initial_weights, dense.hidden_layer, dense.output_layer
            )
            self._initial_weights[task.name] = initial_weights
        results: list[CellResult] = []
        for start in range(0, len(cells), MEMBERS):
            chunk = list(cells[start : start + MEMBERS])
            began = time.perf_counter()
            population = _population(chunk, [initial_weights(c) for c in chunk])
            run = run_population(
                population, data.train_x, data.train_y, data.test_x, data.test_y, settings.epochs
            )
            share = (time.perf_counter() - began) / len(chunk)
            results.extend(_results(chunk, run, share, self.name))
        return results


def padded_size(count: int) -> int:
    """The population size ``count`` members are padded to."""
    return next(size for size in PADDED_SIZES if size >= count)


def _dense_task(task: Task) -> DenseTask:
    try:
        return _DENSE_TASKS[task.name]()
    except KeyError:
        raise EngineError(
            f"population engine: task {task.name!r} is not supported; it trains "
            f"{', '.join(sorted(_DENSE_TASKS))} (use --engine keras for other tasks)"
        ) from None


def _check_data(task: Task, dense: DenseTask, data: Dataset, settings: TrainSettings) -> None:
    if data.train_x.ndim != 2 or data.train_x.shape[1] != dense.features:
        raise EngineError(
            f"population engine: task {task.name!r} has inputs of shape "
            f"{data.train_x.shape[1:]}, expected ({dense.features},)"
        )
    rows = int(data.train_x.shape[0])
    if settings.batch_size < rows:
        batches = -(-rows // settings.batch_size)
        raise EngineError(
            f"population engine: batch_size {settings.batch_size} splits the {rows} training "
            f"rows of {task.name!r} into {batches} batches per epoch, which Keras shuffles every "
            f"epoch; this engine trains one full batch per epoch only. Use batch_size >= {rows} "
            "or --engine keras"
        )
    if settings.epochs < 1:
        raise EngineError(f"population engine: epochs must be >= 1, got {settings.epochs}")


def _population(cells: list[Cell], weights: list[MemberWeights]) -> Population:
    """Stack the members, padded with copies of the first one (their results are dropped)."""
    size = padded_size(len(cells))
    cells = cells + [cells[0]] * (size - len(cells))
    weights = weights + [weights[0]] * (size - len(weights))

    def stack(index: int) -> np.ndarray:
        return np.stack([w.arrays()[index] for w in weights]).astype(np.float32)

    return Population(
        hidden_kernel=stack(0),
        hidden_bias=stack(1),
        output_kernel=stack(2),
        output_bias=stack(3).reshape(size),
        input_rate=np.array([c.rate if c.dropout_on_input else 0.0 for c in cells]),
        hidden_rate=np.array([c.rate if c.dropout_on_hidden else 0.0 for c in cells]),
        max_norm=np.array([0.0 if c.max_norm is None else c.max_norm for c in cells]),
        has_max_norm=np.array([c.max_norm is not None for c in cells]),
        keys=np.array([member_key(c.seed) for c in cells], dtype=np.uint32),
    )


def _results(
    cells: list[Cell], run: PopulationRun, fit_seconds: float, engine: str
) -> list[CellResult]:
    results = []
    for k, cell in enumerate(cells):
        curves = Curves(*(np.ascontiguousarray(run.curves[i, :, k]) for i in range(4)))
        results.append(
            CellResult(
                cell=cell,
                train_accuracy=float(run.train_accuracy[k]),
                test_accuracy=float(run.test_accuracy[k]),
                train_loss=float(run.train_loss[k]),
                test_loss=float(run.test_loss[k]),
                fit_seconds=fit_seconds,
                curves=curves,
                engine=engine,
            )
        )
    return results
