"""The population engine on any stackable chain: checking a task, and training its cells.

Cells are built one by one (:mod:`._chain_members`), gathered into populations of consecutive
cells that share a structure (so results come back in the cells' order), and each population is
trained by :mod:`._chain_graph` in chunks of about a second, between which a stop request is
honoured and progress reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from ..exceptions import EngineError, SweepError
from ..grid import BASELINE_PLACEMENT, Cell
from ..tasks import Dataset, Task
from ..tasks.loading import user_error
from ._base import CellResult, Curves, TrainControl, TrainSettings, exact_metric
from ._chain_dense import members_per_population
from ._chain_figures import member_figures
from ._chain_graph import CHUNK_EPOCHS, ChainTraining
from ._chain_layers import EmbeddingSpec
from ._chain_members import Member, MemberBuilder, build_member, population_shape, stack

MEMBERS = 64
"""Members per population of a chain without a size of its own (:mod:`._chain_dense` has one
for dense chains on one batch per epoch): on the digits MLP (64-64-64-10, batch 32) 64 members
took 2.5 ms per member-epoch against 2.6-2.9 at 32 (measured here); the larger matrices use
XLA's threads better."""
PADDED_SIZES = (8, 16, 32, 64)
"""A smaller population is padded up to the next of these sizes (up to its structure's member
count): a few programs per process instead of one per claim size."""


CHUNK_SECONDS = 1.0
"""Wall time aimed at per compiled call: how long a stop request may wait, and how often
progress moves. A call costs 4-7 ms besides its epochs (measured here, machine busy), under 1%
of a 1 s chunk; chunked training took 0.85-0.89x the median wall time of one call for all
epochs (64 and 128 circles cells x 4,000 epochs): no measurable cost."""

FIRST_CHUNK_EPOCHS = 1
"""The first call's length, before any timing is known (it also pays for the compilation): one
epoch of a CNN's or an LSTM's 64 members takes about half a second, so a longer first chunk
would keep a stop request waiting; a fast model's chunks grow to a second's worth by the third
call."""


class Pacer(Protocol):
    def next_chunk(self, remaining: int) -> int: ...

    def record(self, epochs: int, seconds: float) -> None: ...


class ChunkPacer:
    """Chunk lengths (epochs) that take about :data:`CHUNK_SECONDS` each: the first is
    :data:`FIRST_CHUNK_EPOCHS`, each next one is scaled by the last one's measured time, never
    more than :data:`CHUNK_EPOCHS` (the compiled program's buffer)."""

    def __init__(self) -> None:
        self.epochs = FIRST_CHUNK_EPOCHS

    def next_chunk(self, remaining: int) -> int:
        return min(self.epochs, remaining)

    def record(self, epochs: int, seconds: float) -> None:
        scaled = epochs * CHUNK_SECONDS / max(seconds, 1e-6)
        self.epochs = int(min(max(scaled, 1.0), CHUNK_EPOCHS))


class Chunked(Protocol):
    """A population's training, a chunk of epochs per call."""

    epochs_done: int

    @property
    def remaining(self) -> int: ...

    def train(self, epochs: int) -> None: ...


def train_in_chunks(training: Chunked, pacer: Pacer, control: TrainControl, members: int,
                    epochs: int) -> bool:
    """Train to the end, a paced chunk at a time, reporting progress; False when a stop was
    requested between chunks (the population is then dropped)."""
    while training.remaining:
        if training.epochs_done and control.should_stop():
            return False
        chunk = pacer.next_chunk(training.remaining)
        began = time.perf_counter()
        training.train(chunk)
        pacer.record(chunk, time.perf_counter() - began)
        control.advance(members * chunk / epochs)
    return True


def check_chain(task: Task, data: Dataset, settings: TrainSettings,
                placements: Sequence[str] | None) -> None:
    """Build one cell per placement (and the baseline) and read them: an :class:`EngineError`
    names the first layer, optimizer, loss or metric that cannot be stacked, or data that does
    not fit the model."""
    if settings.epochs < 1:
        raise EngineError(f"population engine: epochs must be >= 1, got {settings.epochs}")
    cells = [Cell(0.0, BASELINE_PLACEMENT, None, 0)]
    cells += [Cell(0.5, placement, None, 0) for placement in placements or task.placements]
    for cell in cells:
        try:
            member = build_member(task, cell)
        except SweepError:
            raise
        except Exception as error:  # noqa: BLE001 - the user's build_model, for this cell
            raise user_error(f"task {task.reference_name!r}: build_model({cell.key}) failed",
                             error) from error
        wanted = member.structure.input_shape
        if tuple(data.train_x.shape[1:]) != wanted:
            raise EngineError(
                f"population engine: task {task.name!r} has inputs of shape "
                f"{tuple(data.train_x.shape[1:])}, but its model takes {wanted}")
        first = member.structure.specs[0]
        if isinstance(first, EmbeddingSpec):
            _check_tokens(task, data, first.input_dim)


