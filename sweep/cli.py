"""The command line: parse, call the library, turn SweepError into one line and an exit code."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exceptions import SweepError, UsageError

if TYPE_CHECKING:
    from .api import Summary

PRECEDENCE = "Settings: built-in defaults < --config FILE (TOML) < command-line flags."


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # one line, exit 2; main adds "sweep: error: " once
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _study_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="sweep definition (TOML), e.g. studies/smoke.toml")
    p.add_argument("--study", help=(
        "study name (default: the config's, else 'tutorial' for circles and the task's name "
        "for any other task)"))
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite:///studies/<study>.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sweep",
                     description="Dropout grid sweeps as Optuna studies. " + PRECEDENCE)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run (or resume) a sweep", description=(
        "Run every cell (rate x placement x max-norm x seed) that is not complete yet; "
        "the same command again resumes. " + PRECEDENCE))
    _study_args(run)
    run.add_argument("--task", help=(
        "circles (default), digits-cnn, sequence-lstm, text-gru, tabular (with --data and "
        "--target), your own: a .py file that defines TASK, or package.module:attribute"))
    run.add_argument("--data", help="--task tabular: the table, a CSV (or .npz, .parquet) file")
    run.add_argument("--target", help="--task tabular: the column to predict")
    run.add_argument("--hidden-units", dest="hidden_units",
                     help="--task tabular: hidden layer widths (default: 64,64)")
    run.add_argument("--target-kind", dest="target_kind", help="--task tabular: classification "
                     "or regression (default: decided from the target)")
    run.add_argument("--split-column", dest="split_column", help=(
        "--task tabular: a column of train/test labels to split by (default: a seeded "
        "stratified 70/30 split)"))
    run.add_argument("--engine", help="population or keras (default: the task's first engine)")
    run.add_argument("--rates", help="comma list (0,0.4) or inclusive range start:stop:step")
    run.add_argument("--placements", help="comma list of the task's placements (default: all)")
    run.add_argument("--max-norms", dest="max_norms", help="comma list; 'none' = no constraint")
    run.add_argument("--seeds", help="a count N (seeds 0..N-1), a comma list of seeds, or "
                     "'auto': race the groups over seeds until decided")
    run.add_argument("--first-seeds", dest="first_seeds",
                     help="--seeds auto: seeds every group starts with (default: 5)")
    run.add_argument("--max-seeds", dest="max_seeds",
                     help="--seeds auto: the most seeds a group gets (default: 50)")
    run.add_argument("--alpha", help="--seeds auto: the race's error rate (default: 0.05)")
    run.add_argument("--margin", help="--seeds auto: differences smaller than this, in the "
                     "metric's units, are ties (default: 0.005)")
    run.add_argument("--confirm", help=(
        "after the sweep, retrain the best dropout group and its no-dropout baseline on N "
        "fresh seeds and test them once (0: no confirmation; default: 30 when those cells add "
        "at most a quarter to the sweep, else 0)"))
    run.add_argument("--epochs", help="training epochs per cell (default: the task's)")
    run.add_argument("--batch-size", dest="batch_size", help="minibatch size (default: the task's)")
    run.add_argument("--mc-passes", dest="mc_passes", help="passes with dropout on averaged for "
                     "the MC dropout figures of each cell (0: none; default: 50)")
    run.add_argument("--metric", help="rank by a classifier's (mc_)nll, (mc_)brier, (mc_)ece, "
                     "mc_accuracy or a regression's (mc_)gaussian_nll, mc_mse, mc_mae")
    run.add_argument("--cells-per-claim", dest="cells_per_claim",
                     help="cells a worker claims and trains at once (default: the engine's)")
    run.add_argument("--heartbeat-seconds", dest="heartbeat_seconds",
                     help="heartbeat interval; a worker silent for 3 intervals is stale (10)")
    run.add_argument("--workers", help="worker processes on this machine (capped at its cores "
                     "and memory), or auto (default): one per core past a minute's work, else 1")
    run.add_argument("--allow-large", dest="allow_large", action="store_true", default=None,
                     help="run a sweep beyond the size bounds (over 50,000 cells or about a day "
                     "of training by the estimate printed when refused)")
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

    summary = sub.add_parser("summary", help="the group table: as text, CSV or JSON",
                             description=(
        "One row per cell group, best first: n, test mean and 95% CI, train mean, gap, and "
        "the paired difference from its no-dropout baseline with its CI, p and Holm p."))
    _study_args(summary)
    summary.add_argument("--format", default="table", metavar="{table,csv,json}",
                         help="a text table (default), CSV, or JSON (a list of objects)")
    summary.add_argument("--out", type=Path, help="file to write (default: standard output)")

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
    dashboard.add_argument("--host", default="127.0.0.1", help=(
        "address (default: 127.0.0.1); the dashboard has no authentication and can edit the "
        "study, so serve other addresses only on a trusted network"))
    dashboard.add_argument("--port", default="8080", help="port, 1-65535 (default: 8080)")
    return parser


def _config_from_args(args: argparse.Namespace, flag_names: Sequence[str]) -> Any:
    from .config import build_config, read_config_file

    file_settings = read_config_file(args.config) if args.config else None
    flags = {name: getattr(args, name, None) for name in flag_names}
    return build_config(file_settings, flags)


def _cmd_run(args: argparse.Namespace) -> int:
    from .api import run
    from .confirming import off_line, pick
    from .report.calibration_text import calibration_sentence
    from .report.race import race_lines
    from .report.terminal import closing_table
    from .report.text import confirmation_sentence

    config = _config_from_args(args, (
        "study", "storage", "task", "data", "target", "hidden_units", "target_kind",
        "split_column", "engine", "rates", "placements", "max_norms", "seeds",
        "first_seeds", "max_seeds", "alpha", "margin", "confirm", "epochs", "batch_size",
        "mc_passes", "metric", "cells_per_claim", "heartbeat_seconds", "workers", "allow_large"))
    summary = run(config, progress=not args.no_progress, log=_stderr)
    print(f"study {summary.study!r} in {summary.storage}: {summary.trained_now} cell(s) trained "
          f"now, {summary.already_complete} were complete, {summary.failed_now} failed")
    calibrated = calibration_sentence(summary.stats, summary.task)  # None: no figures
    print("\n".join(filter(None, [closing_table(summary.stats), calibrated])))
    if summary.race is not None:
        print("\n".join(race_lines(summary.race, summary.task, summary.stats.objective)))
    confirmed = confirmation_sentence(summary.stats, summary.task)
    if confirmed is not None:
        print(confirmed)
    elif config.confirm is None and pick(summary.stats) is not None:  # off by the rule
        print(off_line())
    where = f"sweep status --study {summary.study}"
    if not config.uses_default_storage:
        where += f" --storage {config.storage_url}"
    if summary.n_complete:  # the report shows the summary above, not one computed again
        path = _write_report(config.study_name, config.storage_url, None, summary)
        print(f"{len(summary.stats.groups)} group(s) in all: the full table is in the report "
              f"and in '{where}'")
        print(f"report: {path}")
    if summary.failed_now:
        _stderr(f"{summary.failed_now} cell(s) failed; run the same command again to retry them")
        return 1
    return 0


def _stderr(line: str) -> None:
    """One line on stderr; nothing if nobody reads it any more (a launcher that was killed)."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


