"""Every number format and sentence sweep shows, from a summary and the task's own words.

One CI formatter (:func:`fmt_ci`), one group order (the summary's): the report's headline (the
confirmation on fresh seeds first, when there is one), progress and notes, and the labels of a
row that stands for identical groups (:func:`merged_settings`) are here; the ranked table and
the optuna-dashboard note are in :mod:`.tables`, the terminal's tables in :mod:`.terminal`.
Plain text (escaped by the HTML writer, used as is in the note). The task supplies its words:
placement phrases, the baseline's label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..grid import Group
from ..objective import Objective
from ..stats import ALPHA, Interval, clip_ci
from ._failures import failures_note
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
    """The test metric recorded beside a validation objective: "test mse" (with the unit)."""
    return objective.named("test")


def mean_header(objective: Objective) -> str:
    """The column of the compared metric's mean: "test mean" for accuracy on test (as it
    always was), else the metric named: "validation mse mean"."""
    return "test mean" if plain_accuracy(objective) else f"{objective.label} mean"


def validation_sentence(objective: Objective) -> str:
    """Why a validation objective has test beside it (the unit, said before, not repeated)."""
    return (f"Groups were compared on {objective.compared_on} {objective.metric}; test "
            f"{objective.metric} is reported beside it, never used to choose (choosing on test "
            "would be optimistic).")


def fmt_norm(max_norm: float | None) -> str:
    return "none" if max_norm is None else f"{max_norm:g}"


def fmt_number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def fmt_ci(interval: Interval, *, signed: bool = False, bounded: bool = False,
           form: Literal["brackets", "range"] = "brackets") -> str:
    """The one way a confidence interval is written: ``[low, high]`` (tables) or
    ``low to high`` (sentences, hover text); ``n/a (n<2)`` without one. With ``bounded`` (a
    metric in [0, 1], :attr:`~sweep.objective.Objective.bounded`) the interval is shown inside
    [0, 1] (the t-interval of a few seeds can leave it: :func:`~sweep.stats.clip_ci`,
    the rule every surface follows); ``signed`` for differences."""
    if math.isnan(interval.low):
        return "n/a (n<2)"
    clipped = clip_ci(interval, bounded)
    low, high = clipped.low, clipped.high
    fmt = "{:+.3f}" if signed else "{:.3f}"
    if form == "brackets":
        return f"[{fmt.format(low)}, {fmt.format(high)}]"
    return f"{fmt.format(low)} to {fmt.format(high)}"


def _compact(present: Sequence[str], order: Sequence[str]) -> str:
    """Values in ``order``: a run of three or more consecutive ones as ``first-last``."""
    index = sorted(order.index(v) for v in present)
    parts, start = [], 0
    for i in range(1, len(index) + 1):
        if i == len(index) or index[i] != index[i - 1] + 1:
            run = index[start:i]
            parts.append(f"{order[run[0]]}-{order[run[-1]]}" if len(run) >= 3
                         else ",".join(order[j] for j in run))
            start = i
    return ",".join(parts)


def merged_settings(summary: SweepSummary, stats: GroupStats) -> tuple[str, str, str]:
    """(rate, placement, max-norm) as written for ``stats``' row: every value its identical
    set stands for (``max-norm 2-5``), one value for a group without copies."""
    copies = summary.copies(stats.group) or (stats,)
    rates = [f"{r:g}" for r in summary.rates]
    norms = [fmt_norm(n) for n in summary.max_norms]
    places = list(dict.fromkeys([*summary.placements, "none"]))
    return (_compact(list(dict.fromkeys(f"{g.group.rate:g}" for g in copies)), rates),
            _compact(list(dict.fromkeys(g.group.placement for g in copies)), places),
            _compact(list(dict.fromkeys(fmt_norm(g.group.max_norm) for g in copies)), norms))


def identical_note(summary: SweepSummary) -> str | None:
    """Groups shown once for their identical copies, and the factors that had no effect."""
    sets = [summary.copies(g.group) for g in summary.distinct]
    merged = [c for c in sets if len(c) > 1]
    if not merged:
        return None
    copies = sum(len(c) - 1 for c in merged)
    example = max(merged, key=len)
    rate, placement, norm = merged_settings(summary, example[0])
    text = (f"{copies} group(s) give another group's results on every seed and are shown once, "
            f"labelled with every setting they stand for (e.g. rate {rate}, {placement}, "
            f"max-norm {norm}: {len(example)} groups, one result).")
    none = [name for name, field in (("max-norm", "max_norm"), ("placement", "placement"))
            if _no_effect(summary, field)]
    for name in none:
        text += (f" The {name} had no effect at all: every group gives the same results on "
                 f"every seed whatever its {name}"
                 + (" (the constraint never bound)." if name == "max-norm" else "."))
    return text


def _no_effect(summary: SweepSummary, field: str) -> bool:
    """Whether the groups that differ only in ``field`` always give one result (and at least
    two groups differ only in it)."""
    def rest(g: GroupStats) -> tuple[object, ...]:
        return tuple(getattr(g.group, k) for k in ("rate", "placement", "max_norm") if k != field)

    by_rest: dict[tuple[object, ...], list[Group]] = {}
    for g in summary.groups:
        by_rest.setdefault(rest(g), []).append(g.identical_to or g.group)
    varied = [leads for leads in by_rest.values() if len(leads) > 1]
    return bool(varied) and all(len(set(leads)) == 1 for leads in varied)


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
    """``better`` / ``worse`` when dropout differs from its baseline beyond seed noise (by the
    confirmation on fresh seeds when it has its seeds, else the best group's selection-stage
    test), else ``neutral``."""
    confirmation = summary.confirmation
    if confirmation is not None and confirmation.complete and confirmation.n_pairs >= 2:
        return ("better" if confirmation.better else "worse" if confirmation.worse
                else "neutral")
    best = summary.best
    comparison = None if best is None else best.vs_baseline
    if comparison is not None and comparison.better:
        return "better"
    if comparison is not None and comparison.worse:
        return "worse"
    return "neutral"


def headline(summary: SweepSummary, task: Task) -> str:
    """The answer in one paragraph: the best group, then the confirmation on fresh seeds when
    there is one (the selection stage's figures after it, labelled as such), else the best
    group against its baseline on the sweep's own seeds."""
    best = summary.best
    if best is None:
        return "No completed cells yet."
    g = best.group
    dropout = (task.baseline_label if g.is_baseline
               else f"dropout rate {g.rate:g} {task.placement_phrase(g.placement)}")
    settings = f"{dropout}, max-norm {fmt_norm(g.max_norm)}"
    copies = summary.copies(g)
    if len(copies) > 1 and len({(c.group.rate, c.group.placement) for c in copies}) == 1:
        settings = (f"{dropout}, max-norm {merged_settings(summary, best)[2]} (identical "
                    "results on every seed)")
    objective = summary.objective
    confirmed = confirmation_sentence(summary, task)
    if confirmed is None:
        text = f"Best: {settings}: {_best_numbers(best, objective)} " + _versus(best, objective)
    else:
        stage = "Selection stage (the sweep's own seeds, which chose it): "
        versus = _versus(best, objective)
        text = (f"Best: {settings}: {_best_numbers(best, objective, stage=True)} {confirmed} "
                + (versus if g.is_baseline else stage + versus[0].lower() + versus[1:]))
    return text + (f" {validation_sentence(objective)}" if objective.validated else "")


def confirmation_sentence(summary: SweepSummary, task: Task) -> str | None:
    """The confirmation on fresh seeds (:class:`~sweep.report.group_stats.Confirmation`): one
    paired test, no multiplicity; ``None`` for a sweep without one."""
    c = summary.confirmation
    if c is None:
        return None
    objective = summary.objective
    who = (f"{group_label(c.dropout, task)} against the no-dropout baseline (max-norm "
           f"{fmt_norm(c.baseline.max_norm)})")
    if c.n_pairs < 2:
        return (f"Confirmation on {c.planned} fresh seeds: {c.n_pairs} done for {who}; run the "
                "same command again (or a worker) to finish it.")
    metric = "" if plain_accuracy(objective) else f" in {objective.label}"
    so_far = "" if c.complete else f" (so far: {c.n_pairs} of {c.planned})"
    text = (f"Confirmed on {c.n_pairs} fresh seeds{so_far}, which took no part in choosing it: "
            f"{who}: {c.difference.mean:+.3f} mean paired difference{metric} (95% CI "
            f"{fmt_ci(c.difference, signed=True, form='range')}, {p_phrase(c.p)}, one test)")
    if c.better:
        return f"{text}: dropout beats the baseline beyond seed noise."
    if c.worse:
        return f"{text}: dropout is worse than the baseline beyond seed noise."
    return f"{text}: not distinguishable from seed noise (at {ALPHA:g})."


def _best_numbers(best: GroupStats, objective: Objective, *, stage: bool = False) -> str:
    """"mean test accuracy 0.796 (95% CI ..., n=10 seeds)." with the direction when it is
    said, and the held-out test mean of a validation objective; ``stage``: named the
    selection stage's (a confirmation follows)."""
    seeds = "seed" if best.n == 1 else "seeds"
    seeds += " of the selection stage" if stage else ""
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
    identical = identical_note(summary)
    if identical is not None:
        result.append(identical)
    failed = failures_note(summary)
    if failed is not None:
        result.append(failed)
    return result
