"""What recording costs: enqueue, claim and record N cells with synthetic 4000-epoch results.

    python benchmarks/bench_recording.py [--cells 200] [--epochs 4000] [--storage URL]

Prints seconds per cell for each phase, so recording can be compared with training time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sweep.config import build_config
from sweep.engines import CellResult, Curves
from sweep.grid import Cell
from sweep.runner import open_for_run


def synthetic_result(cell: Cell, epochs: int, rng: np.random.Generator) -> CellResult:
    curve = rng.random((4, epochs), dtype=np.float32)
    return CellResult(cell, 0.9, 0.8, 0.2, 0.4, 1.0, Curves.from_stacked(curve), "synthetic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=4000)
    parser.add_argument("--per-claim", type=int, default=64)
    parser.add_argument("--storage")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        storage = args.storage or f"sqlite:///{Path(tmp) / 'bench.db'}"
        seeds = max(1, args.cells // 10)
        config = build_config(None, {"study": "bench", "storage": storage, "rates": "0.1:0.9:0.1",
                                     "placements": "hidden", "max_norms": "none",
                                     "seeds": str(seeds), "epochs": str(args.epochs)})
        cells = config.cells()
        sweep_study = open_for_run(config)
        rng = np.random.default_rng(0)
        import tensorflow  # noqa: F401 - imported by any engine; recording reports its version
        start = time.perf_counter()
        sweep_study.enqueue_missing(cells)
        enqueue = time.perf_counter() - start
        claim_s = record_s = 0.0
        done = 0
        while True:
            start = time.perf_counter()
            claims = sweep_study.claim(args.per_claim)
            claim_s += time.perf_counter() - start
            if not claims:
                break
            results = [synthetic_result(c.cell, args.epochs, rng) for c in claims]
            start = time.perf_counter()
            sweep_study.record(claims, results)
            record_s += time.perf_counter() - start
            done += len(claims)
        print(f"storage: {storage.split(':')[0]}, cells: {done}, epochs: {args.epochs}")
        for name, seconds in (("enqueue", enqueue), ("claim", claim_s), ("record", record_s)):
            print(f"{name:8s} {seconds:8.2f} s  {1000 * seconds / done:8.1f} ms/cell")
        db = Path(tmp) / "bench.db"
        if not args.storage and db.exists():
            import sqlite3

            with sqlite3.connect(db) as connection:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"database size: {db.stat().st_size / done / 1024:.1f} KB per trial")
        total = enqueue + claim_s + record_s
        print(f"{'total':8s} {total:8.2f} s  {1000 * total / done:8.1f} ms/cell; "
              f"projected for the 1,680-cell default sweep: {total / done * 1680:.0f} s")


if __name__ == "__main__":
    main()
