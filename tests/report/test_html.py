"""The HTML report: contents, offline rendering in a real headless Chromium, partial sweeps, CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from sweep.grid import Group
from sweep.report.html import build_panels, curve_groups, load_report_data, write_report
from sweep.report.summary import summarize
from sweep.report.text import headline
from sweep.storage import SweepStudy, open_study
from sweep.storage.synthetic import build_study
from sweep.tasks import get_task, task_names

from ..conftest import cli_in_process

pytestmark = pytest.mark.xdist_group("report-html")  # its module fixtures train once

FIGURES = ("rate-vs-test", "train-and-gap", "heatmap", "learning-curves")
INSTALL = "apt-get update && apt-get install -y chromium"


def chromium() -> str:
    """The browser; a missing one fails the test (CI's .ci/run installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(f"chromium is not installed; install it with '{INSTALL}'")
    return path


def render_in_chromium(page: Path, profile: Path) -> tuple[str, str]:
    """(rendered DOM, browser log) of ``page`` opened from disk with networking off: every
    request would go to a dead proxy, so a report that needs the network cannot render."""
    command = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-extensions", "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>", f"--user-data-dir={profile}",
        "--virtual-time-budget=20000", "--enable-logging=stderr", "--v=0",
        "--dump-dom", page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


def sections(dom: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in
            re.finditer(r'<section id="section-([a-z-]+)">(.*?)</section>', dom, re.S)}


def rendered_svgs(section: str) -> int:
    """Plotly's drawn ``<svg class="main-svg">`` elements (not the string in plotly.js)."""
    return len(re.findall(r'<svg[^>]*class="main-svg"', section))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> SweepStudy:
    """A sweep in progress: 3 max-norms x 4 rates x 3 placements, 4 seeds, 3 cells unfinished."""
    db = tmp_path_factory.mktemp("report") / "demo.db"
    return build_study(f"sqlite:///{db}", "demo", rates=(0.0, 0.2, 0.4, 0.6),
                       max_norms=(None, 1.0, 3.0), seeds=4, epochs=120, running=1, pending=2,
                       dashboard_points=3)


@pytest.fixture(scope="module")
def report(study: SweepStudy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(study, tmp_path_factory.mktemp("out") / "demo.html").path


def test_the_report_is_one_self_contained_file_with_every_figure(
    study: SweepStudy, report: Path
) -> None:
    text = report.read_text(encoding="utf-8")
    summary = load_report_data(study).summary
    assert text.count("Plotly.newPlot(") == len(FIGURES)
    for key in FIGURES:
        assert f'id="{key}"' in text
    assert not re.findall(r"<script[^>]+src=|<link[^>]+href=", text)  # plotly.js is inline
    assert 'id="ranking"' in text and text.count("<tr class=") == len(summary.groups)
    assert headline(summary, study.task).split(":")[0] in text
    assert "Sweep in progress: 117 of 120 cells complete (1 running, 2 pending, 0 failed)" in text
    assert "Partial groups (3, fewer than 4 seeds)" in text
    assert 1e6 < report.stat().st_size < 8e6


def test_chromium_renders_every_figure_offline(report: Path, tmp_path: Path) -> None:
    dom, log = render_in_chromium(report, tmp_path / "profile")
    found = sections(dom)
    for key in FIGURES:
        assert rendered_svgs(found[f"{key}"]) >= 1, f"figure {key} was not drawn"
    assert re.search(r'class="trace scatter', found["rate-vs-test"])
    assert 'class="hm"' in found["heatmap"]
    assert 'class="updatemenu' in found["rate-vs-test"]  # the max-norm dropdown
    assert len(re.findall(r'<tr class="[^"]*best', found["ranking"])) == 1
    assert "Uncaught" not in log, log[-2000:]


def test_the_headline_says_whether_the_best_beats_the_baseline(study: SweepStudy) -> None:
    summary = load_report_data(study).summary
    best = summary.best
    assert best is not None and best.vs_baseline is not None
    text = headline(summary, study.task)
    assert f"mean test accuracy {best.test.mean:.3f}" in text and f"n={best.n}" in text
    verdict = ("beats the baseline beyond seed noise" if best.vs_baseline.better
               else "not distinguishable from seed noise")
    assert verdict in text


def test_learning_curves_show_baseline_best_and_the_tutorial_group(study: SweepStudy) -> None:
    data = load_report_data(study)
    groups = [c.group for c in data.curves]
    best = data.summary.best
    assert best is not None
    assert groups == [stats.group for stats, _ in curve_groups(data.summary, data.task)]
    assert best.group in groups and Group(0.4, "hidden", None) in groups  # the tutorial's
    assert "tutorial: rate 0.4, hidden, max-norm none" in data.curve_labels
    assert any(g.is_baseline and g.max_norm == best.group.max_norm for g in groups)
    for curves in data.curves:
        stats = data.summary.get(curves.group)
        assert stats is not None and curves.epochs[-1] == 120 and curves.n == stats.n


def test_every_task_words_its_placements_and_the_headline_uses_them(study: SweepStudy) -> None:
    """The report's words come from the task: each placement has its phrase, and a summary of
    another task's groups is worded with that task's phrases, not the circles task's."""
    for name in task_names():
        task = get_task(name)
        assert set(task.placement_words) == set(task.placements), name
    cnn = get_task("digits-cnn")  # shares the placement name "both" with circles
    both = [r for r in study.records() if r.cell.placement == "both"]
    text = headline(summarize(both, cnn), cnn)
    assert text.startswith("Best: dropout rate 0.")
    assert "as SpatialDropout2D and after pooling" in text
    assert "on input and hidden layer" in headline(summarize(both, study.task), study.task)


def test_fast_records_equal_optunas(study: SweepStudy, tmp_path: Path) -> None:
    assert study.records() == study.records_via_optuna()
    failed = build_study(f"sqlite:///{tmp_path / 'f.db'}", "f", rates=(0.0,), seeds=2,
                         with_curves=False, dashboard_points=0, pending=1)
    claim = failed.claim(1)
    failed.record_failure(claim, "boom")
    records = failed.records()
    assert records == failed.records_via_optuna()
    assert {r.state for r in records} == {"complete", "failed"}


PARTIAL_SWEEPS = {
    "one-group-one-seed": dict(rates=(0.4,), placements=("hidden",), max_norms=(None,), seeds=1),
    "baseline-only": dict(rates=(0.0,), max_norms=(None, 2.0), seeds=2),
    "no-baseline-two-norms": dict(rates=(0.2, 0.5), placements=("input",), max_norms=(None, 4.0),
                                  seeds=2, running=1),
    "two-seeds-no-curves": dict(rates=(0.0, 0.3), placements=("input", "hidden"),
                                max_norms=(None, 2.0), seeds=2, pending=3, with_curves=False),
}


@pytest.mark.parametrize("name", sorted(PARTIAL_SWEEPS))
def test_partial_sweeps_give_no_empty_figures(name: str, tmp_path: Path) -> None:
    sweep_study = build_study(f"sqlite:///{tmp_path / 'p.db'}", name, epochs=20,
                              dashboard_points=0, **PARTIAL_SWEEPS[name])  # type: ignore[arg-type]
    data = load_report_data(sweep_study)
    panels = build_panels(data)
    for panel in panels:
        if panel.figure is None:
            assert panel.note  # omitted, with a reason
            continue
        drawn = [t for t in panel.figure.data if t.visible is not False]
        assert any(getattr(t, "z", None) is not None or len(t.y or ()) for t in drawn), panel.key
    omitted = {p.key for p in panels if p.figure is None}
    expected = {
        "one-group-one-seed": {"heatmap"},
        "baseline-only": {"rate-vs-test", "train-and-gap", "heatmap"},
        "no-baseline-two-norms": set(),
        "two-seeds-no-curves": {"learning-curves"},
    }[name]
    assert omitted == expected
    path = write_report(sweep_study, tmp_path / "p.html").path
    text = path.read_text(encoding="utf-8")
    assert text.count("Plotly.newPlot(") == len(FIGURES) - len(expected)
    assert text.count("Not shown:") == len(expected)


def test_chromium_renders_a_one_cell_sweep(tmp_path: Path) -> None:
    sweep_study = build_study(f"sqlite:///{tmp_path / 'one.db'}", "one", rates=(0.4,),
                              placements=("hidden",), max_norms=(None,), seeds=1, epochs=20,
                              dashboard_points=0)
    path = write_report(sweep_study, tmp_path / "one.html").path
    dom, log = render_in_chromium(path, tmp_path / "profile")
    found = sections(dom)
    for key in ("rate-vs-test", "train-and-gap", "learning-curves"):
        assert rendered_svgs(found[key]) >= 1, key
    assert "Not shown:" in found["heatmap"] and rendered_svgs(found["heatmap"]) == 0
    assert "no no-dropout baseline" in dom and "Uncaught" not in log


def test_report_command_writes_the_default_path(tmp_path: Path) -> None:
    build_study(f"sqlite:///{tmp_path / 'studies' / 'cli.db'}", "cli", rates=(0.0, 0.4),
                placements=("hidden",), max_norms=(None,), seeds=2, epochs=10,
                dashboard_points=0)
    result = cli_in_process("report", "--study", "cli", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dashboards" / "cli.html").exists()
    assert "report: dashboards/cli.html" in result.stdout and "Best:" in result.stdout
    out = tmp_path / "elsewhere" / "r.html"
    result = cli_in_process("report", "--study", "cli", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0 and out.exists(), result.stderr


def test_report_command_errors_are_one_line(tmp_path: Path) -> None:
    missing = cli_in_process("report", "--study", "nope", cwd=tmp_path)
    assert missing.returncode == 2 and "no study 'nope'" in missing.stderr
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.create_study(study_name="other", storage=url)
    wrong = cli_in_process("report", "--study", "nope", "--storage", url, cwd=tmp_path)
    assert wrong.returncode == 2 and "studies there: other" in wrong.stderr
    empty = build_study(f"sqlite:///{tmp_path / 'pending.db'}", "pending", rates=(0.0,),
                        max_norms=(None,), seeds=2, pending=2, dashboard_points=0)
    assert empty.records()
    result = cli_in_process("report", "--study", "pending", "--storage", empty.url.url,
                            cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "sweep: error: study 'pending' has no completed cells yet (2 cell(s) queued or running); "
        "run 'python -m sweep run' (or wait for its workers) and try again"]
    for result in (missing, wrong):
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_help_imports_neither_plotly_nor_tensorflow(tmp_path: Path) -> None:
    code = ("import sys\nfrom sweep.cli import main\n"
            "for argv in (['--help'], ['report', '--help'], ['dashboard', '--help'],\n"
            "             ['summary', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'plotly', 'tensorflow'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "--out" in result.stdout and "--port" in result.stdout and "--format" in result.stdout


@pytest.mark.slow
def test_run_ends_by_writing_the_report(tmp_path: Path) -> None:
    result = cli_in_process("run", "--study", "tiny", "--rates", "0,0.4", "--placements",
                            "hidden", "--max-norms", "none", "--seeds", "1", "--epochs", "3",
                            "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "report: dashboards/tiny.html" in result.stdout
    assert "Plotly.newPlot(" in (tmp_path / "dashboards" / "tiny.html").read_text()
    assert open_study(study_name="tiny", storage_url="sqlite:///" + str(
        tmp_path / "studies" / "tiny.db"), task=None, settings=None, access="read").records()
