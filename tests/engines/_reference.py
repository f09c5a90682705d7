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

from sweep._keras import import_keras
from sweep.grid import Cell
from sweep.tasks import Task


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
