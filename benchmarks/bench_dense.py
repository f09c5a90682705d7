"""Speed on dense models: the population engine against ``model.fit``, same cells, one run.

Three tasks, both engines in this process, model-epochs per second and the ratio:

(a) the tutorial (circles, 2-500-1, one full batch per epoch: hand-derived dense gradients);
(b) a tabular task of 569 rows x 30 features (scikit-learn's breast cancer written to a CSV),
    ``--task tabular`` with hidden layers 64,64 and batch 32 (398 training rows: 13 steps per
    epoch), binary;
(c) a 10-class MLP on scikit-learn's digits (1,797 rows x 64 features, the same tabular task,
    64,64, batch 32: 40 steps per epoch).

Population figures are per member: a claim of ``--cells`` cells (rates 0-0.5 on both
placements, several seeds), trained after one short warm-up (compilation is per process and
population shape; its cost, for every shape the claim uses, is printed apart), initial weights
included. ``model.fit`` figures
are ``--keras-cells`` whole cells as the Keras engine trains them (build, fit, evaluate).
Memory per member: its weights, optimizer slots, one step's activations and gradients, and its
curves, in float32 (the process itself, TensorFlow included, is about 0.8 GB). Targets: (a) >=
300x, (b) and (c) >= 100x.

    python benchmarks/bench_dense.py [--epochs N] [--cells N] [--keras-cells N] [--only a,b,c]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

TARGETS = {"a": 300.0, "b": 100.0, "c": 100.0}


def _csv(folder: Path, name: str) -> Path:
    from sklearn.datasets import load_breast_cancer, load_digits

    frame = (load_breast_cancer if name == "cancer" else load_digits)(as_frame=True).frame
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def _config(key: str, folder: Path, cells: int) -> Any:
    from sweep.config import SweepConfig

    seeds = max(1, -(-cells // 11))
    if key == "a":
        return SweepConfig(rates="0:0.5:0.1", placements="input,hidden", seeds=seeds)
    path = _csv(folder, "cancer" if key == "b" else "digits")
    return SweepConfig(task="tabular", data=str(path), target="target", hidden_units="64,64",
                       rates="0:0.5:0.1", seeds=seeds)


def _bench(key: str, folder: Path, args: argparse.Namespace) -> dict[str, float]:
    from sweep.engines import TrainSettings, train_all
    from sweep.engines.keras_fit import KerasFitEngine
    from sweep.engines.population import PopulationEngine
    from sweep.tasks import get_task

    config = _config(key, folder, args.cells)
    task = get_task(config.task)
    cells = config.cells()
    settings = TrainSettings(args.epochs, config.resolved_batch_size)
    engine = PopulationEngine()
    claim = cells[: args.cells]
    began = time.perf_counter()
    train_all(engine, task, claim, TrainSettings(2, settings.batch_size))
    warm_up = time.perf_counter() - began  # compiles every population size the claim uses
    began = time.perf_counter()
    train_all(engine, task, claim, settings)
    population = (time.perf_counter() - began) / (len(claim) * args.epochs)
    keras = KerasFitEngine()
    began = time.perf_counter()
    for cell in cells[1 : 1 + args.keras_cells]:
        keras.train_one(task, cell, settings)
    fit = (time.perf_counter() - began) / (args.keras_cells * args.epochs)
    return {"population": population, "fit": fit, "warm_up": warm_up,
            "member_mb": _member_bytes(task, settings) / 2**20, "cells": float(len(claim))}


def _member_bytes(task: Any, settings: Any) -> float:
    """A member's state on the device: weights and optimizer slots (2 for Adam), a step's
    activations and gradients (about 4 floats per unit and row of the batch), its curves."""
    from sweep.engines._chain_members import build_member
    from sweep.grid import BASELINE_PLACEMENT, Cell

    member = build_member(task, Cell(0.0, BASELINE_PLACEMENT, None, 0))
    weights = sum(w.size for w in member.weights)
    rows = min(settings.batch_size, len(task.load_data().train_x))
    units = member.structure.input_shape[-1] + sum(
        getattr(spec, "units", 0) for spec in member.structure.specs)
    activations = 4 * rows * units
    return 4 * (weights * (1 + member.structure.rule.slots) + activations
                + 4 * settings.epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs per cell (100)")
    parser.add_argument("--cells", type=int, default=128, help="population cells (128)")
    parser.add_argument("--keras-cells", type=int, default=2, help="model.fit cells (2)")
    parser.add_argument("--only", default="a,b,c", help="which tasks (a,b,c)")
    args = parser.parse_args()
    names = {"a": "tutorial 2-500-1, full batch", "b": "tabular 569x30, 64,64, batch 32",
             "c": "digits 10-class, 64,64, batch 32"}
    one, five, _ = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {one:.1f} / {five:.1f}; {args.epochs} epochs")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for key in args.only.split(","):
            result = _bench(key, Path(folder), args)
            ratio = result["fit"] / result["population"]
            verdict = "meets" if ratio >= TARGETS[key] else "MISSES"
            rows.append(
                f"({key}) {names[key]:<34} model.fit {1 / result['fit']:8.1f} epochs/s | "
                f"population {1 / result['population']:9.0f} model-epochs/s | "
                f"{ratio:6.0f}x ({verdict} {TARGETS[key]:.0f}x) | "
                f"{result['member_mb']:.2f} MB/member | warm-up {result['warm_up']:.1f} s")
            print(rows[-1], flush=True)


if __name__ == "__main__":
    main()
