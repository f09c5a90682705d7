"""A progress bar with ETA on stderr, as a context manager with a do-nothing variant."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class Progress:
    def __init__(self, total: int, done: int, *, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=done, unit="cell", desc="cells",
                             dynamic_ncols=True, smoothing=0.1)

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

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
