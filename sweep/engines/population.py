"""The population engine: many cells of a dense task trained at once, as one stacked model.

A claim's cells (any mix of rate, placement, max-norm and seed) are split into populations of
at most :data:`MEMBERS` members, padded to a fixed size so the compiled program is reused. Each
member starts from exactly the weights the Keras engine's model has for its seed
(:mod:`._population_init`) and trains with Keras' own arithmetic (:mod:`._population_graph`,
``docs/keras-semantics.md``): the same Adam, MaxNorm, inverted dropout, loss, accuracy and
History semantics, one XLA program compiled once per population size, whatever the number of
epochs. Without dropout a member follows the Keras engine's trajectory up to float32
rounding; with dropout its masks come from a different random generator, so the engines agree in
distribution over seeds, not seed by seed.

Populations are trained one after the other and yielded as each finishes. Within one, the
program runs chunks of epochs sized to take about :data:`CHUNK_SECONDS` each; between chunks the
engine reports progress and honours a stop request (the unfinished population is dropped). The
chunks change nothing: results are bit-identical to one long run.

That hand-written program serves the circles task with one full batch per epoch (batch_size >=
training rows, as in the tutorial: 30 rows, batch 32). Every other task whose model is a
chain of the layers it stacks (Dense, Dropout, Conv2D, SpatialDropout2D, MaxPooling2D, Flatten,
LSTM; the CNN and LSTM tasks), and circles with mini-batches, trains on the general chain program
(:mod:`._chain_train`, :mod:`._chain_graph`): any depth, optimizer and loss Keras' ``fit`` runs
that the chain reader accepts, with mini-batches reshuffled every epoch.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..exceptions import ConfigError, EngineError
from ..grid import Cell
from ..tasks import Dataset, Task
from ..tasks.circles import on_hidden, on_input
from ._base import NO_CONTROL, CellResult, Curves, TrainControl, TrainSettings, exact_metric
from ._chain_train import check_chain, train_chain, train_in_chunks
from ._population_graph import CHUNK_EPOCHS, Population, PopulationRun, PopulationTraining
from ._population_init import InitialWeights, MemberWeights, dense_mlp_initial_weights
from ._population_rng import member_key

MEMBERS = 32
"""Members per compiled population: per member-epoch, 32 was the cheapest size measured here
(about 22 us of CPU, against 25 at 16, 25-31 at 64 and 75 at 128); bigger is not faster."""

PADDED_SIZES = (8, 16, MEMBERS)
"""A smaller population is padded up to one of these sizes: three programs at most per process,
instead of one per claim size."""

CHAIN_MEMBERS = 64
"""Members per population of a general chain (:mod:`._chain_train`): on the digits MLP
(64-64-64-10, batch 32) 64 members took 2.5 ms per member-epoch against 2.6-2.9 at 32 (measured
here); the larger matrices use XLA's threads better."""
CHAIN_PADDED_SIZES = (8, 16, 32, CHAIN_MEMBERS)

CELLS_PER_CLAIM = 128
"""Four populations per claim (about 11 s of training at 4,000 epochs); memory does not grow
with the claim beyond its curves (4 x epochs float32 per cell: 8 MB for 128 cells at 4,000
epochs)."""

CLAIM_CURVE_BYTES = 512 * 2**20
CURVE_BYTES_PER_EPOCH = 16 * 3
"""Four float32 curves per cell and epoch, held three times (device, host, results)."""

CHUNK_SECONDS = 1.0
"""Wall time aimed at per compiled call: how long a stop request may wait, and how often
progress moves. A call costs 4-7 ms besides its epochs (measured here, machine busy), under 1%
of a 1 s chunk. Interleaved with the former all-epochs-in-one-call program (64 and 128 cells x
4,000 epochs), chunked training took 0.85-0.89x its median wall time and 0.88x its median CPU
time (0.99x the minimum): no measurable cost."""

FIRST_CHUNK_EPOCHS = 32
"""The first call's length, before any timing is known (it also pays for the compilation)."""

