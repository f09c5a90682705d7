"""Every number format and sentence sweep shows, from a summary and the task's own words.

One CI formatter (:func:`fmt_ci`), one group order (the summary's): the report's headline,
progress, notes and ranked table, and the optuna-dashboard note are here; the terminal's tables
are in :mod:`sweep.report.terminal`. Plain text (escaped by the HTML writer, used as is in the
note). The task supplies its words: placement phrases, the baseline's label.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..grid import Group
from ..objective import Objective
from ._failures import failures_note
from .stats import ALPHA, Interval
from .summary import GroupStats, SweepSummary, baseline_group

if TYPE_CHECKING:
    from ..tasks import Task

MAX_LISTED = 8


def plain_accuracy(objective: Objective) -> bool:
    """Accuracy, maximized, on test: the objective of every study before sweep had others,
    worded as it always was ("test mean", no "higher is better")."""
    return objective.metric == "accuracy" and objective.maximize and not objective.validated


def direction_phrase(objective: Objective) -> str:
    """"lower is better" (or "higher is better"); "" for a maximized accuracy, where it goes
    without saying."""
    plain = objective.metric == "accuracy" and objective.maximize
    return "" if plain else objective.better_word


def held_out_label(objective: Objective) -> str:
    """The test metric recorded beside a validation objective: "test mse"."""
    return f"test {objective.metric}"


def mean_header(objective: Objective) -> str:
    """The column of the compared metric's mean: "test mean" for accuracy on test (as it
    always was), else the metric named: "validation mse mean"."""
    return "test mean" if plain_accuracy(objective) else f"{objective.label} mean"


def validation_sentence(objective: Objective) -> str:
    """Why a validation objective has test beside it."""
    return (f"Groups were compared on {objective.label}; {held_out_label(objective)} is reported "
            "beside it, never used to choose (choosing on test would be optimistic).")


def fmt_norm(max_norm: float | None) -> str:
    return "none" if max_norm is None else f"{max_norm:g}"


def fmt_number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def fmt_ci(interval: Interval, *, signed: bool = False, bounded: bool = False,
           form: Literal["brackets", "range"] = "brackets") -> str:
    """The one way a confidence interval is written: ``[low, high]`` (tables) or
    ``low to high`` (sentences, hover text); ``n/a (n<2)`` without one. With ``bounded`` (a
    metric in [0, 1], :attr:`~sweep.objective.Objective.bounded`) the interval is shown inside
    [0, 1] (the t-interval of a few seeds can leave it); ``signed`` for differences."""
    if math.isnan(interval.low):
        return "n/a (n<2)"
    low, high = interval.low, interval.high
    if bounded:
        low, high = max(0.0, low), min(1.0, high)
    fmt = "{:+.3f}" if signed else "{:.3f}"
    if form == "brackets":
        return f"[{fmt.format(low)}, {fmt.format(high)}]"
    return f"{fmt.format(low)} to {fmt.format(high)}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def p_phrase(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {fmt_p(p)}"


def group_label(group: Group, task: Task) -> str:
    if group.is_baseline:
        return f"{task.baseline_label}, max-norm {fmt_norm(group.max_norm)}"
    return f"rate {group.rate:g}, {group.placement}, max-norm {fmt_norm(group.max_norm)}"


def verdict_kind(summary: SweepSummary) -> str:
    """``better`` / ``worse`` when the best group differs from its baseline beyond seed noise,
    else ``neutral``."""
    best = summary.best
    comparison = None if best is None else best.vs_baseline
    if comparison is not None and comparison.better:
        return "better"
    if comparison is not None and comparison.worse:
        return "worse"
    return "neutral"


def headline(summary: SweepSummary, task: Task) -> str:
    best = summary.best
    if best is None:
        return "No completed cells yet."
    g = best.group
    dropout = (task.baseline_label if g.is_baseline
               else f"dropout rate {g.rate:g} {task.placement_phrase(g.placement)}")
    settings = f"{dropout}, max-norm {fmt_norm(g.max_norm)}"
    objective = summary.objective
    text = f"Best: {settings}: {_best_numbers(best, objective)} "
    return text + _versus(best, objective) + (
        f" {validation_sentence(objective)}" if objective.validated else "")


def _best_numbers(best: GroupStats, objective: Objective) -> str:
    """"mean test accuracy 0.796 (95% CI ..., n=10 seeds)." with the direction when it is
    said, and the held-out test mean of a validation objective."""
    seeds = "seed" if best.n == 1 else "seeds"
    direction = direction_phrase(objective)
    ci = fmt_ci(best.test, bounded=objective.bounded, form="range")
    text = (f"mean {objective.label} {best.test.mean:.3f} "
            f"({direction + '; ' if direction else ''}95% CI {ci}, n={best.n} {seeds})")
    if objective.validated:
        held = best.held_out
        text += (f"; held-out {held_out_label(objective)} {fmt_number(held.mean)} (95% CI "
                 f"{fmt_ci(held, bounded=objective.bounded, form='range')})")
    return text + "."


def _versus(best: GroupStats, objective: Objective) -> str:
    """The best group against its no-dropout baseline (in the compared metric)."""
    g = best.group
    if g.is_baseline:
        return "That is the no-dropout baseline: no dropout setting beats it."
    c = best.vs_baseline
    if c is None:
        return (f"The sweep has no no-dropout baseline with max-norm "
                f"{fmt_norm(g.max_norm)}, so it cannot say whether dropout helps.")
    versus = (f"Against the no-dropout baseline (max-norm {fmt_norm(g.max_norm)}): "
              f"{c.difference.mean:+.3f} mean paired difference")
    if not plain_accuracy(objective):
        versus += f" in {objective.label}"
    if math.isnan(c.p):
        return (f"{versus} over {c.n_pairs} shared seed(s); at least 2 are needed for a "
                "test, so seed noise cannot be ruled out.")
    versus += (f" (95% CI {fmt_ci(c.difference, signed=True, form='range')}, {c.n_pairs} "
               f"paired seeds, Holm-corrected {p_phrase(c.p_holm)})")
    if c.better:
        return f"{versus}: it beats the baseline beyond seed noise."
    if c.worse:
        return f"{versus}: it is worse than the baseline beyond seed noise."
    return f"{versus}: not distinguishable from seed noise (at {ALPHA:g})."


def progress_text(summary: SweepSummary) -> str:
    done, total = summary.n_complete, summary.n_cells
    others = f"{summary.n_running} running, {summary.n_pending} pending, {summary.n_failed} failed"
    if summary.in_progress:
        return f"Sweep in progress: {done} of {total} cells complete ({others})."
    if summary.n_failed:
        return (f"Sweep stopped: {done} of {total} cells complete ({others}); run it again to "
                "retry the failed cells.")
    groups = len(summary.groups)
    return f"Sweep complete: {done} of {total} cells, {groups} cell group{'s' * (groups != 1)}."


def _listed(groups: list[GroupStats], task: Task) -> str:
    names = [f"{group_label(g.group, task)} (n={g.n})" for g in groups[:MAX_LISTED]]
    more = len(groups) - MAX_LISTED
    return "; ".join(names) + (f"; and {more} more" if more > 0 else "")


def notes(summary: SweepSummary, task: Task) -> list[str]:
    """Caveats a reader needs: partial groups, groups without a CI, missing baselines, failed
    cells with their reasons."""
    result = []
    partial = list(summary.partial)
    if partial:
        result.append(f"Partial groups ({len(partial)}, fewer than {summary.max_n} seeds): "
                      f"{_listed(partial, task)}.")
    single = [g for g in summary.groups if g.n < 2]
    if single:
        result.append(f"{len(single)} group(s) have a single seed: no confidence interval or "
                      "test for them.")
    missing = [n for n in summary.max_norms if summary.get(baseline_group(n)) is None]
    if missing and summary.placements:
        norms = ", ".join(fmt_norm(n) for n in missing)
        result.append(f"No no-dropout baseline for max-norm {norms}: those groups are not "
                      "compared with a baseline.")
    failed = failures_note(summary)
    if failed is not None:
        result.append(failed)
    return result


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
    for rank, g in enumerate(summary.ranked, start=1):
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
        rows.append((" ".join(classes), [
            str(rank), f"0 ({task.baseline_label})" if g.group.is_baseline else f"{g.group.rate:g}",
            g.group.placement, fmt_norm(g.group.max_norm), f"{g.n}{'*' if g.n < top else ''}",
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
