"""The terminal's tables and lines: what ``run`` ends with, ``status``; :func:`table` lays out
every text table (``summary --format table`` too: :func:`sweep.report.export.export_table`,
which imports this module, never the reverse).

Numbers are written with :mod:`sweep.report.text`'s formatters (one CI format); groups come
in the summary's order (:meth:`~sweep.report.summary.SweepSummary.order`) or ranked.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..objective import Objective
from ._failures import failure_lines
from .race import race_lines, short_fate
from .status import STALE, STATES, StudyStatus
from .summary import GroupStats, SweepSummary, baseline_group
from .tables import HELD_OUT_HEADER
from .text import (
    confirmation_sentence,
    direction_phrase,
    fmt_ci,
    fmt_norm,
    fmt_number,
    held_out_label,
    identical_note,
    mean_header,
    merged_settings,
)

CLOSING_TOP = 5
GROUP_HEADERS = ("rate", "placement", "max_norm", "n", "test mean", "95% CI", "train mean")
"""The closing table's columns for accuracy on test; :func:`group_headers` for any objective."""


def group_headers(objective: Objective) -> tuple[str, ...]:
    """:data:`GROUP_HEADERS` with the compared metric's mean named (``mean_header``); a
    validation objective adds the held-out test mean."""
    held = (HELD_OUT_HEADER,) if objective.validated else ()
    return (*GROUP_HEADERS[:4], mean_header(objective), "95% CI", *held, "train mean")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines)


def group_row(stats: GroupStats, objective: Objective,
              settings: tuple[str, str, str] | None = None) -> list[str]:
    """One group's closing-table row; ``settings``: the (rate, placement, max-norm) cells of
    a row that stands for identical groups (:func:`~sweep.report.text.merged_settings`)."""
    g = stats.group
    rate, placement, norm = settings or (f"{g.rate:g}", g.placement, fmt_norm(g.max_norm))
    held = [fmt_number(stats.held_out.mean)] if objective.validated else []
    return [rate, placement, norm, str(stats.n),
            f"{stats.test.mean:.3f}", fmt_ci(stats.test, bounded=objective.bounded), *held,
            fmt_number(stats.train.mean)]  # n/a: a calibration figure has none on train


def best_line(stats: GroupStats | None, objective: Objective) -> str:
    """``best: rate=... : test accuracy mean 0.796, 95% CI [...], n=10``; the direction when
    it is said, the held-out test mean of a validation objective."""
    if stats is None:
        return "best: no completed cells yet"
    g = stats.group
    direction = direction_phrase(objective)
    line = (f"best: rate={g.rate:g} placement={g.placement} max_norm={fmt_norm(g.max_norm)}: "
            f"{objective.label} mean {stats.test.mean:.3f}"
            f"{f' ({direction})' if direction else ''}, "
            f"95% CI {fmt_ci(stats.test, bounded=objective.bounded)}, "
            f"n={stats.n}")
    if objective.validated:
        line += (f"; held-out {held_out_label(objective)} mean "
                 f"{fmt_number(stats.held_out.mean)}, "
                 f"95% CI {fmt_ci(stats.held_out, bounded=objective.bounded)}")
    return line


def closing_groups(summary: SweepSummary, top: int = CLOSING_TOP) -> list[GroupStats]:
    """What ``run`` ends with: the ``top`` best groups, the best group's no-dropout baseline,
    the plain baseline and the task's reference group (each once, best first; a group
    identical to another is that other's row). In a race, the best groups of those raced to the
    most seeds (a tie that stopped early on few seeds can show a higher mean)."""
    pool = tuple(g for g in summary.ranked if g.identical_to is None)
    if summary.leader is not None:
        pool = tuple(g for g in pool if g.n == summary.max_n)
    wanted = list(pool[:top])
    best = summary.best
    extra = [baseline_group(None), summary.reference]
    if best is not None:
        extra.insert(0, baseline_group(best.group.max_norm))
    for group in extra:
        stats = None if group is None else summary.representative(group)
        if stats is not None and stats not in wanted:
            wanted.append(stats)
    order = {stats.group: rank for rank, stats in enumerate(summary.ranked)}
    return sorted(wanted, key=lambda stats: order[stats.group])


def closing_table(summary: SweepSummary) -> str:
    """The short table ``run`` ends with (identical groups one row), and its best line."""
    objective = summary.objective
    rows = [group_row(g, objective, merged_settings(summary, g))
            for g in closing_groups(summary)]
    return (table(group_headers(objective), rows) + "\n"
            + best_line(summary.best, objective))


def status_text(status: StudyStatus, storage: str) -> str:
    """``sweep status``: counts overall, the settings, per group counts and mean, the best,
    the failed cells with their reasons."""
    objective = status.summary.objective

    counts = ", ".join(f"{status.counts[s]} {s}" for s in STATES)
    lines = [f"study {status.study!r} ({storage}): {status.total} cells: {counts}",
             "settings: " + ", ".join(f"{k}={v}" for k, v in status.settings.items())]
    race = status.race
    rows = []
    for g in status.groups:
        stats = g.stats
        if stats is not None and stats.identical_to is not None:
            continue  # its identical set's first group's row stands for it
        merged = (merged_settings(status.summary, stats) if stats is not None else
                  (f"{g.group.rate:g}", g.group.placement, fmt_norm(g.group.max_norm)))
        rows.append([*merged,
                     *(str(g.counts[s]) for s in STATES),
                     "-" if stats is None else f"{stats.test.mean:.3f}",
                     "-" if stats is None else fmt_ci(stats.test, bounded=objective.bounded),
                     *([short_fate(g.group, race)] if race and g.group in race.fates else
                       ["-"] if race else [])])
    lines.append(table(("rate", "placement", "max_norm", *STATES, mean_header(objective),
                        "95% CI", *(["race (round, against, Holm p)"] if race else [])), rows))
    lines.append(best_line(status.summary.best, objective))
    if (identical := identical_note(status.summary)) is not None:
        lines.append(identical)
    if race is not None and status.task is not None:
        lines += race_lines(race, status.task, objective)
    if status.task is not None and (confirmed := confirmation_sentence(status.summary,
                                                                      status.task)):
        lines.append(confirmed)
    lines += failure_lines(status.summary)
    if status.counts[STALE]:
        lines.append(f"{status.counts[STALE]} cell(s) stale: their worker stopped sending "
                     "heartbeats (killed, or its machine is gone); the next run or any worker "
                     "fails and redoes them")
    return "\n".join(lines)
