"""optuna-dashboard: a real server process (via ``python -m sweep dashboard``) serves the study,
the report's figures and its note through its REST API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna_dashboard
import pytest

from sweep.report.dashboard import NOTE_START, figure_id, merge_note
from sweep.report.html import publish_report, write_report
from sweep.storage import SweepStudy
from sweep.storage.synthetic import build_study

from ..conftest import REPO, cli_in_process, run_cli

pytestmark = pytest.mark.xdist_group("report-dashboard")  # its module fixtures train once

FIGURE_IDS = {figure_id(k) for k in ("rate-vs-test", "train-and-gap", "heatmap",
                                     "learning-curves")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.load(response)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> SweepStudy:
    db = tmp_path_factory.mktemp("dash") / "dash.db"
    sweep_study = build_study(f"sqlite:///{db}", "dash", rates=(0.0, 0.3, 0.6),
                              max_norms=(None, 2.0), seeds=3, epochs=60, pending=1,
                              dashboard_points=5)
    write_report(sweep_study, db.parent / "dash.html")
    return sweep_study


@pytest.fixture(scope="module")
def server(study: SweepStudy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m sweep dashboard`` on a free port; always stopped afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("dash-log") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sweep", "dashboard", "--study", study.name,
             "--storage", study.url.url, "--port", str(port)],
            cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"optuna-dashboard exited early:\n{log.read_text()}")
            try:
                get_json(f"{base}/api/studies")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"optuna-dashboard did not answer:\n{log.read_text()}")
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_the_dashboard_lists_the_study(server: str, study: SweepStudy) -> None:
    studies = get_json(f"{server}/api/studies")["study_summaries"]
    assert [(s["study_name"], s["study_id"]) for s in studies] == [
        (study.name, study.study_id)]


def test_the_dashboard_serves_the_report_figures_and_note(server: str, study: SweepStudy) -> None:
    detail = get_json(f"{server}/api/studies/{study.study_id}")
    assert len(detail["trials"]) == len(study.records())
    graphs = {g["id"]: json.loads(g["graph_object"]) for g in detail["plotly_graph_objects"]}
    assert set(graphs) == FIGURE_IDS
    rate = graphs[figure_id("rate-vs-test")]
    assert rate["layout"]["title"]["text"] == "Test accuracy against dropout rate"
    names = {t.get("name") for t in rate["data"]}
    assert {"input", "hidden", "both"} <= names
    assert any(t["type"] == "heatmap" for t in graphs[figure_id("heatmap")]["data"])
    note = detail["note"]["body"]
    assert note.startswith(NOTE_START) and "Best:" in note and "| rank |" in note


def test_the_dashboard_command_reports_a_taken_port(study: SweepStudy, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli_in_process("dashboard", "--study", study.name, "--storage",
                                study.url.url, "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"sweep: error: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "choose another --port or --host"]


def test_the_dashboard_command_needs_an_existing_study(tmp_path: Path) -> None:
    # a real process, with run_cli's timeout: a dashboard that failed to refuse would serve
    # until killed
    result = run_cli("dashboard", "--study", "nope", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2 and "no study 'nope'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_publishing_keeps_the_users_own_note(tmp_path: Path) -> None:
    sweep_study = build_study(f"sqlite:///{tmp_path / 'n.db'}", "n", rates=(0.0, 0.4),
                              placements=("hidden",), max_norms=(None,), seeds=2, epochs=10,
                              dashboard_points=0)
    optuna_dashboard.save_note(sweep_study.study, "my own observations")
    for _ in range(2):
        publish_report(sweep_study, write_report(sweep_study, tmp_path / "n.html"))
        note = optuna_dashboard.get_note(sweep_study.study)
        assert note.startswith(NOTE_START) and note.count(NOTE_START) == 1
        assert note.rstrip().endswith("my own observations")
    assert merge_note("", "ours") == "ours"
