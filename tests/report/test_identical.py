"""Groups whose per-seed results are identical (a max-norm that never binds) are one row in the
closing table, the report's ranked table and status, labelled with every setting they stand
for; ``summary`` keeps a row each and names the group each is identical to; Holm's family
counts each distinct comparison once; a factor that changed nothing is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sweep.grid import Cell, Group
from sweep.report.export import group_table
from sweep.report.status import study_status
from sweep.report.summary import SweepSummary, summarize
from sweep.report.tables import table_rows
from sweep.report.terminal import closing_table, status_text
from sweep.report.text import notes
from sweep.stats import holm
from sweep.storage.synthetic import build_study

NORMS = (None, 2.0, 3.0, 4.0)


def _known(cell: Cell, rng: np.random.Generator) -> tuple[float, float]:
    """No max-norm binds except 2 on hidden dropout at rate 0.4: every other norm gives the
    unconstrained group's numbers exactly."""
    jitter = ((cell.seed * 3 + int(cell.rate * 10) + len(cell.placement)) % 5) * 0.01
    binds = 0.02 if (cell.max_norm, cell.rate, cell.placement) == (2.0, 0.4, "hidden") else 0
    effect = {0.0: 0.0, 0.4: 0.03, 0.8: -0.04}[cell.rate]
    return 1.0 - cell.rate / 5, 0.74 + effect + jitter + binds


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[SweepSummary, object]:
    db = tmp_path_factory.mktemp("identical") / "i.db"
    sweep_study = build_study(f"sqlite:///{db}", "i", rates=(0.0, 0.4, 0.8),
                              placements=("input", "hidden"), max_norms=NORMS, seeds=6,
                              accuracy=_known, with_curves=False, dashboard_points=0)
    return summarize(sweep_study.records(), sweep_study.task), sweep_study


def test_identical_groups_are_marked_and_tested_once(made: tuple[SweepSummary, object]) -> None:
    summary, _ = made
    hidden = {n: summary.get(Group(0.4, "hidden", n)) for n in NORMS}
    assert hidden[None].identical_to is None and hidden[2.0].identical_to is None  # type: ignore
    assert hidden[3.0].identical_to == Group(0.4, "hidden", None)  # type: ignore[union-attr]
    assert summary.get(Group(0.0, "none", 4.0)).identical_to == Group(0.0, "none", None)  # type: ignore
    distinct = {(g.identical_to or g.group, g.vs_baseline.p) for g in summary.groups
                if g.vs_baseline is not None}
    raw = {}
    for lead, p in distinct:
        raw.setdefault(lead, p)
    expected = dict(zip(raw, holm(list(raw.values())), strict=True))
    assert len(raw) == 5  # 4 dropout models without norm effect, and 0.4 hidden at norm 2
    for g in summary.groups:
        if g.vs_baseline is not None:
            assert g.vs_baseline.p_holm == pytest.approx(expected[g.identical_to or g.group])


def test_one_row_per_result_labelled_with_every_setting(made: tuple[SweepSummary, object]) -> None:
    summary, sweep_study = made
    closing = closing_table(summary).splitlines()
    assert any(line.split()[:3] == ["0.4", "hidden", "none,3,4"] for line in closing), closing
    assert any(line.split()[:3] == ["0.4", "hidden", "2"] for line in closing), closing
    assert any(line.split()[:3] == ["0", "none", "none-4"] for line in closing), closing
    _, rows = table_rows(summary, sweep_study.task)  # type: ignore[attr-defined]
    assert len(rows) == 6  # 4 + the binding norm + the baseline, of 20 groups
    assert any(cells[1:4] == ["0.8", "input", "none-4"] for _, cells in rows)
    records = sweep_study.records()  # type: ignore[attr-defined]
    status = study_status("i", sweep_study.settings, records,  # type: ignore[attr-defined]
                          task=sweep_study.task)  # type: ignore[attr-defined]
    text = status_text(status, "sqlite:///i.db")
    assert sum(1 for line in text.splitlines() if line.split()[:2] == ["0.4", "hidden"]) == 2
    table = group_table(summary)
    assert len(table.rows) == 20
    same = dict(((r[0], r[1], r[2]), r[-1]) for r in table.rows)
    assert same[(0.4, "hidden", 3.0)] == "rate=0.4 placement=hidden max_norm=none"
    assert same[(0.4, "hidden", 2.0)] is None and same[(0.4, "hidden", None)] is None


def test_the_report_names_a_factor_that_changed_nothing(tmp_path: Path,
                                                        made: tuple[SweepSummary, object]) -> None:
    summary, sweep_study = made
    said = " ".join(notes(summary, sweep_study.task))  # type: ignore[attr-defined]
    assert "give another group's results on every seed and are shown once" in said
    assert "had no effect at all" not in said  # max-norm 2 binds for one group
    flat = build_study(f"sqlite:///{tmp_path / 'f.db'}", "f", rates=(0.0, 0.4),
                       placements=("hidden",), max_norms=NORMS, seeds=4,
                       accuracy=lambda c, r: _known(Cell(c.rate, "input", None, c.seed), r),
                       with_curves=False, dashboard_points=0)
    flat_said = " ".join(notes(summarize(flat.records(), flat.task), flat.task))
    assert ("The max-norm had no effect at all: every group gives the same results on every seed "
            "whatever its max-norm (the constraint never bound).") in flat_said
