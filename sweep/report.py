"""The sweep report: one self-contained HTML file (plotly.js inline, opens offline).

Compute, then render: :func:`load_report_data` reads the study into plain numbers
(:class:`ReportData`: the :class:`~sweep.summary.SweepSummary` and mean learning curves);
:mod:`sweep._figures` turns them into figures; :func:`render_html` lays them out; writing the
report also stores the figures and the headline in the study for optuna-dashboard.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._fast_records import read_records
from ._report_text import (
    group_label,
    headline,
    notes,
    progress_text,
    table_rows,
    verdict_kind,
)
from .curves import load_curves
from .exceptions import EmptyStudyError
from .grid import Group
from .summary import (
    CurveStats,
    GroupStats,
    SweepSummary,
    baseline_group,
    curve_stats,
    summarize,
)

if TYPE_CHECKING:
    from ._figures import Panel
    from .study import SweepStudy

REPORT_DIR = Path("dashboards")
TUTORIAL_GROUP = Group(0.4, "hidden", None)


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as plain data."""

    study: str
    storage: str
    settings: Mapping[str, Any]
    summary: SweepSummary
    curves: tuple[CurveStats, ...]
    curve_labels: tuple[str, ...]


def default_report_path(study: str) -> Path:
    return REPORT_DIR / f"{study}.html"


def curve_groups(summary: SweepSummary) -> list[tuple[GroupStats, str]]:
    """Groups whose learning curves are shown, with their legend labels: the best group's
    baseline, the best group and the tutorial's hidden-0.4 group (with its own baseline),
    those present, each once."""
    best = summary.best
    wanted: list[tuple[Group, str]] = []
    if best is not None:
        reference = baseline_group(best.group.max_norm)
        wanted.append((reference, group_label(reference)))
        wanted.append((best.group, f"best: {group_label(best.group)}"))
    if summary.get(TUTORIAL_GROUP) is not None:
        wanted.append((TUTORIAL_GROUP, f"tutorial: {group_label(TUTORIAL_GROUP)}"))
        wanted.append((baseline_group(None), group_label(baseline_group(None))))
    present: dict[Group, tuple[GroupStats, str]] = {}
    for group, label in wanted:
        stats = summary.get(group)
        if stats is not None and group not in present:
            present[group] = (stats, label)
    return list(present.values())


def load_report_data(sweep_study: SweepStudy) -> ReportData:
    """Read and summarize the study; load the curves of the groups in :func:`curve_groups`."""
    summary = summarize(read_records(sweep_study))
    if summary.n_complete == 0:
        detail = f"{summary.n_cells} cell(s) queued or running" if summary.n_cells else "no cells"
        raise EmptyStudyError(
            f"study {sweep_study.name!r} has no completed cells yet ({detail}); "
            "run 'python -m sweep run' (or wait for its workers) and try again"
        )
    chosen = curve_groups(summary)
    loaded = load_curves(sweep_study.engine, [i for g, _ in chosen for i in g.trial_ids])
    curves, labels = [], []
    for group, label in chosen:
        stats = curve_stats(group.group, [loaded[i] for i in group.trial_ids if i in loaded])
        if stats is not None:
            curves.append(stats)
            labels.append(label)
    return ReportData(sweep_study.name, _safe_url(sweep_study.url.url), sweep_study.settings,
                      summary, tuple(curves), tuple(labels))


def build_panels(data: ReportData) -> list[Panel]:
    """The report's figures: (a) test accuracy and (b) train accuracy and gap against the
    dropout rate, (c) the rate x max-norm heatmap, (d) mean learning curves."""
    from ._figures import curves_figure, heatmap_figure
    from ._rate_figures import rate_figure, train_gap_figure

    summary = data.summary
    return [rate_figure(summary), train_gap_figure(summary), heatmap_figure(summary),
            curves_figure(data.curves, data.curve_labels)]


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#222;
 background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.2rem 0 .8rem} h2{font-size:1.15rem;margin:0 0 .3rem}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:1rem;margin:1rem 0}
