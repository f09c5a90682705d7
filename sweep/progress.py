"""A progress bar with ETA on stderr, as a context manager with a do-nothing variant.

Engines report progress in fractions of cells (an epoch of one cell is ``1 / epochs``), so the
bar moves every population chunk or every epoch, not once per claim, and tqdm's smoothed rate
gives an ETA from the work actually done. When a claim ends, :meth:`Progress.settle` replaces
the fractions reported for it by the cells that really completed (a failed or interrupted cell
gives its progress back).

Cells are counted whole on the bar, with or without a total (a race, or a worker, does not know
how many cells it will train: its bar counts the cells done and their rate, never "0.42cell").
Lines logged while the bar is shown go above it, each on its own line (:meth:`Progress.above`).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total_fmt} cells [{elapsed}<{remaining}]"
COUNT_FORMAT = "{desc}: {n:.0f} done [{elapsed}, {rate_fmt}]"
"""Without a total (a race, a worker): whole cells done, and the time per cell."""
Log = Callable[[str], None]


class Progress:
    def __init__(self, total: int, done: int, *, enabled: bool) -> None:
        self._bar: Any = None
        self._open: dict[int, float] = {}  # per worker: progress of its claim, not yet settled
        self._position = float(done)  # unclamped; the bar shows it clamped to [0, total]
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total or None, initial=done, unit="cell", desc="cells",
                             dynamic_ncols=True, smoothing=0.1, mininterval=0.5,
                             bar_format=BAR_FORMAT if total else COUNT_FORMAT)

    def advance(self, cells: float, source: int = 0) -> None:
        """Work done on cells still in training (fractions allowed), by worker ``source``."""
        self._open[source] = self._open.get(source, 0.0) + cells
        self._move(cells)

    def settle(self, completed: int, source: int = 0) -> None:
        """Worker ``source``'s claim is over: ``completed`` cells of it completed."""
        self._move(completed - self._open.pop(source, 0.0))

    def above(self, log: Log) -> Log:
        """``log`` writing above the bar: the bar is cleared, the line written on a line of
        its own, the bar drawn again below it (without a bar, ``log`` itself)."""
        bar = self._bar
        if bar is None:
            return log

        def write(line: str) -> None:
            bar.clear()
            log(line)
            bar.refresh()

        return write

    def _move(self, cells: float) -> None:
        """Fractions summed in floating point can overshoot the total by a hair; the bar
        never goes past it (nor below 0)."""
        self._position += cells
        if self._bar is not None:
            shown = max(0.0, self._position)
            if self._bar.total:
                shown = min(shown, float(self._bar.total))
            self._bar.update(shown - self._bar.n)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()
