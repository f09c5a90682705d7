"""The group table as data: one row per cell group, best first, for pandas, CSV and JSON.

The same columns in every form (:data:`COLUMNS`); a missing number is NaN in the DataFrame
and CSV (an empty field), ``null`` in JSON. ``max_norm`` is NaN / ``null`` for no constraint.
The comparison columns (``baseline`` to ``p_holm``) are empty for the baselines themselves and
for groups whose max-norm has no baseline. ``identical_to`` names (``rate/placement/max-norm``,
as ``baseline``) the first group whose results are this group's on every seed (a max-norm that
never binds): such groups are one row in the report and the terminal, one test in Holm's family.

``test_*``, ``train_mean``, ``gap_mean`` and the differences are in the study's metric
(:class:`~sweep.objective.Objective`: accuracy for the built-in tasks); ``test_*`` is the
compared metric, which is the validation metric for a study compared on validation: such a
study's table has :data:`HELD_OUT_COLUMNS` after them, the test metric beside it. Rows are best
first in the objective's direction (lowest first for a minimized metric).

A bounded metric's confidence limits (``test_ci_*``, ``held_out_ci_*`` of accuracy, AUC ...:
:attr:`~sweep.objective.Objective.bounded`) are clipped to [0, 1] in every form, CSV and JSON
included: the rule every surface follows (:func:`~sweep.stats.clip_ci`), since a
t-interval of a few seeds can leave [0, 1] and the metric cannot. The differences' limits are
not clipped. When the task names the metric's unit (a standardised regression target's MAE:
training SDs of the target) the table form says it in a first line, ``unit: ...``; CSV and JSON
keep their shape (the unit is in ``status --json``'s ``objective``, as ``metric_unit``).

A study that records calibration figures (a classifier's, a regression's): its table ends with
each figure's mean and 95% CI (``nll_mean`` ... ``mc_ece_ci_high``) and MC dropout's paired
difference from standard inference (``mc_minus_nll_mean`` ...): :func:`figure_columns`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import ExportFormatError
from ..stats import clip_ci
from .calibration_stats import PAIRS, recorded
from .group_stats import GroupStats
from .summary import SweepSummary
from .terminal import table
from .text import fmt_norm, fmt_p

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "rate", "placement", "max_norm",  # the group
    "n", "test_mean", "test_ci_low", "test_ci_high",  # compared metric over n seeds, 95% CI
    "train_mean", "gap_mean",  # train metric; train - compared metric, per seed
    "baseline",  # the group compared with: rate 0, the same max-norm
    "n_pairs", "diff_mean", "diff_ci_low", "diff_ci_high",  # paired by seed: group - baseline
    "p", "p_holm",  # paired t-test, two-sided; Holm-corrected over the distinct comparisons
    "identical_to",  # the group whose per-seed results this group's are (empty: none)
)
HELD_OUT_COLUMNS = ("held_out_mean", "held_out_ci_low", "held_out_ci_high")
"""The test metric of a study compared on validation (inserted after ``test_ci_high``)."""
_TEXT = ("placement", "baseline", "identical_to")
FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class GroupTable:
    """:data:`COLUMNS` (and :data:`HELD_OUT_COLUMNS` for a validation objective) and one
    row of plain values per group (``None``: not applicable)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts; NaN becomes ``None`` (JSON's ``null``)."""
        return [{c: None if isinstance(v, float) and math.isnan(v) else v
                 for c, v in zip(self.columns, row, strict=True)} for row in self.rows]


def columns(summary: SweepSummary) -> tuple[str, ...]:
    """:data:`COLUMNS`, with :data:`HELD_OUT_COLUMNS` after ``test_ci_high`` when the study is
    compared on validation, and :func:`figure_columns` at the end when it records them."""
    found: tuple[str, ...] = COLUMNS
    if summary.objective.validated:
        at = COLUMNS.index("test_ci_high") + 1
        found = (*COLUMNS[:at], *HELD_OUT_COLUMNS, *COLUMNS[at:])
    return (*found, *figure_columns(summary))


def figure_columns(summary: SweepSummary) -> tuple[str, ...]:
    """The study's recorded figures on the compared split: ``<figure>_mean``, ``_ci_low``,
    ``_ci_high`` for each (``nll`` ... ``mc_ece``, a regression's ``gaussian_nll`` ...), then
    ``mc_minus_<figure>_mean``, ``_ci_low``, ``_ci_high``: MC dropout minus standard inference,
    paired within each seed's cell."""
    names, differences = _figures(summary)
    return (*(f"{n}_{part}" for n in names for part in _PARTS),
            *(f"mc_minus_{n}_{part}" for n in differences for part in _PARTS))


_PARTS = ("mean", "ci_low", "ci_high")


def _figures(summary: SweepSummary) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The figures any group records, and those of them recorded both ways (MC and not)."""
    names = recorded([g.figures for g in summary.groups])
    return names, tuple(n for n in PAIRS if f"mc_{n}" in names)


def _figure_values(figures: tuple[tuple[str, ...], tuple[str, ...]], g: GroupStats
                   ) -> tuple[Any, ...]:
    """``g``'s values in :func:`figure_columns`' order (NaN where it holds no such figure)."""
    names, differences = figures
    values: list[Any] = []
    for interval in ([g.figures.get(n) for n in names]
                     + [g.mc_differences.get(n) for n in differences]):
        values += [math.nan] * 3 if interval is None else [interval.mean, interval.low,
                                                           interval.high]
    return tuple(values)


def group_table(summary: SweepSummary) -> GroupTable:
    """The summary's groups, ranked by the mean compared metric (best first), as
    :func:`columns`; a bounded metric's CI limits clipped to [0, 1]."""
    validated, bounded = summary.objective.validated, summary.objective.bounded
    figures, rows = _figures(summary), []
    for g in summary.ranked:
        c = g.vs_baseline
        versus: tuple[Any, ...] = (None,) * 7
        if c is not None:
            versus = (c.baseline.label, c.n_pairs, c.difference.mean, c.difference.low,
                      c.difference.high, c.p, c.p_holm)
        test, held_out = clip_ci(g.test, bounded), clip_ci(g.held_out, bounded)
        held = (held_out.mean, held_out.low, held_out.high) if validated else ()
        same = None if g.identical_to is None else g.identical_to.label
        rows.append((g.group.rate, g.group.placement, g.group.max_norm, g.n, test.mean,
                     test.low, test.high, *held, g.train.mean, g.gap.mean, *versus, same,
                     *_figure_values(figures, g)))
    return GroupTable(columns(summary), tuple(rows))


def to_frame(summary: SweepSummary) -> pd.DataFrame:
    """The group table as a DataFrame: floats (NaN where missing), ``n`` an integer,
    ``n_pairs`` a nullable integer, ``placement`` and ``baseline`` text (missing: None)."""
    import pandas as pd

    table = group_table(summary)
    frame = pd.DataFrame.from_records(list(table.rows), columns=list(table.columns))
    return frame.astype({c: "int64" if c == "n" else "Int64" if c == "n_pairs" else "float64"
                         for c in table.columns if c not in _TEXT})


def to_csv(summary: SweepSummary) -> str:
    """The DataFrame as CSV (a header line; floats as written by pandas, which read back)."""
    return str(to_frame(summary).to_csv(index=False))


def to_json(summary: SweepSummary) -> str:
    """A JSON list of one object per group, keys as :func:`columns`."""
    return json.dumps(group_table(summary).records(), indent=2) + "\n"


def check_format(name: str) -> str:
    if name not in FORMATS:
        raise ExportFormatError(f"--format {name!r} is not one of: {', '.join(FORMATS)}")
    return name


def render(summary: SweepSummary, fmt: str) -> str:
    """The group table in ``fmt`` (:data:`FORMATS`), ending with a newline."""
    if check_format(fmt) == "csv":
        return to_csv(summary)
    if fmt == "json":
        return to_json(summary)
    return unit_line(summary) + export_table(group_table(summary)) + "\n"


def unit_line(summary: SweepSummary) -> str:
    """The table form's first line when the metric has a unit: "unit: training SDs of the
    target (mae: the mean, CI, train, gap and difference columns)"; "" without one."""
    objective = summary.objective
    if not objective.unit:
        return ""
    return (f"unit: {objective.unit} ({objective.metric}: the mean, CI, train, gap and "
            "difference columns)\n")


def _fixed(value: float, spec: str = ".3f") -> str:
    return "n/a" if math.isnan(value) else format(value, spec)


_CELL: dict[str, Callable[[Any], str]] = {
    "rate": lambda v: f"{v:g}", "placement": str, "n": str, "baseline": str, "n_pairs": str,
    "identical_to": str,
    "p": fmt_p, "p_holm": fmt_p, "diff_mean": lambda v: _fixed(v, "+.3f"),
    "diff_ci_low": lambda v: _fixed(v, "+.3f"), "diff_ci_high": lambda v: _fixed(v, "+.3f"),
}


def _cell(column: str, value: Any) -> str:
    if column == "max_norm":
        return fmt_norm(value)
    if column.startswith("mc_minus_") and value is not None:
        return _fixed(value, "+.3f")
    return "" if value is None else _CELL.get(column, _fixed)(value)


def export_table(group_table: GroupTable) -> str:
    """``sweep summary --format table``: the export's columns, one group a line, best first;
    blank where a group is not compared with a baseline, ``n/a`` where a number is undefined."""
    rows = [[_cell(column, value) for column, value in zip(group_table.columns, row, strict=True)]
            for row in group_table.rows]
    return table(group_table.columns, rows)
