"""The sweep report: one self-contained HTML file (plotly.js inline, opens offline).

Compute, then render: :func:`load_report_data` reads the study into plain numbers
(:class:`ReportData`: the :class:`~sweep.report.summary.SweepSummary` and mean learning curves);
:mod:`sweep.report.figures` turns them into figures; :func:`render_html` lays them out with the
words of :mod:`sweep.report.text`; writing the report also stores the figures and the headline
in the study for optuna-dashboard (:mod:`sweep.report.dashboard`).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import ReportConflictError
from ..grid import Group
from ..race_answer import RaceReport
from ..storage import load_curves, safe_url
from ._failures import failures_html
from .calibration_text import calibration_sentence
from .curve_stats import CurveStats, curve_stats
from .race import race_headline, race_html
from .summary import GroupStats, SweepSummary, baseline_group, summary_and_race
from .tables import table_rows
from .text import (
    confirmation_sentence,
    group_label,
    headline,
    held_out_label,
    notes,
    progress_text,
    verdict_kind,
)
from .writing import write_atomically

if TYPE_CHECKING:
    from ..storage import SweepStudy
    from ..tasks import Task
    from .figures import Panel

REPORT_DIR = Path("dashboards")


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as plain data."""

    study: str
    storage: str
    settings: Mapping[str, Any]
    summary: SweepSummary
    curves: tuple[CurveStats, ...]
    curve_labels: tuple[str, ...]
    task: Task  # its words: placement phrases, the baseline's and the reference's labels
    race: RaceReport | None = None  # a --seeds auto study's race


def default_report_path(study: str, storage_url: str | None = None) -> Path:
    """``dashboards/<study>.html`` for the study's default storage
    (``sqlite:///studies/<study>.db``); for any other storage the name also carries the
    storage (its file or database name and a short hash of its URL), so a report of one
    storage never replaces another's: ``dashboards/<study>@<storage>-<hash>.html``."""
    from ..config import default_storage_url

    if storage_url is None or storage_url == default_storage_url(study):
        return REPORT_DIR / f"{study}.html"
    from sqlalchemy.engine import make_url

    parsed = make_url(storage_url)
    name = Path(parsed.database or "").stem if parsed.get_backend_name() == "sqlite" else (
        f"{parsed.host or 'local'}-{parsed.database or ''}")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "storage"
    digest = hashlib.sha256(safe_url(storage_url).encode()).hexdigest()[:6]
    return REPORT_DIR / f"{study}@{slug}-{digest}.html"


def curve_groups(summary: SweepSummary, task: Task) -> list[tuple[GroupStats, str]]:
    """Groups whose learning curves are shown, with their legend labels: the best group's
    baseline, the best group and the task's reference group (the tutorial's hidden-0.4 for
    circles) with its own baseline, those present, each once."""
    best = summary.best
    wanted: list[tuple[Group, str]] = []
    if best is not None:
        baseline = baseline_group(best.group.max_norm)
        wanted.append((baseline, group_label(baseline, task)))
        wanted.append((best.group, f"best: {group_label(best.group, task)}"))
    reference = summary.reference
    if reference is not None and summary.get(reference) is not None:
        wanted.append((reference, f"{task.reference_label}: {group_label(reference, task)}"))
        wanted.append((baseline_group(None), group_label(baseline_group(None), task)))
    present: dict[Group, tuple[GroupStats, str]] = {}
    for group, label in wanted:
        stats = summary.get(group)
        if stats is not None and group not in present:
            present[group] = (stats, label)
    return list(present.values())


def load_report_data(sweep_study: SweepStudy, summary: SweepSummary | None = None,
                     race: RaceReport | None = None) -> ReportData:
    """Read and summarize the study (:func:`~sweep.report.summary.study_summary`: at least one
    completed cell); load the curves of the groups in :func:`curve_groups`. A caller that has
    the study's ``summary`` and ``race`` already (a run's, computed once after its last
    trial) passes them: they are not computed again. Without them the race is replayed once,
    and the summary takes that replay."""
    summary, race = summary_and_race(sweep_study, summary, race)
    chosen = curve_groups(summary, sweep_study.task)
    loaded = load_curves(sweep_study.engine, [i for g, _ in chosen for i in g.trial_ids])
    curves, labels = [], []
    for group, label in chosen:
        stats = curve_stats(group.group, [loaded[i] for i in group.trial_ids if i in loaded])
        if stats is not None:
            curves.append(stats)
            labels.append(label)
    return ReportData(sweep_study.name, safe_url(sweep_study.url.url), sweep_study.settings,
                      summary, tuple(curves), tuple(labels), sweep_study.task, race)


