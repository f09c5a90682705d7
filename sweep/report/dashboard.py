"""optuna-dashboard: the report's figures and headline live in the study; launching the server.

:func:`publish_to_study` stores each figure of the report with
``optuna_dashboard.save_plotly_graph_object`` (ids ``sweep-<figure>``, shown on the study page)
and the headline as the study's note (``optuna_dashboard.save_note``), keeping whatever the
user wrote in the note outside sweep's section. :func:`launch` runs the ``optuna-dashboard``
executable of the same Python environment on the study's storage until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from ..exceptions import ConfigError, DashboardError, StorageUnavailableError
from .tables import note_markdown

if TYPE_CHECKING:
    import optuna
    import plotly.graph_objects as go

    from ..storage import SweepStudy
    from ..tasks import Task
    from .figures import Panel
    from .summary import SweepSummary

FIGURE_PREFIX = "sweep-"
NOTE_START = "### Sweep report"
NOTE_END = "_End of sweep report._"


def figure_id(panel_key: str) -> str:
    return FIGURE_PREFIX + panel_key


def merge_note(existing: str, ours: str) -> str:
    """``ours`` replaces sweep's previous section; the user's own text is kept below it."""
    start = existing.find(NOTE_START)
    end = existing.find(NOTE_END, start if start >= 0 else 0)
    if start >= 0 and end >= 0:
        existing = existing[:start] + existing[end + len(NOTE_END):]
    rest = existing.strip()
    return ours if not rest else f"{ours}\n\n{rest}"


def titled(panel: Panel) -> go.Figure:
    """A copy of the panel's figure for the dashboard, which shows it alone in a half-width
    card: with its title, the max-norm menu moved right of it, heatmaps without cell text."""
    import plotly.graph_objects as go

    figure = go.Figure(panel.figure)
    figure.update_layout(title={"text": panel.title, "x": 0.0, "xanchor": "left",
                                "y": 0.98, "yanchor": "top", "yref": "container"},
                         margin={"t": 110})
    for menu in figure.layout.updatemenus:
        menu.update(x=1.0, xanchor="right")
    figure.update_traces(texttemplate=None, selector={"type": "heatmap"})
    return figure


@functools.cache
def dashboard_functions() -> SimpleNamespace:
    """optuna-dashboard's ``save_plotly_graph_object``, ``get_note`` and ``save_note``. Its
    package imports its web server and, through it, Optuna's importance module and scikit-learn
    (about 2 s of CPU here, in every ``report``), for three functions whose own modules
    (``_custom_plot_data``, ``_note``) import only Optuna: they are loaded from those files, as
    modules of sweep's own naming, or from the package where the files are not there."""
    import importlib.util

    found = importlib.util.find_spec("optuna_dashboard")  # finds it without importing it
    folder = Path(found.origin).parent if found is not None and found.origin else None
    modules = {}
    for name in ("_custom_plot_data", "_note"):
        path = folder / f"{name}.py" if folder is not None else None
        spec = (importlib.util.spec_from_file_location(f"sweep._optuna_dashboard{name}", path)
                if path is not None and path.is_file() else None)
        if spec is None or spec.loader is None:
            import optuna_dashboard

            return SimpleNamespace(save_plotly_graph_object=optuna_dashboard
                                   .save_plotly_graph_object, get_note=optuna_dashboard.get_note,
                                   save_note=optuna_dashboard.save_note)
        modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[name])
    return SimpleNamespace(
        save_plotly_graph_object=modules["_custom_plot_data"].save_plotly_graph_object,
        get_note=modules["_note"].get_note, save_note=modules["_note"].save_note)


