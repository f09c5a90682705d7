"""The progress bar: fractions of cells from several workers, settled by whole cells."""

from __future__ import annotations

import re
import sys
import warnings

import pytest
from tqdm import TqdmWarning

from sweep.progress import Progress


def test_fractions_that_overshoot_in_floating_point_never_pass_the_total(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TqdmWarning)  # "clamping frac" past the total
        with Progress(3, 0, enabled=True) as progress:
            for _ in range(30):
                progress.advance(0.1, source=1)  # sums to 3.0000000000000013
            assert sum([0.1] * 30) > 3
            assert progress._bar.n <= 3
            progress.settle(3, source=1)
            assert progress._bar.n == pytest.approx(3)
    assert "3/3 cells" in capsys.readouterr().err


def test_each_worker_settles_its_own_claim() -> None:
    with Progress(4, 1, enabled=True) as progress:
        progress.advance(0.5, source=0)
        progress.advance(0.75, source=1)
        progress.settle(0, source=0)  # worker 0's cell failed: its half goes back
        assert progress._bar.n == pytest.approx(1.75)
        progress.settle(1, source=1)
        assert progress._bar.n == pytest.approx(2)


def test_without_a_total_the_bar_counts_whole_cells_and_lines_go_above_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A race's bar (no total): fractions of cells done show as whole cells, and a line
    logged while the bar is shown starts on its own line, ends with a newline, and the bar
    is drawn again below it."""
    line = "race after round 1 (2 seeds): 0 group(s) eliminated, 0 tied, 2 racing"
    with Progress(0, 0, enabled=True) as progress:
        log = progress.above(lambda text: print(text, file=sys.stderr, flush=True))
        for _ in range(7):
            progress.advance(0.3)
        progress._bar.refresh()  # draw the fractional count (tqdm draws at most twice a second)
        log(line)
        progress.settle(2)
        progress._bar.refresh()
    err = capsys.readouterr().err
    counts = re.findall(r"cells: (\S+)", err)
    assert counts and all(re.fullmatch(r"\d+", count) for count in counts), err
    assert re.search(r"cells: 2 done", err), err
    before, after = err.split(line)
    assert re.search(r"[\r\n] *\r?$", before), repr(before)  # the bar cleared, not glued to
    assert after.startswith("\n") and "cells: 2 done" in after  # the bar again, below it


def test_without_a_bar_lines_are_logged_as_they_are() -> None:
    lines: list[str] = []
    with Progress(0, 0, enabled=False) as progress:
        progress.above(lines.append)("a line")
    assert lines == ["a line"]
