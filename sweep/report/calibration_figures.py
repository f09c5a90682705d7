"""The report's calibration figures, for a study that records them (:mod:`.calibration_stats`;
rendering only, every number from the summary and the stored bins): (e) against the dropout
rate, standard and MC inference side by side, a classifier's NLL and ECE or a regression's
Gaussian NLL, (f) a classifier's reliability diagram of the best group and the no-dropout
baseline (no such diagram for a regression), (g) per group the paired difference MC minus
standard, with its CI (a classifier's four figures, a regression's Gaussian NLL).

The rate figure shows the groups without a max-norm (or, when every group has one, the best
group's max-norm): one line per placement and inference, the baseline as the rate-0 point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..calibration import ECE_BINS
from .calibration_stats import PAIRS
from .figures import BASELINE_COLOR, Panel, layout, placement_colors
from .summary import SweepSummary
from .text import group_label

if TYPE_CHECKING:
    from ..tasks import Task

RATE_FIGURES = {"classifier": ("nll", "ece"), "regression": ("gaussian_nll",)}
NAMES = {"accuracy": "accuracy", "nll": "NLL", "brier": "Brier score", "ece": "ECE",
         "gaussian_nll": "Gaussian NLL"}
MODES = (("", "standard", "solid"), ("mc_", "MC dropout", "dash"))


def figures_kind(summary: SweepSummary) -> str | None:
    """``classifier`` or ``regression`` for a study whose groups hold that kind's figures,
    else None."""
    held = {name for g in summary.groups for name in g.figures}
    return "classifier" if "nll" in held else "regression" if "gaussian_nll" in held else None


def has_figures(summary: SweepSummary) -> bool:
    """A study with a classifier's calibration or a regression's predictive figures."""
    return figures_kind(summary) is not None


def _shown_norm(summary: SweepSummary) -> float | None:
    norms = {g.group.max_norm for g in summary.groups}
    best = summary.best
    return None if None in norms or best is None else best.group.max_norm


def calibration_rate_figure(summary: SweepSummary, task: Task) -> Panel:
    """(e) NLL and ECE (a regression: Gaussian NLL; lower is better) against the rate: each
    placement's standard (solid) and MC dropout (dashed) means with their 95% CIs as error
    bars."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    key, split, kind = "calibration", summary.objective.compared_on, figures_kind(summary)
    if kind is None:
        return Panel(key, f"Calibration against dropout rate ({split})", None,
                     "No calibration figures: the task is neither a classifier nor a "
                     "regression, or the study is from before sweep recorded them.")
    rate_figures = RATE_FIGURES[kind]
    drawn = " and ".join(NAMES[n] for n in rate_figures)
    title = f"Calibration against dropout rate: {split} {drawn} (lower is better)"
    norm = _shown_norm(summary)
    groups = [g for g in summary.groups if g.group.max_norm == norm]
    colors = placement_colors(summary)
    fig = make_subplots(rows=1, cols=len(rate_figures),
                        subplot_titles=[f"{split} {NAMES[n]}" for n in rate_figures])
    for col, name in enumerate(rate_figures, start=1):
        for prefix, mode, dash in MODES:
            figure = prefix + name
            series = [("baseline", [g for g in groups if g.group.is_baseline], BASELINE_COLOR)]
            series += [(p, [g for g in groups if g.group.placement == p], colors[p])
                       for p in summary.placements]
            for placement, members, color in series:
                shown = [g for g in members if figure in g.figures]
                if not shown:
                    continue
                values = [g.figures[figure] for g in shown]
                fig.add_trace(go.Scatter(
                    x=[g.group.rate for g in shown], y=[v.mean for v in values],
                    error_y={"type": "data", "symmetric": False,
                             "array": [v.high - v.mean for v in values],
                             "arrayminus": [v.mean - v.low for v in values]},
                    mode="lines+markers", line={"color": color, "dash": dash},
                    name=f"{placement}, {mode}", legendgroup=f"{placement}{prefix}",
                    showlegend=col == 1,
                    hovertemplate=f"{placement}, {mode}<br>rate %{{x}}<br>mean {NAMES[name]} "
                                  "%{y:.4f}<extra></extra>"), row=1, col=col)
    layout(fig, 420)
    fig.update_xaxes(title="dropout rate")
    shown_norm = "no max-norm" if norm is None else f"max-norm {norm:g}"
    averaged = ("the probabilities of the study's passes" if kind == "classifier" else
                "the study's passes, its variance added to the training residual variance")
    return Panel(key, title, fig, f"Means over seeds with 95% t-intervals ({shown_norm}); "
                 f"MC dropout averages {averaged}, with every dropout layer on. Rate 0 (grey) "
                 "is the no-dropout baseline, the same both ways.")


