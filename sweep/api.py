"""The Python API: run a sweep, read its summary back, write its report.

Everything the command line does goes through these functions (the CLI parses, calls them and
formats), so a notebook gets the same validation, resume, storage and statistics::

    import sweep

    summary = sweep.run(sweep.SweepConfig(study="demo", rates="0,0.4", seeds=5, epochs=300))
    summary.groups                      # pandas DataFrame, one row per group, best first
    sweep.load_summary("demo").headline
    sweep.write_report("demo")          # Path of dashboards/demo.html

``run`` with ``workers > 1`` starts worker processes with multiprocessing's ``spawn`` method,
which imports the calling script again: guard a script's own code with
``if __name__ == "__main__":`` (notebooks need nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import SweepConfig, check_keys, default_storage_url
from .exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from .race_answer import RaceReport
    from .report.group_stats import Confirmation, GroupStats
    from .report.summary import SweepSummary
    from .storage import SweepStudy
    from .tasks import Task

Log = Callable[[str], None]


@dataclass(frozen=True)
class Summary:
    """What a sweep found so far. ``stats`` holds every number (per group: n, mean, CI, the
    paired comparison with its baseline); ``groups`` is the same as a DataFrame. After
    :func:`run`, ``trained_now``, ``already_complete`` and ``failed_now`` count that run's
    cells; after :func:`load_summary` they are 0."""

    study: str
    storage: str
    task: Task
    stats: SweepSummary
    trained_now: int = 0
    already_complete: int = 0
    failed_now: int = 0
    race: RaceReport | None = None
    """A ``seeds="auto"`` study's race: rounds, each group's fate, the answer to "does the
    best dropout group beat no dropout?" (``race.answer``), cells used."""

    @property
    def groups(self) -> pd.DataFrame:
        """One row per cell group, best first: the columns of ``sweep summary``."""
        from .report.export import to_frame

        return to_frame(self.stats)

    @property
    def headline(self) -> str:
        """The report's headline: the best group, its CI, and whether dropout beats its
        baseline beyond seed noise: by the confirmation on fresh seeds when there is one (one
        paired test), with the selection stage's paired test (Holm-corrected) beside it."""
        from .report.text import headline

        return headline(self.stats, self.task)

    @property
    def best(self) -> GroupStats | None:
        return self.stats.best

    @property
    def confirmation(self) -> Confirmation | None:
        """The best dropout group against its baseline on fresh seeds (``confirm``): n pairs,
        the paired difference's mean and 95% CI, p; ``None`` without a confirmation."""
        return self.stats.confirmation

    @property
    def n_complete(self) -> int:
        return self.stats.n_complete


def run(
    config: SweepConfig | None = None,
    /,
    *,
    progress: bool = False,
    log: Log | None = None,
    **settings: Any,
) -> Summary:
    """Run (or resume) a sweep and return its summary.

    Give a :class:`SweepConfig`, or its settings as keywords (``run(study="demo", seeds=5)``).
    SIGINT/SIGTERM (Ctrl-C) stop it cleanly with :class:`sweep.SweepInterrupted`; the same
    call resumes. ``log`` receives the run's notices (its size estimate, capped workers).
    The summary is computed once, after the run's last trial, with the race as the run last
    replayed it; :func:`write_and_publish` takes it as it is.
    """
    from .runner import run_sweep

    if config is None:
        check_keys(settings, "sweep.run")
        config = SweepConfig(**settings)
    elif not isinstance(config, SweepConfig):
        raise ConfigError(f"sweep.run: give a SweepConfig, or settings as keywords (e.g. "
                          f"sweep.run(study='demo', seeds=5)), not a {type(config).__name__}")
    elif settings:
        raise ConfigError("sweep.run: give a SweepConfig or keyword settings, not both")
    if log is not None and not callable(log):
        raise ConfigError(f"sweep.run: log must be a function taking one line (e.g. print), "
                          f"not a {type(log).__name__}")
    outcome = run_sweep(config, show_progress=bool(progress), log=log or _quiet)
    with outcome.study:
        return _summary(outcome.study, outcome.race, outcome.summary,
                        (outcome.completed_now, outcome.already_complete, outcome.failed_now))


def _summary(sweep_study: SweepStudy, race: RaceReport | None = None,
             stats: SweepSummary | None = None,
             counts: tuple[int, int, int] = (0, 0, 0)) -> Summary:
    """The study's :class:`Summary`: its race replayed once and its statistics computed once,
    with that replay, from one read of its trials; ``race`` and ``stats``: those a run
    computed after its last trial already (not computed again); ``counts``: a run's
    trained, already complete and failed cells."""
    from .report.summary import summary_and_race

    stats, race = summary_and_race(sweep_study, stats, race)
    return Summary(sweep_study.name, sweep_study.url.safe, sweep_study.task, stats, *counts,
                   race=race)


def open_study(study: str, storage: str | None = None) -> SweepStudy:
    """An existing study, opened read-only (nothing in the database changes). Close it when
    done (``with sweep.open_study("demo") as study: ...``, or ``study.close()``): until then
    it may hold connections to the database."""
    return _open_read(study, storage)


def _open_read(study: str, storage: str | None, task: Task | None = None) -> SweepStudy:
    """:func:`open_study`; ``task``: the study's, known already (not found again)."""
    from .storage import open_study as open_stored
    from .values import check_study_name

    name = check_study_name(study)
    if storage is not None and not isinstance(storage, str):
        raise ConfigError(f"storage must be a URL string (e.g. 'sqlite:///studies/{name}.db'), "
                          f"not a {type(storage).__name__}")
    return open_stored(study_name=name, storage_url=storage or default_storage_url(name),
                       access="read", task=task)


def load_summary(study: str, storage: str | None = None) -> Summary:
    """The summary of a stored study (default storage: ``sqlite:///studies/<study>.db``)."""
    with open_study(study, storage) as sweep_study:
        return _summary(sweep_study)


@dataclass(frozen=True)
class Report:
    path: Path
    published: bool
    """Whether the figures were also stored in the study for optuna-dashboard."""
    reason: str = ""
    """Why not, when they were not (e.g. the database is read-only here)."""


def write_report(
    study: str, storage: str | None = None, out: str | Path | None = None
) -> Path:
    """Write the study's HTML report (default ``dashboards/<study>.html``; another storage's
    report gets its own name) and store its figures in the study for optuna-dashboard when
    the study is writable. Returns the report's path."""
    return write_and_publish(study, storage, out).path


def write_and_publish(
    study: str, storage: str | None = None, out: str | Path | None = None,
    summary: Summary | None = None,
) -> Report:
    """:func:`write_report`, saying whether the figures were stored in the study too.
    ``summary``: this study's, just computed (:func:`run`, :func:`load_summary`): the report
    shows it, and its race and task, instead of reading, replaying and resolving them again."""
    from .exceptions import StorageUnavailableError
    from .report.html import publish_report
    from .report.html import write_report as write_html

    if out is not None and not isinstance(out, str | PathLike):
        raise ConfigError(f"write_report: out must be a file path (str or Path), not a "
                          f"{type(out).__name__}")
    with _open_read(study, storage, None if summary is None else summary.task) as sweep_study:
        written = write_html(sweep_study, None if out is None else Path(out),
                             summary=None if summary is None else summary.stats,
                             race=None if summary is None else summary.race)
        try:
            publish_report(sweep_study, written)
        except StorageUnavailableError as e:
            return Report(written.path, False, str(e))
    return Report(written.path, True)


def _quiet(line: str) -> None:
    return None