def build_panels(data: ReportData) -> list[Panel]:
    """The report's figures: (a) the compared metric (e.g. test accuracy) and (b) the train
    metric and the gap against the dropout rate, (c) the rate x max-norm heatmap, (d) mean
    learning curves; in the study's metric and direction; for a study with calibration
    figures, those of :mod:`.calibration_figures`."""
    from .calibration_figures import calibration_panels
    from .figures import curves_figure, heatmap_figure
    from .rate_figures import rate_figure, train_gap_figure

    summary, task = data.summary, data.task
    return [rate_figure(summary, task), train_gap_figure(summary, task), heatmap_figure(summary),
            curves_figure(data.curves, data.curve_labels, summary.objective),
            *calibration_panels(summary, task)]


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
td.reason{white-space:normal}
"""


def render_html(data: ReportData, panels: Sequence[Panel]) -> str:
    """The whole page; plotly.js is inlined once, with the first figure."""
    summary, task, esc = data.summary, data.task, html.escape

    kind, line = verdict_kind(summary), headline(summary, task)
    if data.race is not None:
        kind, line = race_headline(data.race, task, summary.objective)
        confirmed = confirmation_sentence(summary, task)
        if confirmed is not None:  # the answer from fresh seeds first, the race's beside it
            line = f"{confirmed} Selection stage (the race over the sweep's own seeds): {line}"
            if summary.confirmation is not None and summary.confirmation.complete:
                kind = verdict_kind(summary)
    calibrated = calibration_sentence(summary, task)
    if calibrated is not None:
        line = f"{line} {calibrated}"
    parts = [f"<h1>Dropout sweep <code>{esc(data.study)}</code></h1>",
             f'<p class="headline {kind}">{esc(line)}</p>',
             f'<p class="status">{esc(progress_text(summary))}</p>']
    if data.race is not None:
        parts.append(race_html(data.race, task, summary.objective))
    parts += [f'<p class="status">{esc(note)}</p>' for note in notes(summary, task)]
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
    parts.append(_table_html(summary, task))
    parts.append(failures_html(summary))
    settings = ", ".join(f"{k}={v}" for k, v in data.settings.items())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>Study settings: {esc(settings)}. Storage: {esc(data.storage)}. "
                 f"Generated {stamp} by sweep.</footer>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="{SOURCE_META}" content="{esc(source_of(data.study, data.storage))}">'
            f"<title>Sweep report: {esc(data.study)}</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def _table_html(summary: SweepSummary, task: Task) -> str:
    headers, rows = table_rows(summary, task)
    head = "".join(f'<th class="{"l" if i == 2 else ""}">{html.escape(h)}</th>'
                   for i, h in enumerate(headers))
    body = []
    for css, cells in rows:
        tds = "".join(f'<td class="{"l" if i == 2 else ""}">{html.escape(c)}</td>'
                      for i, c in enumerate(cells))
        body.append(f'<tr class="{css}">{tds}</tr>')
    objective = summary.objective
    ranked = f"mean {objective.label} ({objective.better_word})"  # the direction, always
    held = (f" Held-out test mean: {held_out_label(objective)}, recorded beside the validation "
            "metric and never used to rank." if objective.validated else "")
    return (f'<section id="section-ranking"><h2>Cell groups ranked by {html.escape(ranked)}'
            '</h2><p class="caption">Bold, yellow mark: best group. Green / red: differs from '
            "the no-dropout baseline with the same max-norm beyond seed noise (paired t-test "
            "over shared seeds, Holm-corrected p &lt; 0.05), better / worse. * fewer seeds than "
            f'the largest group.{html.escape(held)}</p><div class="table-wrap"><table id="ranking">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            "</section>")


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    summary: SweepSummary
    panels: tuple[Panel, ...]


SOURCE_META = "sweep-source"
_SOURCE = re.compile(rf'<meta name="{SOURCE_META}" content="([^"]*)">')


def source_of(study: str, safe_storage: str) -> str:
    """What a report says it shows: ``study`` in ``storage`` (password hidden)."""
    return f"{study} in {safe_storage}"


def write_report(sweep_study: SweepStudy, out: Path | None = None, *,
                 summary: SweepSummary | None = None,
                 race: RaceReport | None = None) -> WrittenReport:
    """Write the HTML report atomically (a failed write leaves nothing behind). Without
    ``out``, the default path (:func:`default_report_path`) is never taken from a report of
    another study or storage: that is refused (use ``out``). ``summary`` and ``race``: the
    study's, when the caller has them (:func:`load_report_data`)."""
    data = load_report_data(sweep_study, summary, race)
    panels = build_panels(data)
    if out is None:
        path = default_report_path(sweep_study.name, sweep_study.url.url)
        _check_default_path(path, source_of(data.study, data.storage))
    else:
        path = Path(out)
    write_atomically(path, render_html(data, panels), database=sweep_study.url.sqlite_path)
    return WrittenReport(path, data.summary, tuple(panels))


def _check_default_path(path: Path, source: str) -> None:
    if not path.is_file():
        return
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            found = _SOURCE.search(f.read(4096))
    except OSError:
        return  # the write reports it
    if found is None or html.unescape(found.group(1)) != source:
        shown = ("another file" if found is None
                 else f"the report of {html.unescape(found.group(1))}")
        raise ReportConflictError(
            f"{str(path)!r} holds {shown}; not replacing it: give --out FILE to write this "
            "report elsewhere (or there)"
        )


def publish_report(sweep_study: SweepStudy, written: WrittenReport | None = None) -> list[str]:
    """Store the report's figures and headline in the study for optuna-dashboard; the graph
    ids. A study opened for reading is opened again to write only these attributes."""
    from ..storage import open_study
    from .dashboard import publish_to_study

    if written is None:
        data = load_report_data(sweep_study)
        panels, summary, path = build_panels(data), data.summary, None
    else:
        panels, summary, path = list(written.panels), written.summary, written.path
    if sweep_study.access != "read":
        return publish_to_study(sweep_study.study, panels, summary, sweep_study.task,
                                report_path=path)
    # the task known already: not resolved again
    with open_study(study_name=sweep_study.name, storage_url=sweep_study.url.url,
                    access="annotate", task=sweep_study.task) as target:
        return publish_to_study(target.study, panels, summary, sweep_study.task,
                                report_path=path)
