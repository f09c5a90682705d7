"""Bounded work: a run's cells, time and memory are estimated before anything is written.

A grid beyond :data:`SOFT_CELLS` cells or an estimated :data:`SOFT_SECONDS` of training is
refused with one line giving the estimate and how to go on (a smaller grid, or
``--allow-large``); beyond :data:`HARD_CELLS` cells, or more memory per worker than the machine
has, it is refused whatever the flags. ``--workers`` is capped at what the machine can run:
its cores, and its available memory at :func:`worker_memory` per worker; ``--workers auto``
(the default) is one worker per core when one worker's estimate is over
:data:`AUTO_WORKERS_SECONDS`, else one (:func:`auto_workers`).

The time estimate uses the task's measured seconds per model-epoch and per cell for each engine
(``Task.epoch_seconds`` and ``Task.cell_seconds``, measured on a 2-core machine), or for a task
without them (a user's) figures from its training rows and batch size: it is a planning
figure, printed as "about". On the keras engine it is::

    KERAS_START_SECONDS + cells x (cell_seconds + epochs x epoch_seconds) / parallel workers

and on the population engine its compile once, then the same sum over the workers, each a
process of one intra-op thread (``sweep/_keras.py``) on a core of its own. The MC
dropout passes add, per cell, ``passes x evaluated rows`` forward passes of a row
(:func:`mc_seconds`).

A ``model.fit`` epoch costs far more than its batches: every epoch also runs the validation
pass, the callbacks and Keras' epoch bookkeeping (about :data:`KERAS_EPOCH_SECONDS` here, even
for the tutorial's one batch), and every cell builds and compiles its model, traces its train
and test functions during the first epoch and is evaluated twice (about a second here). The
estimate once counted neither: 0.06 s per tutorial epoch and nothing per cell, a third of
the time a sweep of short cells took.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .config import SweepConfig
from .exceptions import ConfigError
from .grid import count_cells
from .tasks import task_facts

SOFT_CELLS = 50_000
SOFT_SECONDS = 24 * 3600.0
HARD_CELLS = 1_000_000
BASE_WORKER_BYTES = 1 << 30
"""TensorFlow and Keras imported, a model built and the data loaded: about 0.9 GB measured."""
CURVE_BYTES_PER_EPOCH = 16
"""Four float32 learning curves per cell."""
CURVE_COPIES = 3
"""A population's curves exist on the device, on the host and in the cell results at once."""
KERAS_HISTORY_BYTES_PER_EPOCH = 256
"""``model.fit``'s History: four lists of Python floats, plus their float32 copies."""
STEP_SECONDS = 0.0025
"""A task without measured speeds (a user's): ``model.fit`` takes about this per training
batch of 32 rows of a small dense model here (measured: 1.7-2.2 ms for the tabular 64,64 MLP
on 700 and 3,500 rows), plus :data:`KERAS_EPOCH_SECONDS` per epoch and
:data:`KERAS_CELL_SECONDS` per cell."""
KERAS_EPOCH_SECONDS = 0.08
"""``model.fit``'s cost of an epoch beyond its training batches: the validation pass, the
callbacks (sweep's stop callback polls after every batch) and Keras' epoch bookkeeping
(measured here: 0.08-0.10 s per epoch for the tutorial's 30 rows, one batch)."""
KERAS_CELL_SECONDS = 1.3
"""A cell's cost beyond its epochs: ``clear_session``, building and compiling the model, tracing
the train and test functions in the first epoch, ``model.evaluate`` on train and test and
recording the cell (measured here: 0.9-1.4 s for the tutorial's and the tabular MLPs)."""
KERAS_START_SECONDS = 5.0
"""Once per run on the keras engine: a worker's first cell also loads the data and traces
TensorFlow's first functions (measured here: 3-8 s more than the cells after it)."""
POPULATION_STEP_SECONDS = 6e-5
"""The population engine's cost of one member's batch step of a small dense model, its share
of validation included (measured here, ``benchmarks/bench_dense.py``: 50-65 us for 64,64 MLPs
at batch 32), and :data:`POPULATION_CELL_SECONDS` per cell for its initial weights."""
POPULATION_CELL_SECONDS = 0.01
KERAS_PASS_SECONDS = 0.005
"""One eager ``model(x, training=True)`` call beyond its rows' arithmetic (measured here: 5 ms
for the tutorial's MLP on its 70 test rows)."""
POPULATION_COMPILE_SECONDS = 8.0
"""Once per run: tracing and compiling a population's program, and the Keras model built once
per group (measured here: 6-9 s for the tabular MLPs)."""


@dataclass(frozen=True)
class WorkEstimate:
    cells: int
    epochs: int
    engine: str
    workers: int
    seconds: float
    worker_bytes: int
    confirm_cells: int = 0  # the confirmation's, on fresh seeds (counted in ``seconds``)

    def describe(self) -> str:
        confirm = (f" + {self.confirm_cells:,} confirmation cells" if self.confirm_cells
                   else "")
        return (f"{self.cells:,} cells{confirm} x {self.epochs:,} epochs, about "
                f"{format_duration(self.seconds)} on the {self.engine} engine with "
                f"{self.workers} worker{'s' * (self.workers != 1)}")


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def worker_memory(engine: str, epochs: int, cells_per_claim: int) -> int:
    """Peak bytes of one worker process training claims of ``cells_per_claim`` cells."""
    if engine == "population":
        curves = cells_per_claim * epochs * CURVE_BYTES_PER_EPOCH * CURVE_COPIES
    else:
        curves = epochs * KERAS_HISTORY_BYTES_PER_EPOCH
    return BASE_WORKER_BYTES + curves