def _check_tokens(task: Task, data: Dataset, vocabulary: int) -> None:
    """An Embedding's inputs are token ids: whole numbers in [0, input_dim)."""
    for name in ("train_x", "test_x", "validation_x"):
        values = getattr(data, name)
        if values is None:
            continue
        values = np.asarray(values)
        whole = np.issubdtype(values.dtype, np.integer) or bool(
            np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if not whole or values.min() < 0 or values.max() >= vocabulary:
            raise EngineError(
                f"task {task.name!r}: {name} must be token ids, whole numbers from 0 to "
                f"{vocabulary - 1} (the Embedding's input_dim); it has values from "
                f"{values.min()} to {values.max()}")


def most_members(member: Member, rows: int, batch_size: int) -> int:
    """How many members a population of ``member``'s structure holds."""
    structure = member.structure
    return members_per_population(structure.specs, structure.loss, structure.input_shape, rows,
                                  batch_size, MEMBERS)


def padded_size(count: int, most: int) -> int:
    """The population size ``count`` members (at most ``most``) are padded to."""
    return next((size for size in PADDED_SIZES if count <= size <= most), most)


def train_chain(task: Task, cells: Sequence[Cell], data: Dataset, settings: TrainSettings,
                control: TrainControl, pacer: Pacer, build: MemberBuilder,
                engine: str) -> Iterator[list[CellResult]]:
    """Each population's results, in the cells' order, as it finishes. Every member is built
    first (a stop request is honoured between builds), so that each population's program masks
    every place any cell of the claim drops at: populations of one claim then share one
    compiled program instead of one per mix of placements (an LSTM's compiles in 15-20 s)."""
    members: list[Member] = []
    for cell in cells:
        if control.should_stop():
            return
        members.append(build(cell))
    batch: list[Member] = []
    most = 0
    for member in members:
        if batch and (member.structure != batch[0].structure or len(batch) == most):
            results = _train(task, batch, members, data, settings, control, pacer, most,
                             engine)
            if results is None:
                return
            yield results
            batch = []
        if not batch:
            most = most_members(member, len(data.train_x), settings.batch_size)
        batch.append(member)
    if batch:
        results = _train(task, batch, members, data, settings, control, pacer, most, engine)
        if results is not None:
            yield results


def _train(task: Task, members: list[Member], claim: Sequence[Member], data: Dataset,
           settings: TrainSettings, control: TrainControl, pacer: Pacer, most: int,
           engine: str) -> list[CellResult] | None:
    if control.should_stop():  # between populations: the next one never starts
        return None
    began = time.perf_counter()
    size = padded_size(len(members), most)
    peers = [m for m in claim if m.structure == members[0].structure]
    shape = population_shape(members, size, task.metric, len(data.train_x), settings.batch_size,
                             peers=peers)
    training = ChainTraining(shape, stack(members, size), (data.train_x, data.train_y),
                             data.compared, settings.epochs)
    if not train_in_chunks(training, pacer, control, len(members), settings.epochs):
        return None
    train = training.evaluate(data.train_x, data.train_y)
    test = training.evaluate(data.test_x, data.test_y)
    validation = (None if data.validation_x is None or data.validation_y is None
                  else training.evaluate(data.validation_x, data.validation_y))
    calibration = member_figures(training, shape, data, settings.mc_passes, len(members))
    share = (time.perf_counter() - began) / len(members)
    results = []
    for k, member in enumerate(members):
        curves = Curves(*(np.ascontiguousarray(training.curves[i, :, k]) for i in range(4)))
        results.append(CellResult(
            cell=member.cell, train_metric=exact_metric(task.metric, train[1][k], data.train_y),
            test_metric=exact_metric(task.metric, test[1][k], data.test_y),
            train_loss=float(train[0][k]), test_loss=float(test[0][k]), fit_seconds=share,
            curves=curves, engine=engine, metric=task.metric,
            validation_metric=None if validation is None or data.validation_y is None
            else exact_metric(task.metric, validation[1][k], data.validation_y),
            validation_loss=None if validation is None else float(validation[0][k]),
            calibration=calibration[k][0],
            test_calibration=calibration[k][1],
            reliability=calibration[k][2],
        ))
    return results
