"""Regenerate the stored ``model.fit`` references: real ``model.fit`` for every cell.

    .venv/bin/python -m tests.references.regenerate            every reference
    .venv/bin/python -m tests.references.regenerate NAME ...   those named
    .venv/bin/python -m tests.references.regenerate --list     their names and sizes
    ... --out DIR                                               write there, not to data/

Run it from the repository's root after TensorFlow, Keras or NumPy changed, or after a
reference's model, data or cells changed (``tests/references/definitions.py`` and
``models.py``); the guard tests say which. The cells are fitted on two processes where there
are two cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from sweep.grid import Cell

from .definitions import DEFINITIONS
from .store import fit, write


def _part(name: str, cells: list[Cell]) -> list[dict[str, Any]]:
    definition = DEFINITIONS[name]
    task = definition.task_of()
    return [fit(task, cell, definition) for cell in cells]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.references.regenerate",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="references to regenerate (default: all)")
    parser.add_argument("--list", action="store_true", help="list the references")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory to write to (default: tests/references/data)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in DEFINITIONS]
    if unknown:
        parser.error(f"no reference named {', '.join(unknown)}; known: {', '.join(DEFINITIONS)}")
    if args.list:
        for definition in DEFINITIONS.values():
            print(f"{definition.name}: {len(definition.cells)} cells x {definition.epochs} "
                  f"epochs ({definition.task})")
        return 0
    names = args.names or list(DEFINITIONS)
    processes = min(2, os.cpu_count() or 1)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        started = time.perf_counter()
        parts: dict[str, list[Future[list[dict[str, Any]]]]] = {
            name: [pool.submit(_part, name, list(DEFINITIONS[name].cells[i::processes]))
                   for i in range(processes)]
            for name in names}
        for name, futures in parts.items():
            records = [record for future in futures for record in future.result()]
            path = write(DEFINITIONS[name], records, time.perf_counter() - started, args.out)
            print(f"{name}: {len(records)} cells -> {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
