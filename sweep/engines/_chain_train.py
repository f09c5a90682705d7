"""The population engine on any stackable chain: checking a task, and training its cells.

Cells are built one by one (:mod:`._chain_members`), gathered into populations of consecutive
cells that share a structure (so results come back in the cells' order), and each population is
trained by :mod:`._chain_graph` in chunks of about a second, between which a stop request is
honoured and progress reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from ..exceptions import EngineError, SweepError
from ..grid import BASELINE_PLACEMENT, Cell
from ..tasks import Dataset, Task
from ..tasks.loading import user_error
from ._base import CellResult, Curves, TrainControl, TrainSettings, exact_metric
from ._chain_graph import ChainTraining
from ._chain_members import Member, MemberBuilder, build_member, population_shape, stack


class Pacer(Protocol):
    def next_chunk(self, remaining: int) -> int: ...

    def record(self, epochs: int, seconds: float) -> None: ...


class Chunked(Protocol):
    """A population's training, a chunk of epochs per call (either program)."""

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


def train_chain(task: Task, cells: Sequence[Cell], data: Dataset, settings: TrainSettings,
                control: TrainControl, pacer: Pacer, most: int, padded: Callable[[int], int],
                engine: str) -> Iterator[list[CellResult]]:
    """Each population's results, in the cells' order, as it finishes. Every member is built
    first (a stop request is honoured between builds), so that each population's program masks
    every place any cell of the claim drops at: populations of one claim then share one
    compiled program instead of one per mix of placements (an LSTM's compiles in 15-20 s)."""
    build = MemberBuilder(task)
    members: list[Member] = []
    for cell in cells:
        if control.should_stop():
            return
        members.append(build(cell))
    batch: list[Member] = []
    for member in members:
        if batch and (member.structure != batch[0].structure or len(batch) == most):
            results = _train(task, batch, members, data, settings, control, pacer, padded,
                             engine)
            if results is None:
                return
            yield results
            batch = []
        batch.append(member)
    if batch:
        results = _train(task, batch, members, data, settings, control, pacer, padded, engine)
        if results is not None:
            yield results


def _train(task: Task, members: list[Member], claim: Sequence[Member], data: Dataset,
           settings: TrainSettings, control: TrainControl, pacer: Pacer,
           padded: Callable[[int], int], engine: str) -> list[CellResult] | None:
    began = time.perf_counter()
    size = padded(len(members))
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
        ))
    return results
