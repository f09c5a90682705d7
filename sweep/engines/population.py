"""The population engine: many cells of a stackable task trained at once, as one stacked model.

A claim's cells (any mix of rate, placement, max-norm and seed) are built as the Keras engine
builds them (:mod:`._chain_members`: each member starts from exactly that model's initial
weights), gathered into populations of members that share a structure, padded to a few fixed
sizes so the compiled programs are reused, and trained with Keras' own arithmetic
(:mod:`._chain_graph`, ``docs/keras-semantics.md``): the same optimizers, MaxNorm, inverted
dropout, losses, metrics and History semantics, one XLA program compiled once per population
shape, whatever the number of epochs. Without dropout a member follows the Keras engine's
trajectory up to float32 rounding; with dropout its masks come from a different random
generator, so the engines agree in distribution over seeds, not seed by seed.

One program serves every model it can stack (a chain of Dense, Dropout, Conv2D,
SpatialDropout2D, MaxPooling2D, Flatten and LSTM layers: the tutorial's MLP, the CNN and LSTM
tasks, a user's own model); what it specialises (hand-derived gradients and the population size
of dense chains, :mod:`._chain_dense`) is chosen by the model's structure, never by the task's
name. Populations are trained one after the other and yielded as each finishes, in chunks of
about a second between which the engine reports progress and honours a stop request (the
unfinished population is dropped); chunks change nothing: results are bit-identical to one long
run.

Measured figures are in ``docs/explanation/engines.md`` (``benchmarks/bench_engines.py``,
``benchmarks/bench_dense.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..exceptions import ConfigError, EngineError
from ..grid import Cell
from ..tasks import Task
from ._base import NO_CONTROL, CellResult, TrainControl, TrainSettings
from ._chain_dense import MEMBERS as DENSE_MEMBERS
from ._chain_members import MemberBuilder
from ._chain_train import ChunkPacer, check_chain, train_chain

CELLS_PER_CLAIM = 128
"""Cells per claim: four populations of a dense chain, two of any other (about 11 s of training
for the tutorial's cells at 4,000 epochs); memory does not grow with the claim beyond its curves
(4 x epochs float32 per cell: 8 MB for 128 cells at 4,000 epochs)."""

_Checked = tuple[TrainSettings, tuple[str, ...] | None]

CLAIM_CURVE_BYTES = 512 * 2**20
CURVE_BYTES_PER_EPOCH = 16 * 3
"""Four float32 curves per cell and epoch, held three times (device, host, results)."""


class PopulationEngine:
    """Trains a claim's cells as populations of stacked members; yields each population's
    results (one per cell, in the cells' order) as it finishes."""

    name = "population"

    def __init__(self) -> None:
        # per task object (kept, so that its id is not reused): its member builder, whose
        # templates outlive a claim, and the settings and placements already checked
        self._tasks: dict[int, tuple[Task, MemberBuilder, set[_Checked]]] = {}

    def _of(self, task: Task) -> tuple[MemberBuilder, set[_Checked]]:
        found = self._tasks.get(id(task))
        if found is None or found[0] is not task:
            found = self._tasks[id(task)] = (task, MemberBuilder(task), set())
        return found[1], found[2]

    def check(
        self, task: Task, settings: TrainSettings, placements: Sequence[str] | None
    ) -> None:
        """The task's model, its data's shape, the batch size and the placements, before any
        write (:class:`ConfigError` naming what cannot be stacked). A task is checked once per
        engine, for each settings and placements (checking builds real Keras models)."""
        checked = self._of(task)[1]
        key = (settings, None if placements is None else tuple(placements))
        if key in checked:
            return
        try:
            check_chain(task, task.load_data(), settings, placements)
        except EngineError as e:
            raise ConfigError(str(e)) from e  # the cause: NotStackableError's reason
        checked.add(key)

    def cells_per_claim(self, task: Task, settings: TrainSettings) -> int:
        """:data:`CELLS_PER_CLAIM`, fewer (down to one dense population) when so many epochs
        make a claim's learning curves bigger than :data:`CLAIM_CURVE_BYTES`."""
        fits = CLAIM_CURVE_BYTES // (settings.epochs * CURVE_BYTES_PER_EPOCH)
        step = DENSE_MEMBERS
        return int(max(step, min(CELLS_PER_CLAIM, fits // step * step)))

    def train(
        self,
        task: Task,
        cells: Sequence[Cell],
        settings: TrainSettings,
        control: TrainControl = NO_CONTROL,
    ) -> Iterator[list[CellResult]]:
        """Check the task and settings now (an :class:`EngineError` is raised by this call, not
        by the first ``next``), then train population by population as the caller iterates."""
        data = task.load_data()
        build, checked = self._of(task)
        if not any(settings == done for done, _ in checked):
            check_chain(task, data, settings, None)
            checked.add((settings, None))
        return train_chain(task, list(cells), data, settings, control, ChunkPacer(), build,
                           self.name)
