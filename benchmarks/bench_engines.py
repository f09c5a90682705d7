"""Training speed: the population engine against the Keras engine (``model.fit``), same cells.

Runs both engines in this process on cells drawn evenly from the default tutorial sweep
(``SweepConfig().cells()``: 10 rates x 3 placements x 6 max-norms x 10 seeds, the rate-0
baseline deduplicated, 1,680 cells), prints model-epochs per second for each and the ratio, where
a population cell's time goes (initial weights, tracing + XLA compilation, the epoch loop), and
the projected time of training the whole default sweep (4,000 epochs) with the population
engine. ``--full-default`` then trains all of it, claim by claim as a worker would (engine only:
no study, no recording), and prints the measured time and the peak RSS.

Targets: ratio >= 300x; the default sweep's training in <= 10 minutes (stretch <= 5).

    python benchmarks/bench_engines.py [--epochs N] [--keras-cells N] [--population-cells N]
                                       [--full-default]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sweep.engines.population import PopulationEngine
    from sweep.grid import Cell
    from sweep.tasks import Task

T = TypeVar("T")

RATIO_TARGET = 300.0
SWEEP_TARGET_SECONDS = 600.0
SWEEP_STRETCH_SECONDS = 300.0


def _spread(cells: Sequence[T], count: int) -> list[T]:
    """``count`` cells spread over the whole list (every rate, placement and max-norm)."""
    count = min(count, len(cells))
    step = len(cells) / count
    return [cells[int(i * step)] for i in range(count)]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min) on {os.cpu_count()} cores"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="epochs per cell (default 300)")
    parser.add_argument("--keras-cells", type=int, default=2, help="cells for model.fit (2)")
    parser.add_argument("--population-cells", type=int, default=128,
                        help="cells for the population engine (default 128, one claim)")
    parser.add_argument("--full-default", action="store_true",
                        help="also train the whole default sweep (1,680 cells x 4,000 epochs)")
    args = parser.parse_args()

    from sweep._keras import import_keras
    from sweep.config import SweepConfig
    from sweep.engines import TrainSettings, train_all
    from sweep.engines._chain_dense import MEMBERS
    from sweep.engines._chain_members import MemberBuilder, build_member
    from sweep.engines.keras_fit import KerasFitEngine
    from sweep.engines.population import PopulationEngine
    from sweep.tasks import get_task

    import_keras()
    config = SweepConfig(engine="population")
    task = get_task(config.task)
    sweep_cells = config.cells()
    settings = TrainSettings(args.epochs, config.resolved_batch_size)
    print(f"{_load()}; {args.epochs} epochs per cell")

    # ---- the reference: model.fit, one cell at a time
    keras_cells = _spread(sweep_cells, args.keras_cells)
    start = time.perf_counter()
    train_all(KerasFitEngine(), task, keras_cells, settings)
    keras_seconds = time.perf_counter() - start
    keras_rate = len(keras_cells) * args.epochs / keras_seconds
    print(f"keras      {len(keras_cells):4d} cells: {keras_seconds:7.1f} s  "
          f"{keras_rate:10.1f} model-epochs/s  ({1000 / keras_rate:.1f} ms per epoch)")

    # ---- the population engine: cold (tracing + compilation included), then warm
    population_cells = _spread(sweep_cells, args.population_cells)
    engine = PopulationEngine()
    start = time.perf_counter()
    train_all(engine, task, population_cells, settings)
    cold_seconds = time.perf_counter() - start
    start = time.perf_counter()
    train_all(engine, task, population_cells, settings)
    warm_seconds = time.perf_counter() - start
    member_epochs = len(population_cells) * args.epochs
    warm_rate = member_epochs / warm_seconds
    cold_rate = member_epochs / cold_seconds
    print(f"population {len(population_cells):4d} cells: {warm_seconds:7.1f} s  "
          f"{warm_rate:10.1f} model-epochs/s  ({1e6 / warm_rate:.1f} us per model-epoch; "
          f"first call {cold_seconds:.1f} s = {cold_rate:.1f} model-epochs/s with compilation)")
    ratio = warm_rate / keras_rate
    verdict = "meets" if ratio >= RATIO_TARGET else "MISSES"
    print(f"ratio      {ratio:,.0f}x warm ({cold_rate / keras_rate:,.0f}x with compilation); "
          f"{verdict} the {RATIO_TARGET:.0f}x target")

    # ---- where a population cell's time goes
    profile_cells = _spread(sweep_cells, 64)
    build = MemberBuilder(task)
    for cell in profile_cells:  # one real build per group: the templates
        build(cell)
    start = time.perf_counter()
    for cell in profile_cells:
        build(replace(cell, seed=cell.seed + 1))  # replayed from the group's template
    fast_init_seconds = (time.perf_counter() - start) / len(profile_cells)
    start = time.perf_counter()
    for cell in profile_cells[:8]:
        build_member(task, cell)
    model_init_seconds = (time.perf_counter() - start) / 8
    compile_seconds = max(cold_seconds - warm_seconds, 0.0)
    loop_seconds = warm_seconds - fast_init_seconds * len(population_cells)
    print(f"profile    initial weights {fast_init_seconds * 1000:.2f} ms per replayed cell "
          f"(building the Keras model, once per group: {model_init_seconds * 1000:.1f} ms); "
          f"tracing + XLA compilation {compile_seconds:.1f} s per {MEMBERS}-member program, "
          "once per process whatever the epochs; "
          f"epoch loop {loop_seconds / member_epochs * 1e6:.1f} us per model-epoch")

    # ---- the default sweep, projected from the warm rate, and optionally measured
    default_epochs = config.resolved_epochs
    default_member_epochs = len(sweep_cells) * default_epochs
    projected = (
        default_member_epochs * loop_seconds / member_epochs
        + len(sweep_cells) * fast_init_seconds
        + 2 * compile_seconds  # a full-size and a padded last population, compiled once each
    )
    print(f"default sweep: {len(sweep_cells)} cells x {default_epochs} epochs = "
          f"{default_member_epochs:,} model-epochs; projected {projected:.0f} s "
          f"({projected / 60:.1f} min) with the population engine, "
          f"{default_member_epochs / keras_rate / 3600:.0f} h with model.fit")

    if args.full_default:
        _train_default_sweep(engine, task, sweep_cells, default_epochs, config.resolved_batch_size)


def _train_default_sweep(
    engine: PopulationEngine, task: Task, cells: list[Cell], epochs: int, batch_size: int
) -> None:
    from sweep.engines import TrainSettings, train_all

    settings = TrainSettings(epochs, batch_size)
    per_claim = engine.cells_per_claim(task, settings)
    print(f"training the default sweep: {len(cells)} cells, {per_claim} per claim ({_load()})")
    start = time.perf_counter()
    for first in range(0, len(cells), per_claim):
        claim = cells[first : first + per_claim]
        train_all(engine, task, claim, settings)
        done = first + len(claim)
        elapsed = time.perf_counter() - start
        print(f"  {done:5d}/{len(cells)} cells  {elapsed:7.1f} s", flush=True)
    total = time.perf_counter() - start
    verdict = (
        "meets the 5-minute stretch target" if total <= SWEEP_STRETCH_SECONDS
        else "meets the 10-minute target" if total <= SWEEP_TARGET_SECONDS
        else "MISSES the 10-minute target"
    )
    print(f"default sweep trained in {total:.0f} s ({total / 60:.1f} min): {verdict}; "
          f"{len(cells) * epochs / total:,.0f} model-epochs/s; peak RSS {_peak_rss_mb():.0f} MB; "
          f"{_load()}")


if __name__ == "__main__":
    main()
