"""The calibration answer in words, for a study that records the figures
(:mod:`.calibration_stats`). A classifier's: which group is the most accurate, which is best
calibrated (lowest MC NLL, else NLL; lowest ECE the same way), and whether MC averaging helps the
best calibrated group (its paired MC - standard NLL difference's 95% CI excludes 0). A
regression's: which group has the lowest (MC) Gaussian NLL, whether it is the best group by the
study's objective, and whether MC averaging helps its Gaussian NLL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..stats import Interval
from .calibration_stats import helps
from .summary import GroupStats, SweepSummary
from .text import fmt_ci, group_label

if TYPE_CHECKING:
    from ..tasks import Task


def _lowest(groups: list[GroupStats], name: str) -> GroupStats | None:
    held = [g for g in groups if name in g.figures]
    return min(held, key=lambda g: g.figures[name].mean, default=None)


def _figure(stats: GroupStats, name: str, shown: str) -> str:
    value: Interval = stats.figures[name]
    return f"{shown} {value.mean:.3f}, 95% CI {fmt_ci(value, form='range')}, n={stats.n}"


def calibration_sentence(summary: SweepSummary, task: Task) -> str | None:
    """One paragraph; None for a study without calibration figures."""
    groups = [g for g in summary.groups if g.figures]
    accurate = max((g for g in groups if "accuracy" in g.figures),
                   key=lambda g: g.figures["accuracy"].mean, default=None)
    if accurate is None:
        return _regression_sentence(summary, groups, task)
    split = summary.objective.compared_on
    mc = any("mc_nll" in g.figures for g in groups)
    nll, ece = ("mc_nll", "mc_ece") if mc else ("nll", "ece")
    words = "MC dropout " if mc else ""
    calibrated, sharpest = _lowest(groups, nll), _lowest(groups, ece)
    assert calibrated is not None and sharpest is not None
    parts = [f"Calibration on {split}: most accurate {group_label(accurate.group, task)} "
             f"({_figure(accurate, 'accuracy', 'accuracy')}); lowest {words}NLL "
             f"{group_label(calibrated.group, task)} ({_figure(calibrated, nll, 'NLL')})"
             + (", the same group." if calibrated.group == accurate.group
                else ", not the most accurate group.")]
    parts.append(f"Lowest {words}ECE: {group_label(sharpest.group, task)} "
                 f"({_figure(sharpest, ece, 'ECE')}).")
    if mc:
        parts.append(_mc_words(calibrated, "nll", "NLL"))
    return " ".join(parts)


def _regression_sentence(summary: SweepSummary, groups: list[GroupStats], task: Task
                         ) -> str | None:
    """A regression's paragraph (None without its figures)."""
    mc = any("mc_gaussian_nll" in g.figures for g in groups)
    name = "mc_gaussian_nll" if mc else "gaussian_nll"
    calibrated = _lowest(groups, name)
    if calibrated is None:
        return None
    words = "MC dropout " if mc else ""
    best, metric = summary.best, summary.objective.metric
    same = (f", the best group by {metric} too." if best is None or best.group == calibrated.group
            else f", not the best group by {metric} ({group_label(best.group, task)}).")
    parts = [f"Predictive calibration on {summary.objective.compared_on}: lowest {words}"
             f"Gaussian NLL {group_label(calibrated.group, task)} "
             f"({_figure(calibrated, name, 'Gaussian NLL')}){same}"]
    if mc:
        parts.append(_mc_words(calibrated, "gaussian_nll", "Gaussian NLL"))
    return " ".join(parts)


def _mc_words(stats: GroupStats, name: str, shown: str) -> str:
    """Whether MC averaging lowers ``name`` (an NLL) of ``stats``' group beyond seed noise."""
    difference = stats.mc_differences.get(name)
    if difference is None or stats.group.is_baseline:
        return ("MC averaging changes nothing without dropout: the best calibrated group has "
                "none.")
    verdict = helps(name, difference)
    said = ("helps: it lowers" if verdict else "hurts: it raises" if verdict is False
            else "is not distinguishable from standard inference: it changes")
    interval = fmt_ci(difference, signed=True, form="range")
    return (f"MC averaging {said} that group's {shown} by {abs(difference.mean):.3f} (MC - "
            f"standard {difference.mean:+.3f}, 95% CI {interval}, paired over {stats.n} seeds).")