def reliability_figure(summary: SweepSummary, task: Task) -> Panel:
    """(f) Accuracy against confidence per bin (all the group's seeds pooled) for the best
    group (the best dropout group when no dropout is best) and its no-dropout baseline,
    standard and MC inference; the diagonal is perfect calibration."""
    import plotly.graph_objects as go

    key = "reliability"
    title = "Reliability diagram: accuracy against confidence, best group and no dropout"
    best = summary.best
    if best is not None and best.group.is_baseline:
        best = summary.best_dropout or best
    if best is None or not best.reliability:
        return Panel(key, title, None, "No reliability bins: the task is not a classifier, or "
                     "the study is from before sweep recorded them.")
    baseline = summary.baseline_for(best.group)
    chosen = [(g, color) for g, color in ((best, "#d62728"), (baseline, BASELINE_COLOR))
              if g is not None and g.reliability and (g is best or g.group != best.group)]
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                               line={"color": "#aaaaaa", "dash": "dot"}))
    for stats, color in chosen:
        for prefix, mode, dash in MODES:
            found = stats.reliability.get(f"{prefix}reliability")
            if found is None:
                continue
            kept = [i for i in range(ECE_BINS) if found.counts[i]]
            fig.add_trace(go.Scatter(
                x=[float(found.confidence[i]) for i in kept],
                y=[float(found.accuracy[i]) for i in kept],
                text=[int(found.counts[i]) for i in kept], mode="lines+markers",
                line={"color": color, "dash": dash},
                name=f"{group_label(stats.group, task)}, {mode}",
                hovertemplate="confidence %{x:.3f}<br>accuracy %{y:.3f}<br>%{text} rows"
                              "<extra></extra>"))
    layout(fig, 460)
    fig.update_xaxes(title="mean confidence in the bin", range=[0, 1])
    fig.update_yaxes(title="accuracy in the bin", range=[0, 1])
    return Panel(key, title, fig, f"{ECE_BINS} equal-width confidence bins, the rows of every "
                 "seed of the group pooled; points below the diagonal are over-confident.")


def mc_difference_figure(summary: SweepSummary, task: Task) -> Panel:
    """(g) Per group: MC dropout minus standard inference for each figure recorded both ways,
    paired within each seed's cell, mean and 95% CI (below 0 for NLL, Brier, ECE and a
    regression's Gaussian NLL, above for accuracy: MC helps)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    key = "mc-difference"
    title = "Does MC averaging help? MC dropout minus standard inference, per group"
    groups = [g for g in summary.groups if g.mc_differences and not g.group.is_baseline]
    if not groups:
        return Panel(key, title, None, "No MC dropout figures: the study ran without MC passes "
                     "(--mc-passes 0), or has no dropout group, or records no such figures.")
    paired = [n for n in PAIRS if any(n in g.mc_differences for g in groups)]
    fig = make_subplots(rows=1, cols=len(paired), subplot_titles=[
        f"{NAMES[n]}: MC - standard" for n in paired])
    labels = [group_label(g.group, task) for g in groups]
    for col, name in enumerate(paired, start=1):
        values = [g.mc_differences.get(name) for g in groups]
        fig.add_trace(go.Scatter(
            x=[v.mean if v else None for v in values], y=labels, mode="markers",
            marker={"color": "#1f77b4"}, showlegend=False,
            error_x={"type": "data", "symmetric": False,
                     "array": [v.high - v.mean if v else 0 for v in values],
                     "arrayminus": [v.mean - v.low if v else 0 for v in values]},
            hovertemplate="%{y}<br>MC - standard %{x:+.4f}<extra></extra>"), row=1, col=col)
        fig.add_vline(x=0, line={"color": "#888888", "dash": "dot"}, row=1, col=col)
    layout(fig, 160 + 28 * len(groups))
    fig.update_yaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=True, col=1)
    helped = ("NLL, Brier and ECE below 0, accuracy above 0" if figures_kind(summary)
              == "classifier" else "a Gaussian NLL below 0")
    return Panel(key, title, fig, "Mean over the group's seeds of the paired difference (the "
                 "same trained cell, MC averaging or not) with its 95% t-interval; "
                 f"{helped}: MC averaging helps.")


def calibration_panels(summary: SweepSummary, task: Task) -> list[Panel]:
    """A classifier's three figures, a regression's rate and MC-difference figures (a
    reliability diagram is of class probabilities); none for a study without figures."""
    kind = figures_kind(summary)
    if kind is None:
        return []
    middle = [reliability_figure(summary, task)] if kind == "classifier" else []
    return [calibration_rate_figure(summary, task), *middle, mc_difference_figure(summary, task)]