def publish_to_study(study: optuna.Study, panels: Sequence[Panel], summary: SweepSummary,
                     task: Task, report_path: Path | None = None) -> list[str]:
    """Store the figures and the headline note in ``study``; return the graph object ids."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    dashboard = dashboard_functions()
    ids = []
    try:
        for panel in panels:
            if panel.figure is None:
                continue
            ids.append(dashboard.save_plotly_graph_object(
                study, titled(panel), graph_object_id=figure_id(panel.key)))
        note = note_markdown(summary, task, report_path)
        dashboard.save_note(study, merge_note(dashboard.get_note(study), note))
    except (SQLAlchemyError, StorageInternalError) as e:
        raise StorageUnavailableError(
            f"cannot store the report's figures in study {study.study_name!r}: "
            f"{str(e).splitlines()[0]}") from e
    return ids


def dashboard_executable() -> Path:
    """``optuna-dashboard`` next to this Python (the same virtual environment)."""
    path = Path(sys.executable).parent / "optuna-dashboard"
    if not path.exists():
        raise DashboardError(
            f"optuna-dashboard is not installed next to {sys.executable} ({path} is missing); "
            "install it with 'pip install optuna-dashboard'"
        )
    if not path.is_file() or not os.access(path, os.X_OK):
        raise DashboardError(
            f"optuna-dashboard at {path} cannot be run (not an executable file); reinstall it "
            "with 'pip install --force-reinstall optuna-dashboard'"
        )
    return path


LOOPBACK = ("127.0.0.1", "localhost")


def exposure_warning(host: str) -> str | None:
    """What serving on ``host`` exposes, unless it is this machine's loopback."""
    if host in LOOPBACK:
        return None
    return (f"sweep: warning: serving on {host}: optuna-dashboard has no authentication and "
            "anyone who can reach this address can read and edit the study; use --host "
            "127.0.0.1 and an SSH tunnel unless the network is trusted")


def check_host(host: str) -> None:
    """optuna-dashboard's server (wsgiref's) listens on IPv4 only: an IPv6 address would
    pass a bind check here and then fail inside it."""
    if ":" in host:
        raise ConfigError(f"--host {host}: optuna-dashboard serves IPv4 addresses only; give "
                          "127.0.0.1 (this machine) or an IPv4 address of it")


def check_port(host: str, port: int) -> None:
    """Fail with one clear line when ``host:port`` cannot be listened on."""
    if not 0 < port < 65536:
        raise DashboardError(f"--port {port} is not a TCP port (1-65535)")
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as e:
        raise DashboardError(
            f"cannot listen on {host}:{port} ({e.strerror}); choose another --port or --host"
        ) from e


def dashboard_command(sweep_study: SweepStudy, host: str, port: int) -> list[str]:
    """optuna-dashboard on the study's storage; an SQLite file this process cannot write
    (read-only file or directory) is served through a read-only URL."""
    from ..storage.sqlite import read_only_url, sqlite_writable

    url = sweep_study.url.url
    path = sweep_study.url.sqlite_path
    if path is not None and not sqlite_writable(path):
        url = read_only_url(path)
    return [str(dashboard_executable()), url, "--host", host, "--port", str(port)]


def launch(sweep_study: SweepStudy, host: str = "127.0.0.1", port: int = 8080) -> int:
    """Serve the study with optuna-dashboard until Ctrl-C or SIGTERM (exit 130 / 143, no
    traceback) or until the server exits (its exit code).

    The server runs in a session of its own, so a terminal's Ctrl-C reaches this process only,
    which stops the server (optuna-dashboard itself would print a traceback); it is also told
    to die with this process, so a ``kill -9`` leaves no server behind.
    """
    import subprocess

    from ..stopping import die_with, stop_on_signals

    command = dashboard_command(sweep_study, host, port)
    check_port(host, port)
    parent = os.getpid()
    with stop_on_signals() as stop:
        try:
            server = subprocess.Popen(command, start_new_session=True,
                                      preexec_fn=lambda: die_with(parent))
        except OSError as e:
            raise DashboardError(f"optuna-dashboard ({command[0]}) cannot be started: "
                                 f"{e.strerror or e}; reinstall it with 'pip install "
                                 "--force-reinstall optuna-dashboard'") from e
        print(f"optuna-dashboard: http://{host}:{port}/dashboard/studies/"
              f"{sweep_study.study_id} (study {sweep_study.name!r}; Ctrl-C stops it)",
              file=sys.stderr, flush=True)
        try:
            while server.poll() is None and not stop.requested:
                stop.sleep(0.5)
        finally:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
    if stop.requested:
        print(f"optuna-dashboard stopped ({stop.signal_name})", file=sys.stderr, flush=True)
        return stop.exit_code
    return server.returncode
