"""What a sweep found: seed statistics, the group table, the HTML report, status.

The modules, in the order data flows through them, from the seed statistics of
:mod:`sweep.stats` (mean and CI, paired test, Holm; shared with the race): ``group_stats`` and
``comparison`` (a group's numbers and its tests), ``summary`` (numbers only:
:class:`SweepSummary` per group), ``export`` (the group table for pandas, CSV, JSON, text),
``text`` (every report sentence and number format) and ``terminal`` (the terminal's tables),
``figures`` and ``rate_figures`` (plotly), ``html`` (the report file), ``dashboard``
(optuna-dashboard), ``status`` (where a sweep stands), ``race`` (a race's lines). Nothing here
imports plotly until a figure is drawn.
"""

from __future__ import annotations

from .export import group_table, to_frame
from .html import load_report_data, write_report
from .status import study_status
from .summary import GroupStats, SweepSummary, study_summary, summarize

__all__ = [
    "GroupStats", "SweepSummary", "group_table", "load_report_data", "study_status",
    "study_summary", "summarize", "to_frame", "write_report",
]