.headline{font-size:1.08rem;padding:.8rem 1rem;border-radius:6px;border-left:6px solid}
.headline.better{background:#eaf6ec;border-color:#2e9e44}
.headline.neutral{background:#fff7e0;border-color:#e0a800}
.headline.worse{background:#fdecea;border-color:#d93025}
.status{color:#444;margin:.6rem 0} .caption{color:#555;font-size:.9rem;margin:.1rem 0 .6rem}
.omitted{color:#777;font-style:italic}
table{border-collapse:collapse;font-size:.82rem;width:100%}
th,td{padding:.22rem .4rem;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0} td.l,th.l{text-align:left}
tr.best td{font-weight:600;background:#fff3bf} tr.better td{background:#e6f4ea}
tr.worse td{background:#fce8e6} tr.best.better td{background:#d9f0c8}
tr.best td:first-child{box-shadow:inset 5px 0 #e0a800}
.table-wrap{max-height:38rem;overflow:auto} footer{color:#777;font-size:.8rem}
"""


def render_html(data: ReportData, panels: Sequence[Panel]) -> str:
    """The whole page; plotly.js is inlined once, with the first figure."""
    summary, esc = data.summary, html.escape
    parts = [f"<h1>Dropout sweep <code>{esc(data.study)}</code></h1>",
             f'<p class="headline {verdict_kind(summary)}">{esc(headline(summary))}</p>',
             f'<p class="status">{esc(progress_text(summary))}</p>']
    parts += [f'<p class="status">{esc(note)}</p>' for note in notes(summary)]
    first = True
    for panel in panels:
        body = f'<p class="omitted">Not shown: {esc(panel.note)}</p>'
        if panel.figure is not None:
            body = f'<p class="caption">{esc(panel.note)}</p>' + panel.figure.to_html(
                full_html=False, include_plotlyjs=first, div_id=panel.key,
                config={"displaylogo": False, "responsive": True})
            first = False
        parts.append(f'<section id="section-{panel.key}"><h2>{esc(panel.title)}</h2>'
                     f"{body}</section>")
    parts.append(_table_html(summary))
    settings = ", ".join(f"{k}={v}" for k, v in data.settings.items())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>Study settings: {esc(settings)}. Storage: {esc(data.storage)}. "
                 f"Generated {stamp} by sweep.</footer>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Sweep report: {esc(data.study)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def _table_html(summary: SweepSummary) -> str:
    headers, rows = table_rows(summary)
    head = "".join(f'<th class="{"l" if i == 2 else ""}">{html.escape(h)}</th>'
                   for i, h in enumerate(headers))
    body = []
    for css, cells in rows:
        tds = "".join(f'<td class="{"l" if i == 2 else ""}">{html.escape(c)}</td>'
                      for i, c in enumerate(cells))
        body.append(f'<tr class="{css}">{tds}</tr>')
    return ('<section id="section-ranking"><h2>Cell groups ranked by mean test accuracy</h2>'
            '<p class="caption">Bold, yellow mark: best group. Green / red: differs from the '
            "no-dropout baseline with the same max-norm beyond seed noise (paired t-test over "
            "shared seeds, Holm-corrected p &lt; 0.05), better / worse. * fewer seeds than the "
            'largest group.</p><div class="table-wrap"><table id="ranking">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            "</section>")


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    summary: SweepSummary


def write_report(sweep_study: SweepStudy, out: Path | None = None, *,
                 publish: bool = True) -> WrittenReport:
    """Write the HTML report (atomically) and, with ``publish``, store its figures and
    headline in the study for optuna-dashboard."""
    data = load_report_data(sweep_study)
    panels = build_panels(data)
    path = Path(out) if out is not None else default_report_path(sweep_study.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(render_html(data, panels), encoding="utf-8")
    partial.replace(path)
    if publish:
        from .dashboard import publish_to_study

        publish_to_study(sweep_study.study, panels, data.summary, report_path=path)
    return WrittenReport(path, data.summary)


def publish_report(sweep_study: SweepStudy) -> list[str]:
    """Store the report's figures and headline in the study (no HTML); the graph ids."""
    from .dashboard import publish_to_study

    data = load_report_data(sweep_study)
    return publish_to_study(sweep_study.study, build_panels(data), data.summary)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
