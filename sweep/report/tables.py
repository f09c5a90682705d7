"""The report's ranked table and the optuna-dashboard note, in the words of :mod:`.text`: one
row per distinct result (identical groups are one row, labelled with every setting they stand
for), best first."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..objective import Objective
from .summary import SweepSummary
from .text import (
    fmt_ci,
    fmt_number,
    fmt_p,
    headline,
    mean_header,
    merged_settings,
    notes,
    plain_accuracy,
    progress_text,
)

if TYPE_CHECKING:
    from ..tasks import Task


HELD_OUT_HEADER = "held-out test mean"
TABLE_HEADERS = ("rank", "rate", "placement", "max-norm", "n", "test mean", "95% CI",
                 "train mean", "gap", "Δ vs baseline", "95% CI of Δ", "p", "p Holm")
"""The ranked table's columns for accuracy on test; :func:`table_headers` for any objective."""
NOTE_COLUMNS = ("rank", "rate", "placement", "max-norm", "n", "mean", "95% CI", HELD_OUT_HEADER,
                "Δ vs baseline", "p Holm")
"""The columns the optuna-dashboard note keeps ("mean": the compared metric's)."""


def table_headers(objective: Objective) -> tuple[str, ...]:
    """:data:`TABLE_HEADERS`, the mean named by :func:`mean_header`; a validation objective
    adds the held-out test mean after the CI."""
    held = (HELD_OUT_HEADER,) if objective.validated else ()
    return (*TABLE_HEADERS[:5], mean_header(objective), "95% CI", *held, *TABLE_HEADERS[7:])


def table_rows(summary: SweepSummary,
               task: Task) -> tuple[tuple[str, ...], list[tuple[str, list[str]]]]:
    """Headers (:func:`table_headers`) and (css classes, cells) per group, best first."""
    best = summary.best
    objective = summary.objective
    top = summary.max_n
    rows = []
    for rank, g in enumerate((g for g in summary.ranked if g.identical_to is None), start=1):
        c = g.vs_baseline
        classes = []
        if best is not None and g.group == best.group:
            classes.append("best")
        if c is not None and c.better:
            classes.append("better")
        elif c is not None and c.worse:
            classes.append("worse")
        if g.group.is_baseline:
            versus = ["baseline", "", "", ""]
        elif c is None:
            versus = ["no baseline", "", "", ""]
        else:
            versus = [f"{c.difference.mean:+.3f}" if c.n_pairs else "n/a",
                      fmt_ci(c.difference, signed=True), fmt_p(c.p), fmt_p(c.p_holm)]
        rate, placement, norm = merged_settings(summary, g)
        rows.append((" ".join(classes), [
            str(rank), f"0 ({task.baseline_label})" if g.group.is_baseline else rate,
            placement, norm, f"{g.n}{'*' if g.n < top else ''}",
            f"{g.test.mean:.3f}", fmt_ci(g.test, bounded=objective.bounded),
            *([fmt_number(g.held_out.mean)] if objective.validated else []),
            fmt_number(g.train.mean), fmt_number(g.gap.mean), *versus,
        ]))
    return table_headers(objective), rows


def note_markdown(summary: SweepSummary, task: Task, report_path: Path | None,
                  top: int = 10) -> str:
    """The study note for optuna-dashboard: headline, progress and the top groups."""
    lines = ["### Sweep report", "", f"**{headline(summary, task)}**", ""]
    objective = summary.objective
    if not plain_accuracy(objective):
        lines += [f"Cells are compared on {objective.label} ({objective.better_word}).", ""]
    lines += [progress_text(summary), ""]
    lines += [f"- {note}" for note in notes(summary, task)]
    headers, rows = table_rows(summary, task)
    named = {h: i for i, h in enumerate(headers)} | {"mean": 5}
    keep = [named[h] for h in NOTE_COLUMNS if h in named]
    lines += ["", "| " + " | ".join(headers[i] for i in keep) + " |",
              "|" + "---|" * len(keep)]
    lines += ["| " + " | ".join(cells[i] for i in keep) + " |" for _, cells in rows[:top]]
    if len(rows) > top:
        lines.append(f"\n{len(rows) - top} more group(s) in the full report.")
    if report_path is not None:
        lines.append(f"\nFull report: `{report_path}` (written by `python -m sweep report`).")
    lines.append("\n_End of sweep report._")
    return "\n".join(lines)