def available_memory() -> int:
    """MemAvailable from /proc/meminfo (total physical memory where that is missing)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


AUTO_WORKERS_SECONDS = 60.0
"""``--workers auto`` starts one worker per core for a sweep whose one-worker estimate is over
this, and trains a shorter one in the launching process: each worker is a process of one
intra-op thread (``sweep/_keras.py``) that imports TensorFlow and loads its programs, about 5 s
of CPU here. Measured on this 2-core machine, the tutorial's grid (1,740 cells x 4,000 epochs)
took 4 min 49 s with one worker and 2 min 55 s with two; 336 of its cells, 72 s and 55 s."""


def auto_workers(one_worker: WorkEstimate, cells_per_claim: int) -> int:
    """``--workers auto``: one per core (as memory allows, and no more than the sweep has
    claims of ``cells_per_claim`` cells) when ``one_worker``'s estimate is over
    :data:`AUTO_WORKERS_SECONDS`, else 1."""
    if one_worker.seconds <= AUTO_WORKERS_SECONDS:
        return 1
    claims = math.ceil((one_worker.cells + one_worker.confirm_cells) / max(cells_per_claim, 1))
    return max(1, min(machine_workers(one_worker.worker_bytes), claims))


def machine_workers(per_worker: int) -> int:
    """How many worker processes this machine can run: cores, and memory at ``per_worker``."""
    return max(1, min(cores(), available_memory() // max(per_worker, 1)))


def estimate(config: SweepConfig, cells_per_claim: int, workers: int) -> WorkEstimate:
    task = config.resolved_task
    engine = config.resolved_engine
    epochs = config.resolved_epochs
    cells = count_cells(config.rates, config.placements, config.max_norms, config.most_seeds)
    confirm_cells = 2 * (config.confirm or 0)
    per_cell = once = 0.0
    if engine == "keras":
        once, per_cell = KERAS_START_SECONDS, task.cell_seconds.get(engine, KERAS_CELL_SECONDS)
    elif engine == "population":  # its program is compiled once, whatever the task
        once = POPULATION_COMPILE_SECONDS
    per_epoch = task.epoch_seconds.get(engine)
    if per_epoch is None:  # not measured: from the training rows and the batch size
        rows = int(task_facts(task).shapes["train_x"][0][0])
        steps = math.ceil(rows / config.resolved_batch_size)
        if engine == "population":
            per_epoch, per_cell = POPULATION_STEP_SECONDS * steps, POPULATION_CELL_SECONDS
        else:
            per_epoch = STEP_SECONDS * steps + KERAS_EPOCH_SECONDS
    per_cell += mc_seconds(config, per_epoch)
    seconds = once + (cells + confirm_cells) * (epochs * per_epoch + per_cell) / max(
        1, min(workers, cores()))
    return WorkEstimate(cells, epochs, engine, workers, seconds,
                        worker_memory(engine, epochs, min(cells_per_claim, cells)), confirm_cells)


def mc_seconds(config: SweepConfig, per_epoch: float) -> float:
    """A cell's MC dropout passes: ``passes`` forward passes over the compared split (and test
    beside validation), for classification and regression tasks alike. On the population
    engine a row's forward pass is a third of its share of a training epoch (forward and
    backward; measured for text-gru: 1.06 s per cell of 50 passes over 400
    rows, estimated 1.08 s); on the keras engine each pass is an eager call,
    :data:`KERAS_PASS_SECONDS` plus a third of :data:`STEP_SECONDS` per 32 rows (a planning
    floor: eager recurrent layers cost far more, 0.36 s per text-gru pass here)."""
    if not config.mc_passes:
        return 0.0
    facts = task_facts(config.resolved_task)
    rows = int(facts.shapes["test_x"][0][0])
    if facts.compared_on == "validation":
        rows += int(facts.shapes["validation_x"][0][0])
    train_rows = int(facts.shapes["train_x"][0][0])
    if config.resolved_engine == "keras":
        return config.mc_passes * (KERAS_PASS_SECONDS + rows * STEP_SECONDS / (3 * 32))
    return config.mc_passes * rows * per_epoch / (3 * train_rows)


def check_budget(work: WorkEstimate, allow_large: bool) -> None:
    """Refuse work beyond the bounds in the module docstring, with the estimate and the fix."""
    if work.cells > HARD_CELLS:
        raise ConfigError(
            f"the grid has {work.cells:,} cells, more than the {HARD_CELLS:,} sweep runs in one "
            "study; use fewer rates, placements, max-norms or seeds"
        )
    free = available_memory()
    if work.worker_bytes > free:
        raise ConfigError(
            f"a worker would need about {work.worker_bytes / 2**30:.1f} GiB ({work.epochs:,} "
            f"epochs of learning curves per claimed cell), more than the "
            f"{free / 2**30:.1f} GiB available; use fewer epochs or a smaller --cells-per-claim"
        )
    if allow_large:
        return
    if work.cells > SOFT_CELLS or work.seconds > SOFT_SECONDS:
        raise ConfigError(
            f"this sweep is large: {work.describe()} (estimate); shrink the grid (fewer rates, "
            "max-norms, seeds or epochs) or pass --allow-large (TOML: allow_large = true) "
            "to run it anyway"
        )
