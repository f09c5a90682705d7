"""The progress bar: fractions of cells from several workers, settled by whole cells."""

from __future__ import annotations

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
