"""The figures over the dropout rate: (a) the compared metric (test accuracy for the built-in
tasks), (b) the train metric and the train - compared gap.

One line per placement with its 95% CI band, the no-dropout baseline with the same max-norm as a
grey reference band, one max-norm at a time (a dropdown when the sweep has several).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..objective import Objective
from ..stats import BOUNDS, Interval, clip_ci
from .figures import (
    BASELINE_COLOR,
    Panel,
    band_trace,
    capital,
    finite,
    layout,
    placement_colors,
    with_direction,
)
from .summary import GroupStats, SweepSummary, baseline_group
from .text import fmt_ci, fmt_norm

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..tasks import Task

Metric = Callable[[GroupStats], Interval]
Values = Callable[[GroupStats], Sequence[float]]


def bounds_of(objective: Objective) -> tuple[float, float] | None:
    """[0, 1] for a bounded metric (accuracy, AUC ...), else no bounds."""
    return BOUNDS if objective.bounded else None


def _clip(interval: Interval, bounds: tuple[float, float] | None) -> Interval:
    """A bounded metric's t-interval can leave [0, 1] for few seeds; draw it inside
    (:func:`~sweep.stats.clip_ci`)."""
    return clip_ci(interval, bounded=bounds is not None)


def y_range(summary: SweepSummary, metric: Metric, values: Values | None,
            bounds: tuple[float, float] | None) -> list[float]:
    """Fit the means and seeds, and the CIs of groups with 3+ seeds (two-seed intervals are
    so wide they would flatten everything else; their bands run off the axis instead)."""
    points: list[float] = []
    for g in summary.groups:
        interval = _clip(metric(g), bounds)
        points.append(interval.mean)
        points += list(values(g)) if values is not None else []
        if g.n >= 3:
            points += [interval.low, interval.high]
    points = [p for p in points if finite(p)] or [0.0, 1.0]
    low, high = min(points), max(points)
    pad = max(0.02, 0.06 * (high - low))
    return [low - pad, high + pad]


def x_range(summary: SweepSummary) -> list[float]:
    rates = summary.rates
    return [min(rates) - 0.04, max(rates) + 0.04]


def _rate_traces(summary: SweepSummary, max_norm: float | None, metric: Metric,
                 seed_values: Values | None, bounds: tuple[float, float] | None,
                 label: str, legend: bool, baseline_label: str) -> list[dict[str, Any]]:
    """Per placement: CI band, mean line and (faint) seed points over the dropout rates; the
    no-dropout baseline with this max-norm (named ``baseline_label``) as a grey reference
    band."""
    colors = placement_colors(summary)
    traces: list[dict[str, Any]] = []
    top = max(summary.rates)
    base = summary.get(baseline_group(max_norm))
    if base is not None:
        value = _clip(metric(base), bounds)
        if finite(value.low):
            traces.append(band_trace([0, top], [value.low] * 2, [value.high] * 2,
                                     BASELINE_COLOR, "baseline", "baseline"))
        traces.append({
            "type": "scatter", "x": [0, top], "y": [value.mean] * 2, "mode": "lines",
            "line": {"color": BASELINE_COLOR, "dash": "dash", "width": 1.5},
            "name": f"{baseline_label} (n={base.n})", "legendgroup": "baseline",
            "showlegend": legend,
            "hovertemplate": f"{baseline_label} (baseline)<br>{label} {value.mean:.3f}"
                             f"<br>95% CI {fmt_ci(value, form='range')}<br>n={base.n}"
                             "<extra></extra>",
        })
        if seed_values is not None:
            traces.append(_seed_points([base], seed_values, BASELINE_COLOR, "baseline", 0.0))
    for index, placement in enumerate(summary.placements):
        stats = sorted((g for g in summary.groups if g.group.placement == placement
                        and g.group.max_norm == max_norm and not g.group.is_baseline),
                       key=lambda g: g.group.rate)
        if not stats:
            continue
        color = colors[placement]
        values = [_clip(metric(g), bounds) for g in stats]
        rates = [g.group.rate for g in stats]
        with_ci = sum(finite(v.low) for v in values)
        if with_ci >= 2:
            traces.append(band_trace(rates, [v.low for v in values], [v.high for v in values],
                                     color, placement, placement))
        offset = (index - (len(summary.placements) - 1) / 2) * 0.006
        error, xs = None, rates
        if with_ci < 2:  # a band would have no width: error bars, side by side per placement
            error = {"type": "data", "symmetric": False, "color": color,
                     "array": [v.high - v.mean if finite(v.high) else None for v in values],
                     "arrayminus": [v.mean - v.low if finite(v.low) else None for v in values]}
            xs = [round(r + offset, 4) for r in rates]
        traces.append({
            "type": "scatter", "x": xs, "y": [v.mean for v in values],
            "mode": "lines+markers", "name": placement, "legendgroup": placement,
            "showlegend": legend, "line": {"color": color, "width": 2.5},
            "marker": {"size": 7, "color": color}, "error_y": error,
            "customdata": [[fmt_ci(v, form="range"), g.n, g.group.rate] for v, g in
                           zip(values, stats, strict=True)],
            "hovertemplate": f"{placement}, rate %{{customdata[2]:g}}<br>{label} %{{y:.3f}}"
                             "<br>95% CI %{customdata[0]}<br>n=%{customdata[1]}<extra></extra>",
        })
        if seed_values is not None:
            traces.append(_seed_points(stats, seed_values, color, placement, offset))
    return traces


def _seed_points(stats: Sequence[GroupStats], values: Values, color: str, legendgroup: str,
                 offset: float) -> dict[str, Any]:
    xs, ys, seeds = [], [], []
    for g in stats:
        for seed, value in zip(g.seeds, values(g), strict=False):
            xs.append(round(g.group.rate + offset, 4))
            ys.append(value)
            seeds.append(seed)
    return {
        "type": "scatter", "x": xs, "y": ys, "mode": "markers", "customdata": seeds,
        "marker": {"size": 5, "color": color, "opacity": 0.3}, "legendgroup": legendgroup,
        "showlegend": False, "name": f"{legendgroup} seeds",
        "hovertemplate": "seed %{customdata}: %{y:.3f}<extra></extra>",
    }


def _norm_menu(fig: go.Figure, owners: Sequence[float | None], norms: Sequence[float | None],
               shown: float | None, y: float = 1.02) -> None:
    """Show the traces of one max-norm at a time, with a dropdown when there are several."""
    for trace, norm in zip(fig.data, owners, strict=True):
        trace.visible = norm == shown
    if len(norms) < 2:
        return
    buttons = [{"label": f"max-norm {fmt_norm(n)}", "method": "restyle",
                "args": [{"visible": [o == n for o in owners]}]} for n in norms]
    fig.update_layout(updatemenus=[{
        "buttons": buttons, "active": list(norms).index(shown), "x": 0.0, "xanchor": "left",
        "y": y, "yanchor": "bottom", "showactive": True, "pad": {"t": 0, "b": 0},
    }])


def _shown_norm(summary: SweepSummary) -> float | None:
    best = summary.best
    return best.group.max_norm if best is not None else summary.max_norms[0]


def rate_figure(summary: SweepSummary, task: Task) -> Panel:
    """(a) Dropout rate against the mean compared metric (e.g. test accuracy), one line per
    placement."""
    import plotly.graph_objects as go

    objective = summary.objective
    label, bounds = objective.label, bounds_of(objective)
    key, title = "rate-vs-test", with_direction(f"{capital(label)} against dropout rate", objective)
    if not summary.placements:
        return Panel(key, title, None, "No dropout groups yet (only the no-dropout baseline).")
    fig = go.Figure()
    owners: list[float | None] = []

    def test(g: GroupStats) -> Interval:
        return g.test

    def test_values(g: GroupStats) -> Sequence[float]:
        return g.test_values

    for norm in summary.max_norms:
        traces = _rate_traces(summary, norm, test, test_values, bounds, label,
                              legend=True, baseline_label=task.baseline_label)
        fig.add_traces([go.Scatter(t) for t in traces])
        owners += [norm] * len(traces)
    _norm_menu(fig, owners, summary.max_norms, _shown_norm(summary))
    layout(fig, 520)
    fig.update_xaxes(title="dropout rate", zeroline=False, range=x_range(summary))
    fig.update_yaxes(title=f"{label} (mean of seeds)",
                     range=y_range(summary, test, test_values, bounds))
    return Panel(key, title, fig, "Lines: mean over seeds with 95% CI band; faint points: single "
                 "seeds; grey dashed line and band: no-dropout baseline with the same max-norm.")


def train_gap_figure(summary: SweepSummary, task: Task) -> Panel:
    """(b) The train metric and the train - compared gap (e.g. train accuracy and the
    train-test gap) against dropout rate."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    objective = summary.objective
    name, split = objective.metric, objective.compared_on
    key = "train-and-gap"
    title = f"Train {name} and train-{split} gap against dropout rate"
    if not summary.placements:
        return Panel(key, title, None, "No dropout groups yet (only the no-dropout baseline).")
    if not any(finite(g.train.mean) for g in summary.groups):
        values = "accuracies" if name == "accuracy" else f"{name} values"
        return Panel(key, title, None, f"No train {values} recorded.")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.09, subplot_titles=(
        with_direction(objective.named("train"), objective),
        f"gap: train - {objective.label}"))
    owners: list[float | None] = []

    def train(g: GroupStats) -> Interval:
        return g.train

    def gap(g: GroupStats) -> Interval:
        return g.gap

    metrics: list[tuple[Metric, tuple[float, float] | None, str]] = [
        (train, bounds_of(objective), f"train {name}"), (gap, None, "gap")]
    for norm in summary.max_norms:
        for col, (metric, bounds, label) in enumerate(metrics, start=1):
            traces = _rate_traces(summary, norm, metric, None, bounds, label, legend=col == 1,
                                  baseline_label=task.baseline_label)
            fig.add_traces([go.Scatter(t) for t in traces], rows=1, cols=col)
            owners += [norm] * len(traces)
    _norm_menu(fig, owners, summary.max_norms, _shown_norm(summary), y=1.12)
    layout(fig, 480)
    fig.update_layout(margin={"t": 90})
    fig.update_xaxes(title="dropout rate", zeroline=False, range=x_range(summary))
    for col, (metric, bounds, _) in enumerate(metrics, start=1):
        fig.update_yaxes(range=y_range(summary, metric, None, bounds), row=1, col=col)
    final = "Final accuracies" if name == "accuracy" else f"Final {name} values"
    return Panel(key, title, fig, f"{final} evaluated with dropout off; mean over seeds "
                 "with 95% CI band; grey: no-dropout baseline with the same max-norm.")
