"""Plotly figures of a sweep summary (rendering only: every number comes from ``summary``).

Shared pieces (:class:`Panel`, colours, CI bands, layout), (c) the rate x max-norm heatmap and
(d) the mean learning curves; the figures over the dropout rate are in ``rate_figures``. Each
builder returns a :class:`Panel`: a figure, or ``None`` with a note saying why there is nothing
to show, so a partial sweep never produces an empty or broken plot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..grid import Group
from ..objective import Objective
from ..stats import clip_to_bounds
from .curve_stats import CurveStats
from .summary import SweepSummary, baseline_group
from .text import direction_phrase, fmt_ci, fmt_norm, plain_accuracy

if TYPE_CHECKING:
    import plotly.graph_objects as go

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
BASELINE_COLOR = "#555555"
CURVE_COLORS = ("#ff7f0e", "#9467bd", "#17becf", "#e377c2")  # groups with dropout
BASELINE_DASHES = ("solid", "dot", "dash", "dashdot")  # baselines: grey, one dash each
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}


@dataclass(frozen=True)
class Panel:
    """One figure of the report: ``figure`` is None when there is nothing to show."""

    key: str
    title: str
    figure: go.Figure | None
    note: str


def rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def placement_colors(summary: SweepSummary) -> dict[str, str]:
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(summary.placements)}


def finite(value: float) -> bool:
    return not math.isnan(value)


def band_trace(x: Sequence[float], low: Sequence[float], high: Sequence[float], color: str,
               name: str, legendgroup: str) -> dict[str, Any]:
    """A filled polygon between ``low`` and ``high`` (points with a nan bound left out)."""
    kept = [(a, lo, hi) for a, lo, hi in zip(x, low, high, strict=True)
            if finite(lo) and finite(hi)]
    xs = [k[0] for k in kept]
    return {
        "type": "scatter", "x": xs + xs[::-1],
        "y": [k[1] for k in kept] + [k[2] for k in kept][::-1],
        "fill": "toself", "fillcolor": rgba(color, 0.15), "line": {"width": 0},
        "hoverinfo": "skip", "name": name, "legendgroup": legendgroup, "showlegend": False,
        "mode": "lines",
    }


def with_direction(text: str, objective: Objective) -> str:
    """``text`` with the objective's direction appended where the words say it:
    "Validation mse against dropout rate (lower is better)"."""
    direction = direction_phrase(objective)
    return f"{text} ({direction})" if direction else text


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def layout(fig: go.Figure, height: int) -> None:
    """Common look; no title (the report's section heading has it, the dashboard adds it)."""
    fig.update_layout(height=height, template="plotly_white", font=FONT,
                      margin={"t": 60, "r": 20, "l": 60, "b": 40},
                      legend={"orientation": "h", "y": -0.2, "x": 0.0})


def heatmap_figure(summary: SweepSummary) -> Panel:
    """(c) The mean compared metric over rate x max-norm, one heatmap per placement (the
    colour scale reversed for a minimized metric: the better, the brighter)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    objective = summary.objective
    key = "heatmap"
    title = with_direction(f"Mean {objective.label} over dropout rate x max-norm", objective)
    rates, norms, placements = summary.rates, summary.max_norms, summary.placements
    if len(norms) < 2 or len(rates) < 2 or not placements:
        varied = "max-norm" if len(norms) < 2 else "dropout rate"
        return Panel(key, title, None, f"Only one {varied} in this sweep: the heatmap needs two "
                     "or more dropout rates (counting the baseline's 0) and two or more max-norms.")
    fig = make_subplots(rows=1, cols=len(placements), subplot_titles=placements,
                        shared_yaxes=True, horizontal_spacing=0.03)
    means = [g.test.mean for g in summary.groups]
    for col, placement in enumerate(placements, start=1):
        z: list[list[float | None]] = []
        text: list[list[str]] = []
        for norm in norms:
            row_z, row_text = [], []
            for rate in rates:
                group = baseline_group(norm) if rate == 0 else Group(rate, placement, norm)
                stats = summary.get(group)
                row_z.append(None if stats is None else round(stats.test.mean, 4))
                row_text.append("" if stats is None else
                                f"n={stats.n}, 95% CI {fmt_ci(stats.test, form='range')}")
            z.append(row_z)
            text.append(row_text)
        fig.add_trace(go.Heatmap(
            z=z, x=[f"{r:g}" for r in rates], y=[fmt_norm(n) for n in norms], text=text,
            texttemplate="%{z:.3f}", textfont={"size": 10}, coloraxis="coloraxis",
            hovertemplate=f"{placement}, rate %{{x}}, max-norm %{{y}}<br>mean "
                          f"{_hover_name(objective)} %{{z:.3f}}<br>%{{text}}<extra></extra>",
            xgap=1, ygap=1,
        ), row=1, col=col)
    low, high = min(means), max(means)
    if high - low < 0.01:
        low, high = low - 0.005, high + 0.005
    fig.update_layout(coloraxis={
        "colorscale": "Viridis", "cmin": low, "cmax": high, "reversescale": not objective.maximize,
        "colorbar": {"title": {"text": _colorbar_title(objective)}}})
    layout(fig, 140 + 34 * len(norms) + 120)
    fig.update_xaxes(title="dropout rate", type="category")
    fig.update_yaxes(title="max-norm", type="category", col=1)
    return Panel(key, title, fig, "Rate 0 is the no-dropout baseline (the same in every panel); "
                 "blank cells have no completed seed yet.")


def _colorbar_title(objective: Objective) -> str:
    """The metric, short ("test acc."); its unit, if any, on a line of its own."""
    name = f"{objective.compared_on} {objective.metric}".replace("accuracy", "acc.")
    return f"{name}<br>[{objective.unit}]" if objective.unit else name


def _hover_name(objective: Objective) -> str:
    """"test" for accuracy on test (as it always was), else the metric: "validation mse"."""
    return "test" if plain_accuracy(objective) else objective.label


def curves_figure(curves: Sequence[CurveStats], labels: Sequence[str],
                  objective: Objective | None = None) -> Panel:
    """(d) Mean learning curves (the train and the compared metric per epoch, e.g. train and
    test accuracy) of a few groups; ``objective`` default: accuracy on test."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    objective = objective or Objective()
    key, title = "learning-curves", "Mean learning curves"
    if not curves:
        return Panel(key, title, None, "No learning curves stored for these groups.")
    direction = direction_phrase(objective)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08, subplot_titles=(
        f"{objective.named('train')} (dropout on, per epoch)",
        f"{objective.label} (per epoch{'; ' + direction if direction else ''})"))
    baselines = dropouts = 0
    for stats, label in zip(curves, labels, strict=True):
        if stats.group.is_baseline:
            color, dash = BASELINE_COLOR, BASELINE_DASHES[baselines % len(BASELINE_DASHES)]
            baselines += 1
        else:
            color, dash = CURVE_COLORS[dropouts % len(CURVE_COLORS)], "solid"
            dropouts += 1
        epochs = stats.epochs.tolist()
        for col, band in enumerate((stats.train, stats.test), start=1):
            if stats.n >= 2:
                # a t-interval of a few seeds can leave [0, 1]: drawn inside, as everywhere
                low = clip_to_bounds(band.low, objective.bounded).round(4)
                high = clip_to_bounds(band.high, objective.bounded).round(4)
                shade = band_trace(epochs, low.tolist(), high.tolist(), color, label, label)
                fig.add_trace(go.Scatter(shade), row=1, col=col)
            fig.add_trace(go.Scatter(
                x=epochs, y=band.mean.round(4).tolist(), mode="lines",
                name=f"{label} (n={stats.n})", legendgroup=label, showlegend=col == 1,
                line={"color": color, "width": 1.8, "dash": dash},
                hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.3f}}<extra></extra>",
            ), row=1, col=col)
    layout(fig, 460)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=f"{objective.metric}{objective.unit_suffix}", col=1)
    return Panel(key, title, fig, "Mean over seeds with 95% CI band (curves are stored at up "
                 "to 500 points per trial).")
