"""One program for every model: the tutorial's task, built in and as a user's file, now and before.

The population engine chooses what it specialises by the model's structure, so the tutorial's
model written as a user's task file (``benchmarks/tutorial_task.py``: the same layers and data
under another name) must train as fast as the built-in ``circles`` task. This benchmark trains
both on the same cells (``--cells`` spread over the default sweep, ``--epochs`` each), warm
(compilation measured apart), in one run, for this checkout and for an earlier revision
(``--before``, default the last one with the hand-written circles program) checked out in a
temporary git worktree. Each side runs in its own process, ``--rounds`` times alternately; the
medians are printed per member-epoch, with each figure's ratio to the earlier built-in task.

    python benchmarks/bench_one_program.py [--before REV] [--cells N] [--epochs N] [--rounds N]
                                           [--threads N]
    python benchmarks/bench_one_program.py --default-sweep [--before REV] [--seeds N]

Each revision trains with its own default thread count (this one: one intra-op thread per
process, ``sweep/_keras.py``; 2541e9a: TensorFlow's default, one per core); ``--threads N``
gives both sides ``TF_NUM_INTRAOP_THREADS=N``, comparing the programs alone.

``--default-sweep`` times instead what a user gets from each revision: ``python -m sweep run``
with every default (the tutorial's grid, its confirmation, each revision's threads, workers and
MC passes; ``--seeds N`` for a smaller grid), start to exit, in an empty folder, once per side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER_TASK = Path(__file__).resolve().parent / "tutorial_task.py"
BEFORE = "2541e9a"  # the last revision with engines/_population_graph.py (task-name choice)


def _measure(cells: int, epochs: int, repeats: int) -> dict[str, float]:
    """Seconds per member-epoch of the warm engine, built-in and user task alternately."""
    from sweep.config import SweepConfig
    from sweep.engines import TrainSettings, train_all
    from sweep.engines.population import PopulationEngine
    from sweep.tasks import get_task

    grid = SweepConfig().cells()
    step = len(grid) / cells
    chosen = [grid[int(i * step)] for i in range(cells)]
    settings = TrainSettings(epochs, 32)
    tasks = {"built-in": get_task("circles"), "user": get_task(str(USER_TASK))}
    engines = {name: PopulationEngine() for name in tasks}
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for name, task in tasks.items():  # cold: tracing and XLA compilation
        began = time.perf_counter()
        train_all(engines[name], task, chosen, settings)
        times[f"{name} cold"] = [time.perf_counter() - began]
    for _ in range(repeats):
        for name, task in tasks.items():
            began = time.perf_counter()
            train_all(engines[name], task, chosen, settings)
            times[name].append(time.perf_counter() - began)
    work = cells * epochs
    return {name: statistics.median(values) / work for name, values in times.items()}


def _side(root: Path, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if args.threads:
        env["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
    result = subprocess.run(
        [sys.executable, __file__, "--measure", "--cells", str(args.cells), "--epochs",
         str(args.epochs), "--repeats", str(args.repeats)],
        env=env, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _default_sweep(root: Path, seeds: int) -> float:
    """Wall seconds of ``python -m sweep run`` with the defaults, from ``root``'s code."""
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "sweep", "run", "--study", "bench", "--no-progress"]
    if seeds != 10:
        command += ["--seeds", str(seeds)]
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True)
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE, help=f"earlier revision (default {BEFORE})")
    parser.add_argument("--cells", type=int, default=128, help="cells per task (default 128)")
    parser.add_argument("--epochs", type=int, default=2000, help="epochs per cell (2000)")
    parser.add_argument("--rounds", type=int, default=2, help="processes per side (2)")
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per process (2)")
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for both sides (default: each side's own)")
    parser.add_argument("--default-sweep", action="store_true",
                        help="time `python -m sweep run` with each revision's defaults instead")
    parser.add_argument("--seeds", type=int, default=10, help="--default-sweep: seeds (10)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(args.cells, args.epochs, args.repeats)))
        return
    one, five, _ = os.getloadavg()
    what = (f"the default sweep on {args.seeds} seeds" if args.default_sweep
            else f"{args.cells} cells x {args.epochs} epochs per task")
    print(f"{what}; load average {one:.1f} / {five:.1f} on {os.cpu_count()} cores; before = "
          f"{args.before}; intra-op threads: {args.threads or 'each side its own default'}")
    with tempfile.TemporaryDirectory() as folder:
        worktree = Path(folder) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree),
                        args.before], check=True, capture_output=True)
        try:
            if args.default_sweep:
                before = _default_sweep(worktree, args.seeds)
                now = _default_sweep(ROOT, args.seeds)
                print(f"python -m sweep run, defaults, {args.seeds} seeds: before {before:.1f} s, "
                      f"now {now:.1f} s ({before / now:.2f}x the earlier speed)")
                return
            runs: dict[str, list[dict[str, float]]] = {"before": [], "now": []}
            for _ in range(args.rounds):
                runs["before"].append(_side(worktree, args))
                runs["now"].append(_side(ROOT, args))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(worktree)], check=False, capture_output=True)
    figures = {(side, name): statistics.median(r[name] for r in rounds)
               for side, rounds in runs.items() for name in rounds[0]}
    base = figures[("before", "built-in")]
    for side in ("before", "now"):
        for name in ("built-in", "user"):
            value = figures[(side, name)]
            cold = figures[(side, f"{name} cold")] * args.cells * args.epochs
            print(f"{side:6s} {name:8s} {value * 1e6:6.1f} us per member-epoch "
                  f"({base / value:.2f}x the earlier built-in task's speed); "
                  f"first run {cold:.1f} s with compilation")


if __name__ == "__main__":
    main()
