"""Cells per second with 1 and 2 worker processes on this machine, for each engine.

    python benchmarks/bench_workers.py [--keras-cells 8 --keras-epochs 200]
                                       [--population-cells 320 --population-epochs 1000]

Each measurement is a real ``python -m sweep run --workers N`` on a fresh SQLite study, timed
from start to exit (process start-up, enqueueing, training, recording and the report included).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(engine: str, cells: int, epochs: int, workers: int) -> float:
    seeds = max(1, cells // 8)  # 8 cells per seed: baseline + rates 0.2..0.8 hidden (7)
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "sweep", "run", "--study", "bench",
            "--storage", f"sqlite:///{Path(tmp) / 'bench.db'}", "--engine", engine,
            "--rates", "0,0.2,0.3,0.4,0.5,0.6,0.7,0.8", "--placements", "hidden",
            "--max-norms", "none", "--seeds", str(seeds), "--epochs", str(epochs),
            "--workers", str(workers), "--no-progress",
        ]
        start = time.perf_counter()
        subprocess.run(command, cwd=tmp, check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keras-cells", type=int, default=8)
    parser.add_argument("--keras-epochs", type=int, default=200)
    parser.add_argument("--population-cells", type=int, default=320)
    parser.add_argument("--population-epochs", type=int, default=1000)
    args = parser.parse_args()
    plans = [("keras", args.keras_cells, args.keras_epochs),
             ("population", args.population_cells, args.population_epochs)]
    print(f"{'engine':11s} {'cells':>5s} {'epochs':>6s} {'workers':>7s} {'seconds':>8s} "
          f"{'cells/s':>8s} {'model-epochs/s':>15s}")
    for engine, cells, epochs in plans:
        rates = {}
        for workers in (1, 2):
            seconds = measure(engine, cells, epochs, workers)
            n = max(1, cells // 8) * 8
            rates[workers] = n / seconds
            print(f"{engine:11s} {n:5d} {epochs:6d} {workers:7d} {seconds:8.1f} "
                  f"{n / seconds:8.2f} {n * epochs / seconds:15.0f}")
        print(f"{engine}: 2 workers / 1 worker = {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
