from __future__ import annotations

from sweep.config import SweepConfig
from sweep.grid import BASELINE_PLACEMENT, Cell, expand


def test_baseline_is_one_cell_per_max_norm_and_seed() -> None:
    cells = expand([0.0, 0.5], ["input", "hidden", "both"], [None, 3.0], [0, 1])
    baseline = [c for c in cells if c.rate == 0.0]
    assert len(baseline) == 2 * 2
    assert {c.placement for c in baseline} == {BASELINE_PLACEMENT}
    assert len(cells) == 4 + 3 * 2 * 2


def test_default_sweep_is_the_tutorial_grid() -> None:
    cells = SweepConfig().cells()
    # 9 rates x 3 placements x 6 max-norms x 10 seeds + baseline 6 max-norms x 10 seeds
    assert len(cells) == 9 * 3 * 6 * 10 + 6 * 10 == 1680
    assert len({c.key for c in cells}) == len(cells)
    assert {c.rate for c in cells} == {round(r / 10, 6) for r in range(10)}


def test_cells_are_deduplicated_and_keys_are_stable() -> None:
    cells = expand([0.4, 0.4, 0.30000000000000004], ["hidden"], [None], [0])
    assert [c.key for c in cells] == [
        "rate=0.4|placement=hidden|max_norm=none|seed=0",
        "rate=0.3|placement=hidden|max_norm=none|seed=0",
    ]


def test_circles_interprets_its_placements() -> None:
    from sweep.tasks.circles import on_hidden, on_input

    assert on_input(Cell(0.2, "input", None, 0))
    assert not on_hidden(Cell(0.2, "input", None, 0))
    both = Cell(0.2, "both", 2.0, 0)
    assert on_input(both) and on_hidden(both)
    assert not on_hidden(Cell(0.0, BASELINE_PLACEMENT, None, 0))


def test_cell_carries_no_task_words() -> None:
    """The cell holds the placement; only the task interprets it."""
    cell = Cell(0.2, "input", None, 0)
    assert {name for name in dir(cell) if not name.startswith("_")} == {
        "rate", "placement", "max_norm", "seed", "group", "key"}