def _write_report(study: str, storage: str, out: Path | None, summary: Summary) -> Path:
    """The HTML report of ``summary`` (just computed); a study not writable here keeps only
    the HTML (a notice says its figures were not stored for optuna-dashboard)."""
    from .api import write_and_publish

    written = write_and_publish(study, storage, out, summary)
    if not written.published:
        _stderr(f"sweep: note: the report's figures were not stored in the study for "
                f"optuna-dashboard ({written.reason})")
    return written.path


def _open_existing(args: argparse.Namespace) -> Any:
    from .api import open_study

    config = _config_from_args(args, ("study", "storage"))
    return open_study(config.study_name, config.storage_url)


def _cmd_status(args: argparse.Namespace) -> int:
    from .race_answer import race_report
    from .report.status import study_status
    from .report.terminal import status_text

    with _open_existing(args) as sweep_study:
        records = sweep_study.records()  # one read: the race is replayed from these
        status = study_status(sweep_study.name, sweep_study.settings, records,
                              sweep_study.stale_trial_ids(), sweep_study.task,
                              race_report(sweep_study, records), sweep_study.confirm_seeds)
    if args.json:
        print(json.dumps(status.to_json(), indent=2))
        return 0
    print(status_text(status, sweep_study.url.safe))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from .report.export import check_format, render
    from .report.summary import study_summary
    from .report.writing import check_target, write_atomically

    check_format(args.format)
    example = f"summary.{args.format}"
    with _open_existing(args) as sweep_study:
        database = sweep_study.url.sqlite_path
        if args.out is not None:  # refused before the study is read
            check_target(args.out, "summary", example, database)
        text = render(study_summary(sweep_study), args.format)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    write_atomically(args.out, text, "summary", example, database)
    print(f"summary: {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .api import load_summary

    config = _config_from_args(args, ("study", "storage"))
    summary = load_summary(config.study_name, config.storage_url)
    path = _write_report(config.study_name, config.storage_url, args.out, summary)
    print(summary.headline)
    print(f"report: {path}")
    return 0


def _port(text: str) -> int:
    from .exceptions import ConfigError

    try:
        port = int(text)
    except ValueError:
        raise ConfigError(f"--port {text!r} is not a number; give a TCP port, 1-65535") from None
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a TCP port; give 1-65535 (default 8080)")
    return port


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from .exceptions import EmptyStudyError, StorageUnavailableError
    from .report import dashboard
    from .report.html import publish_report

    port = _port(args.port)
    dashboard.check_host(args.host)
    with _open_existing(args) as sweep_study:  # closed before optuna-dashboard opens its own
        dashboard.dashboard_executable()
        dashboard.check_port(args.host, port)
        if (warning := dashboard.exposure_warning(args.host)) is not None:
            _stderr(warning)
        try:
            publish_report(sweep_study)
        except EmptyStudyError:
            _stderr("no completed cells yet: the dashboard shows the study without sweep's "
                    "figures")
        except StorageUnavailableError as e:
            _stderr(f"sweep: note: the study is not writable here, so the dashboard shows it "
                    f"without sweep's latest figures ({e})")
    return dashboard.launch(sweep_study, host=args.host, port=port)


def _cmd_worker(args: argparse.Namespace) -> int:
    from .worker import run_worker

    config = _config_from_args(args, (
        "study", "storage", "engine", "cells_per_claim", "heartbeat_seconds"))
    outcome = run_worker(config, show_progress=not args.no_progress, log=_stderr)
    print(f"worker done: {outcome.completed_now} cell(s) trained, {outcome.failed_now} failed")
    return 1 if outcome.failed_now else 0


_COMMANDS = {"run": _cmd_run, "worker": _cmd_worker, "status": _cmd_status, "report": _cmd_report,
             "dashboard": _cmd_dashboard, "summary": _cmd_summary}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except SweepError as e:
        _stderr(f"sweep: error: {e}")
        return e.exit_code
    except KeyboardInterrupt:
        _stderr("sweep: interrupted; run the same command again to resume")
        return 130
    except BrokenPipeError:  # e.g. 'sweep status | head': the reader left; say nothing
        sys.stderr.close()
        return 1
