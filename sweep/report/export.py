"""The group table as data: one row per cell group, best first, for pandas, CSV and JSON.

The same columns in every form (:data:`COLUMNS`); a missing number is NaN in the DataFrame
and CSV (an empty field), ``null`` in JSON. ``max_norm`` is NaN / ``null`` for no constraint.
The comparison columns (``baseline`` to ``p_holm``) are empty for the baselines themselves and
for groups whose max-norm has no baseline.

``test_*``, ``train_mean``, ``gap_mean`` and the differences are in the study's metric
(:class:`~sweep.objective.Objective`: accuracy for the built-in tasks); ``test_*`` is the
compared metric, which is the validation metric for a study compared on validation: such a
study's table has :data:`HELD_OUT_COLUMNS` after them, the test metric beside it. Rows are best
first in the objective's direction (lowest first for a minimized metric).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import ExportFormatError
from .summary import SweepSummary

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "rate", "placement", "max_norm",  # the group
    "n", "test_mean", "test_ci_low", "test_ci_high",  # compared metric over n seeds, 95% CI
    "train_mean", "gap_mean",  # train metric; train - compared metric, per seed
    "baseline",  # the group compared with: rate 0, the same max-norm
    "n_pairs", "diff_mean", "diff_ci_low", "diff_ci_high",  # paired by seed: group - baseline
    "p", "p_holm",  # paired t-test, two-sided; Holm-corrected over every compared group
)
HELD_OUT_COLUMNS = ("held_out_mean", "held_out_ci_low", "held_out_ci_high")
"""The test metric of a study compared on validation (inserted after ``test_ci_high``)."""
_TEXT = ("placement", "baseline")
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
    compared on validation."""
    if not summary.objective.validated:
        return COLUMNS
    at = COLUMNS.index("test_ci_high") + 1
    return (*COLUMNS[:at], *HELD_OUT_COLUMNS, *COLUMNS[at:])


def group_table(summary: SweepSummary) -> GroupTable:
    """The summary's groups, ranked by the mean compared metric (best first), as
    :func:`columns`."""
    validated = summary.objective.validated
    rows = []
    for g in summary.ranked:
        c = g.vs_baseline
        versus: tuple[Any, ...] = (None,) * 7
        if c is not None:
            versus = (c.baseline.label, c.n_pairs, c.difference.mean, c.difference.low,
                      c.difference.high, c.p, c.p_holm)
        held = (g.held_out.mean, g.held_out.low, g.held_out.high) if validated else ()
        rows.append((g.group.rate, g.group.placement, g.group.max_norm, g.n, g.test.mean,
                     g.test.low, g.test.high, *held, g.train.mean, g.gap.mean, *versus))
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
    from .terminal import export_table

    return export_table(group_table(summary)) + "\n"