FIRST_CHAIN_CHUNK_EPOCHS = 1
"""The chain program's first call: one epoch of a CNN's or an LSTM's 64 members takes about
half a second (32 would keep a stop request waiting 15 s after the compilation)."""

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
    """Trains up to :data:`MEMBERS` cells per XLA program; yields each population's results
    (one per cell, in the cells' order) as it finishes."""

    name = "population"

    def __init__(self) -> None:
        self._initial_weights: dict[str, InitialWeights] = {}

    def check(
        self, task: Task, settings: TrainSettings, placements: Sequence[str] | None
    ) -> None:
        """The task's model, its data's shape, the batch size and the placements, before any
        write."""
        try:
            data = task.load_data()
            if _hand_written(task, data, settings) is None:
                check_chain(task, data, settings, placements)
                return
            _check_data(task, _dense_task(task), data, settings)
        except EngineError as e:
            raise ConfigError(str(e)) from None
        unknown = [p for p in placements or () if p not in PLACEMENTS]
        if unknown:
            raise ConfigError(
                f"population engine: placement {unknown[0]!r} is not one it trains "
                f"({', '.join(PLACEMENTS[1:])}); use --engine keras"
            )

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int:
        """:data:`CELLS_PER_CLAIM`, fewer (down to one population) when so many epochs make
        a claim's learning curves bigger than :data:`CLAIM_CURVE_BYTES`."""
        fits = CLAIM_CURVE_BYTES // (settings.epochs * CURVE_BYTES_PER_EPOCH)
        return int(max(MEMBERS, min(CELLS_PER_CLAIM, fits // MEMBERS * MEMBERS)))

    def train(
        self,
        task: Task,
        cells: Sequence[Cell],
        settings: TrainSettings,
        control: TrainControl = NO_CONTROL,
    ) -> Iterator[list[CellResult]]:
        """Check the task, settings and cells now (an :class:`EngineError` is raised by this
        call, not by the first ``next``), then train population by population as the caller
        iterates."""
        data = task.load_data()
        dense = _hand_written(task, data, settings)
        if dense is None:
            check_chain(task, data, settings, None)
            return train_chain(task, list(cells), data, settings, control,
                               ChunkPacer(FIRST_CHAIN_CHUNK_EPOCHS),
                               CHAIN_MEMBERS, _chain_padded_size, self.name)
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
        return self._populations(list(cells), data, initial_weights, settings, control)

    def _populations(
        self,
        cells: list[Cell],
        data: Dataset,
        initial_weights: InitialWeights,
        settings: TrainSettings,
        control: TrainControl,
    ) -> Iterator[list[CellResult]]:
        pacer = ChunkPacer()
        for start in range(0, len(cells), MEMBERS):
            if control.should_stop():
                return
            members = cells[start : start + MEMBERS]
            began = time.perf_counter()
            training = PopulationTraining(
                _population(members, [initial_weights(c) for c in members]),
                data.train_x, data.train_y, data.test_x, data.test_y, settings.epochs,
            )
            if not train_in_chunks(training, pacer, control, len(members), settings.epochs):
                return  # this population is dropped; the ones yielded stay yielded
            share = (time.perf_counter() - began) / len(members)
            yield _results(members, training.run(), share, self.name, data)


class ChunkPacer:
    """Chunk lengths (epochs) that take about :data:`CHUNK_SECONDS` each: the first is
    ``first`` (:data:`FIRST_CHUNK_EPOCHS` if not given), each next one is scaled by the last
    one's measured time, never more than :data:`CHUNK_EPOCHS` (the compiled program's
    buffer)."""

    def __init__(self, first: int | None = None) -> None:
        self.epochs = FIRST_CHUNK_EPOCHS if first is None else first

    def next_chunk(self, remaining: int) -> int:
        return min(self.epochs, remaining)

    def record(self, epochs: int, seconds: float) -> None:
        scaled = epochs * CHUNK_SECONDS / max(seconds, 1e-6)
        self.epochs = int(min(max(scaled, 1.0), CHUNK_EPOCHS))


def padded_size(count: int) -> int:
    """The population size ``count`` members are padded to."""
    return next(size for size in PADDED_SIZES if size >= count)


def _chain_padded_size(count: int) -> int:
    return next(size for size in CHAIN_PADDED_SIZES if size >= count)


def _hand_written(task: Task, data: Dataset, settings: TrainSettings) -> DenseTask | None:
    """The hand-written program's view of ``task`` where it applies (circles, one batch per
    epoch), else None: the general chain program trains it."""
    if task.name in _DENSE_TASKS and not task.is_users and settings.batch_size >= len(data.train_x):
        return _dense_task(task)
    return None


def _dense_task(task: Task) -> DenseTask:
    return _DENSE_TASKS[task.name]()


def _check_data(task: Task, dense: DenseTask, data: Dataset, settings: TrainSettings) -> None:
    if data.train_x.ndim != 2 or data.train_x.shape[1] != dense.features:
        raise EngineError(
            f"population engine: task {task.name!r} has inputs of shape "
            f"{data.train_x.shape[1:]}, expected ({dense.features},)"
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
        input_rate=np.array([c.rate if on_input(c) else 0.0 for c in cells]),
        hidden_rate=np.array([c.rate if on_hidden(c) else 0.0 for c in cells]),
        max_norm=np.array([0.0 if c.max_norm is None else c.max_norm for c in cells]),
        has_max_norm=np.array([c.max_norm is not None for c in cells]),
        keys=np.array([member_key(c.seed) for c in cells], dtype=np.uint32),
    )


def _results(
    cells: list[Cell], run: PopulationRun, fit_seconds: float, engine: str, data: Dataset
) -> list[CellResult]:
    """Each member's result; accuracies are the exact fractions of their counts."""
    results = []
    for k, cell in enumerate(cells):
        curves = Curves(*(np.ascontiguousarray(run.curves[i, :, k]) for i in range(4)))
        results.append(
            CellResult(
                cell=cell,
                train_metric=exact_metric("accuracy", run.train_accuracy[k], data.train_y),
                test_metric=exact_metric("accuracy", run.test_accuracy[k], data.test_y),
                train_loss=float(run.train_loss[k]),
                test_loss=float(run.test_loss[k]),
                fit_seconds=fit_seconds,
                curves=curves,
                engine=engine,
            )
        )
    return results
