"""``model.fit`` as the reference for the distribution tests: final figures only, two processes.

The distribution tests compare final test loss and metric (and the last epoch's train loss) over
20 seeds, so their reference fits skip the per-epoch validation pass the Keras engine makes for
its curves: validation draws no random numbers and changes no weights, so the fit is the same,
in about half the time (one batch per epoch: the validation pass costs as much as the step).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from sweep._keras import import_keras
from sweep.engines import CellResult
from sweep.engines._chain_graph import ChainTraining
from sweep.engines._chain_members import build_member, population_shape, stack
from sweep.grid import Cell
from sweep.tasks import Task

ALPHA = 0.01


@dataclass(frozen=True)
class FinalFit:
    cell: Cell
    test_loss: float
    test_metric: float
    last_train_loss: float


def _fit(task: Task, cell: Cell, epochs: int, batch_size: int) -> FinalFit:
    keras = import_keras()
    data = task.load_data()
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(cell.seed)
    model = task.build_model(cell)
    history = model.fit(data.train_x, data.train_y, epochs=epochs, batch_size=batch_size,
                        verbose=0).history
    values = model.evaluate(data.test_x, data.test_y, verbose=0, return_dict=True)
    return FinalFit(cell, float(values["loss"]), float(values[task.metric]),
                    float(history["loss"][-1]))


def _part(task_of: Callable[[], Task], cells: list[Cell], epochs: int,
          batch_size: int) -> list[FinalFit]:
    task = task_of()
    return [_fit(task, cell, epochs, batch_size) for cell in cells]


def final_fits(task_of: Callable[[], Task], cells: Sequence[Cell], epochs: int,
               batch_size: int) -> list[FinalFit]:
    """Each cell fitted by ``model.fit`` (``task_of`` must be picklable: a module-level function
    or a ``functools.partial`` of one), in the cells' order, on two processes where there are
    two cores."""
    processes = min(2, os.cpu_count() or 1, len(cells))
    if processes < 2:
        return _part(task_of, list(cells), epochs, batch_size)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        parts = [pool.submit(_part, task_of, list(cells[i::processes]), epochs, batch_size)
                 for i in range(processes)]
        by_cell = {fit.cell: fit for part in parts for fit in part.result()}
    return [by_cell[cell] for cell in cells]


def assert_same_distribution(label: str, population: Sequence[CellResult],
                             keras: Sequence[FinalFit], metric: str = "metric") -> None:
    """The final test loss and metric (dropout off) and the last epoch's train loss (dropout
    on, the figure most sensitive to the masks) over the seeds: Welch's t and Mann-Whitney U
    both at least :data:`ALPHA`."""
    from scipy.stats import mannwhitneyu, ttest_ind

    for what, mine, reference in (
        ("test loss", [r.test_loss for r in population], [k.test_loss for k in keras]),
        (f"test {metric}", [r.test_metric for r in population], [k.test_metric for k in keras]),
        ("last train loss", [float(r.curves.train_loss[-1]) for r in population],
         [k.last_train_loss for k in keras]),
    ):
        ours, theirs = np.array(mine), np.array(reference)
        welch = ttest_ind(ours, theirs, equal_var=False).pvalue
        rank = mannwhitneyu(ours, theirs, alternative="two-sided").pvalue
        print(f"{label} {what}: population {ours.mean():.4f} +- {ours.std(ddof=1):.4f}, "
              f"keras {theirs.mean():.4f} +- {theirs.std(ddof=1):.4f}; Welch p={welch:.3g}, "
              f"Mann-Whitney p={rank:.3g}")
        assert welch >= ALPHA and rank >= ALPHA, f"{label} {what}"


def trained_in_order(task: Task, cells: Sequence[Cell], epochs: int,
                     batch_size: int) -> ChainTraining:
    """``cells`` as one chain population trained ``epochs`` epochs on the batches in the rows'
    order (``model.fit(shuffle=False)``'s), evaluated on the test set after each epoch."""
    data = task.load_data()
    members = [build_member(task, cell) for cell in cells]
    shape = population_shape(members, len(members), task.metric, len(data.train_x), batch_size,
                             shuffle=False)
    training = ChainTraining(shape, stack(members, len(members)), (data.train_x, data.train_y),
                             (data.test_x, data.test_y), epochs)
    training.train(epochs)
    return training
