"""The command line: parse, call the library, turn SweepError into one line and an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .exceptions import SweepError, UsageError

PRECEDENCE = "Settings: built-in defaults < --config FILE (TOML) < command-line flags."


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # one line, exit 2, no usage dump
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="sweep definition (TOML), e.g. studies/smoke.toml")
    p.add_argument("--study", help="study name (default: the config's, else 'tutorial')")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///studies/<study>.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sweep",
                     description="Dropout grid sweeps as Optuna studies. " + PRECEDENCE)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run (or resume) a sweep", description=(
        "Run every cell (rate x placement x max-norm x seed) that is not complete yet; "
        "the same command again resumes. " + PRECEDENCE))
    _study_args(run)
    run.add_argument("--task", help="circles (default), digits-cnn or sequence-lstm")
    run.add_argument("--engine", help="population or keras (default: the task's first engine)")
    run.add_argument("--rates", help="comma list (0,0.4) or inclusive range start:stop:step")
    run.add_argument("--placements", help="comma list of the task's placements (default: all)")
    run.add_argument("--max-norms", dest="max_norms", help="comma list; 'none' = no constraint")
    run.add_argument("--seeds", help="a count N (seeds 0..N-1) or a comma list of seeds")
    run.add_argument("--epochs", help="training epochs per cell (default: the task's)")
    run.add_argument("--batch-size", dest="batch_size", help="minibatch size (default: the task's)")
    run.add_argument("--cells-per-claim", dest="cells_per_claim",
                     help="cells a worker claims and trains at once (default: the engine's)")
    run.add_argument("--heartbeat-seconds", dest="heartbeat_seconds",
                     help="heartbeat interval; a worker silent for 3 intervals is stale (10)")
    run.add_argument("--workers", help="worker processes on this machine (default: 1)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")

    worker = sub.add_parser("worker", help="join an existing sweep (any machine) and work on it",
                            description=(
        "Claim and train the queued cells of an existing study until none is left. Start one on "
        "each machine against a shared PostgreSQL/MySQL storage URL."))
    _study_args(worker)
    worker.add_argument("--engine", help="training engine (default: the task's first engine)")
    worker.add_argument("--cells-per-claim", dest="cells_per_claim",
                        help="cells claimed and trained at once (default: the engine's)")
    worker.add_argument("--heartbeat-seconds", dest="heartbeat_seconds",
                        help="heartbeat interval; a worker silent for 3 intervals is stale (10)")
    worker.add_argument("--no-progress", action="store_true", help="no progress bar")

    status = sub.add_parser("status", help="cells completed / running / pending / failed",
                            description="Where a sweep stands, overall and per cell group.")
    _study_args(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    report = sub.add_parser("report", help="write the HTML report (figures, ranked groups)",
                            description=(
        "Write one self-contained HTML report (opens offline) and store its figures and "
        "headline in the study for optuna-dashboard. Works on a sweep still running."))
    _study_args(report)
    report.add_argument("--out", type=Path,
                        help="HTML file to write (default: dashboards/<study>.html)")

    dashboard = sub.add_parser("dashboard", help="serve the study with optuna-dashboard",
                               description=(
        "Refresh the report's figures in the study, then run optuna-dashboard on the study's "
        "storage until Ctrl-C."))
    _study_args(dashboard)
    dashboard.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    return parser


def _config_from_args(args: argparse.Namespace, flag_names: Sequence[str]) -> Any:
    from .config import build_config, read_config_file

    file_settings = read_config_file(args.config) if args.config else None
    flags = {name: getattr(args, name, None) for name in flag_names}
    return build_config(file_settings, flags)


def _cmd_run(args: argparse.Namespace) -> int:
    from ._text import GROUP_HEADERS, best_line, group_row, table
    from .runner import run_sweep

    config = _config_from_args(args, (
        "study", "storage", "task", "engine", "rates", "placements", "max_norms", "seeds",
        "epochs", "batch_size", "cells_per_claim", "heartbeat_seconds", "workers"))
    outcome = run_sweep(config, workers=config.workers, show_progress=not args.no_progress,
                        log=lambda line: print(line, file=sys.stderr))
    from .summary import summarize

    summary = summarize(outcome.study.records())
    print(f"study {outcome.study.name!r} in {config.storage_url}: "
          f"{outcome.completed_now} cell(s) trained now, {outcome.already_complete} were complete, "
          f"{outcome.failed_now} failed")
    print(table(GROUP_HEADERS, [group_row(g) for g in summary.groups]))
    print(best_line(summary.best))
    if summary.n_complete:
        from .report import write_report

        print(f"report: {write_report(outcome.study).path}")
    if outcome.failed_now:
        print(f"{outcome.failed_now} cell(s) failed; run the same command again to retry them",
              file=sys.stderr)
        return 1
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from ._text import best_line, fmt_ci, fmt_norm, table
    from .status import STATES, study_status
    from .study import open_study

    config = _config_from_args(args, ("study", "storage"))
    sweep_study = open_study(study_name=config.study, storage_url=config.storage_url,
                             task=None, settings=None, create=False)
    status = study_status(sweep_study.name, sweep_study.settings, sweep_study.records())
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
        return 0
    counts = ", ".join(f"{status.counts[s]} {s}" for s in STATES)
    print(f"study {status.study!r} ({config.storage_url}): {status.total} cells: {counts}")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in status.settings.items()))
    rows = []
    for g in status.groups:
        stats = g.stats
        rows.append([f"{g.group.rate:g}", g.group.placement, fmt_norm(g.group.max_norm),
                     *(str(g.counts[s]) for s in STATES),
                     "-" if stats is None else f"{stats.test.mean:.3f}",
                     "-" if stats is None else fmt_ci(stats.test)])
    print(table(("rate", "placement", "max_norm", *STATES, "test mean", "95% CI"), rows))
    print(best_line(status.summary.best))
    return 0


def _open_existing(args: argparse.Namespace) -> Any:
    from .study import open_study

    config = _config_from_args(args, ("study", "storage"))
    return open_study(study_name=config.study, storage_url=config.storage_url,
                      task=None, settings=None, create=False)


def _cmd_report(args: argparse.Namespace) -> int:
    from ._report_text import headline
    from .report import write_report

    written = write_report(_open_existing(args), args.out)
    print(headline(written.summary))
    print(f"report: {written.path}")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from .dashboard import check_port, dashboard_executable, launch
    from .exceptions import EmptyStudyError
    from .report import publish_report

    sweep_study = _open_existing(args)
    dashboard_executable()
    check_port(args.host, args.port)
    try:
        publish_report(sweep_study)
    except EmptyStudyError:
        print("no completed cells yet: the dashboard shows the study without sweep's figures",
              file=sys.stderr)
    launch(sweep_study, host=args.host, port=args.port)


def _cmd_worker(args: argparse.Namespace) -> int:
    from .runner import run_worker

    config = _config_from_args(args, (
        "study", "storage", "engine", "cells_per_claim", "heartbeat_seconds"))
    outcome = run_worker(config, show_progress=not args.no_progress,
                         log=lambda line: print(line, file=sys.stderr))
    print(f"worker done: {outcome.completed_now} cell(s) trained, {outcome.failed_now} failed")
    return 1 if outcome.failed_now else 0


_COMMANDS = {"run": _cmd_run, "worker": _cmd_worker, "status": _cmd_status, "report": _cmd_report,
             "dashboard": _cmd_dashboard}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except SweepError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("sweep: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
