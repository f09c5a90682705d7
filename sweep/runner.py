"""Running a sweep: check its size, enqueue the missing cells, then work on them.

``run_sweep`` checks the run's size before anything is written (:func:`plan`), opens or creates
the study, enqueues the config's cells and works on them with the loop of :mod:`sweep.worker`,
in this process or in worker processes (:mod:`sweep.launcher`). Completed cells are skipped,
so running the same command again resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .budget import WorkEstimate, auto_workers, check_budget, estimate, machine_workers
from .config import SweepConfig
from .confirming import confirm_line, confirmation_cells, confirmation_summary, default_confirm
from .engines import Engine, TrainSettings, get_engine, pick_engine
from .grid import Cell, count_cells, expand, is_confirmation
from .launcher import work_in_processes
from .objective import UNIT_KEY
from .progress import Progress
from .race_answer import RaceReport
from .ranking import check_applies, objective, ranks_by_figure
from .report.summary import SweepSummary
from .rounds import race_settings, race_state, round_cells, round_line
from .stopping import StopRequest, stop_on_signals
from .storage import COMPLETE, FAILED, SweepStudy, cell_states, open_study
from .storage.schema import MC_PASSES_KEY
from .tasks import check_first_cell, task_facts
from .values import AUTO
from .worker import Log, WorkOutcome, quiet, raise_if_stopped, work


@dataclass(frozen=True)
class RunOutcome:
    study: SweepStudy
    cells: int
    already_complete: int
    completed_now: int
    failed_now: int
    work: WorkEstimate
    race: RaceReport | None = None
    """A race as this process's loop replayed it after the last trial
    (:attr:`~sweep.worker.WorkOutcome.race`); ``None`` for a fixed sweep, and for worker
    processes' runs, whose parent replays it once from the stored trials."""
    summary: SweepSummary | None = None
    """The summary after the last trial, when the confirmation's check computed it then
    (:attr:`~sweep.worker.WorkOutcome.summary`); else ``None``, computed by the caller."""


def plan(config: SweepConfig) -> tuple[SweepConfig, WorkEstimate, int, list[str], str | None]:
    """Check the run's size, and a user's task (its data, its first cell's model), before
    anything is written: (the config with its engine chosen, estimate, workers, this run's
    notices, the notice of the engine chosen for the user, if it was)."""
    task = config.resolved_task
    task_facts(task)
    # the grid's first cell, without expanding a grid that may be too large to run
    first = expand(config.rates[:1], config.placements, config.max_norms[:1],
                   config.seed_list[:1])[0]
    if task.is_users:
        check_first_cell(task, first)
    check_applies(task, config.metric, first)
    settings = TrainSettings(config.resolved_epochs, config.resolved_batch_size,
                             config.mc_passes)
    engine, chosen = pick_engine(task, settings, config.engine, config.placements)
    config = config.replace(engine=engine.name, confirm=_confirm(config))
    per_claim = config.cells_per_claim or engine.cells_per_claim(task, settings)
    notices: list[str] = []
    requested = (auto_workers(estimate(config, per_claim, 1), per_claim)  # within the machine
                 if config.workers == AUTO else int(config.workers))
    work = estimate(config, per_claim, requested)
    check_budget(work, config.allow_large)
    workers = min(requested, machine_workers(work.worker_bytes))
    if workers < requested:
        notices.append(
            f"--workers {requested} capped to {workers}: this machine has "
            f"{_cores_and_memory()} and a worker needs about "
            f"{work.worker_bytes / 2**30:.1f} GiB"
        )
        work = estimate(config, per_claim, workers)
    return config, work, workers, notices, chosen


def _confirm(config: SweepConfig) -> int:
    """The run's confirmation seeds: ``confirm`` as given, else :func:`default_confirm`'s
    rule; 0 for a grid without both a dropout rate and rate 0 (nothing to compare)."""
    if config.confirm is not None:
        return config.confirm
    if 0.0 not in config.rates or max(config.rates) == 0.0:
        return 0
    return default_confirm(count_cells(config.rates, config.placements, config.max_norms,
                                       config.most_seeds))


def _cores_and_memory() -> str:
    from .budget import available_memory, cores

    return f"{cores()} core(s) and {available_memory() / 2**30:.1f} GiB of memory available"


def open_for_run(config: SweepConfig) -> SweepStudy:
    """Open (or create) ``config``'s study for a run, checking its fixed settings (a user's
    task: also its fingerprint); the study gets the config's task object, resolved once
    (:attr:`~sweep.config.SweepConfig.resolved_task`), not found again from its settings."""
    task = config.resolved_task
    facts = task_facts(task)
    settings = {**task.fixed_settings(config.resolved_epochs, config.resolved_batch_size,
                                      facts.compared_on), **facts.settings(),
                **race_settings(config), MC_PASSES_KEY: config.mc_passes}
    if ranks_by_figure(task, config.metric):
        settings.pop(UNIT_KEY, None)  # the task metric's unit is not the figure's
        settings.update(objective(task, config.metric, facts.compared_on).settings())
    return open_study(
        study_name=config.study_name, storage_url=config.storage_url, access="create", task=task,
        settings=settings, heartbeat_seconds=config.heartbeat_seconds,
    )


def run_sweep(
    config: SweepConfig, *, show_progress: bool = True, log: Log = quiet
) -> RunOutcome:
    """Run every pending cell of ``config``'s grid; completed cells are skipped (resume). The
    outcome's study is open: the caller closes it (a failed run closes it here)."""
    with stop_on_signals() as stop:
        config, work_estimate, workers, notices, chosen = plan(config)
        for notice in notices:
            log(notice)
        sweep_study = open_for_run(config)
        try:
            return _run_opened(sweep_study, config, work_estimate, workers, chosen, stop, log,
                               show_progress)
        except BaseException:
            sweep_study.close()
            raise


def _run_opened(sweep_study: SweepStudy, config: SweepConfig, work_estimate: WorkEstimate,
                workers: int, chosen: str | None, stop: StopRequest, log: Log,
                show_progress: bool) -> RunOutcome:
    """:func:`run_sweep` once its study is open: enqueue, work, confirm."""
    sweep_study.check_writable()
    sweep_study.note_heartbeat(config.heartbeat_seconds)
    sweep_study.note_confirm(config.confirm or 0)
    sweep_study.fail_stale()
    state = race_state(sweep_study)
    cells = config.cells() if state is None else round_cells(state)
    counted = None if state is not None else cells
    already = _done(sweep_study, counted)
    if sweep_study.enqueue_missing(cells) == len(cells) and not already and chosen:
        log(chosen)  # once per study: the run that enqueued its first cells
    size = f"{work_estimate.describe()} for the whole grid"
    if state is not None:
        size = f"a race of at most {work_estimate.describe()}"
    log(f"study {sweep_study.name!r}: {size}; {already} cell(s) already complete")
    if state is not None:
        log(round_line(state))
    raise_if_stopped(stop, 0, 0)
    total = 0 if state is not None else len(cells) + work_estimate.confirm_cells
    with Progress(total, already, enabled=show_progress) as progress:
        if workers == 1:
            engine = get_engine(config.resolved_engine)
            outcome = work(sweep_study, engine, config, counted, stop=stop,
                           progress=progress, log=log)
            if counted is not None:  # a race confirms in its own loop
                outcome = _confirm_after(sweep_study, engine, config, outcome, stop,
                                         progress, log)
        else:
            completed = work_in_processes(sweep_study, config, workers, stop, progress, log)
            outcome = _outcome_of(sweep_study, counted, completed)
            raise_if_stopped(stop, outcome.completed_now, 0)
    total = already + outcome.completed_now if state is not None else (
        len(cells) + _confirmed(sweep_study))
    return RunOutcome(sweep_study, total, already, outcome.completed_now,
                      outcome.failed_now, work_estimate, outcome.race, outcome.summary)


def _confirm_after(sweep_study: SweepStudy, engine: Engine, config: SweepConfig,
                   outcome: WorkOutcome, stop: StopRequest, progress: Progress,
                   log: Log) -> WorkOutcome:
    """A fixed sweep's confirmation on fresh seeds, once its cells are complete. The summary
    it picks from is handed on when nothing changed after it (the confirmation complete)."""
    summary = confirmation_summary(sweep_study, sweep_study.records())
    cells = confirmation_cells(sweep_study, summary)
    if not cells:
        return replace(outcome, summary=summary)
    if sweep_study.enqueue_missing(cells):
        progress.above(log)(confirm_line(cells))  # above the bar, not glued to its end
    more = work(sweep_study, engine, config, cells, stop=stop, progress=progress, log=log)
    unchanged = more.completed_now == more.failed_now == 0
    return WorkOutcome(outcome.completed_now + more.completed_now,
                       outcome.failed_now + more.failed_now,
                       summary=summary if unchanged else None)


def _done(sweep_study: SweepStudy, cells: list[Cell] | None) -> int:
    """Complete cells of a fixed sweep's grid and its confirmation, or of a race's study (one
    read of the study's trials)."""
    states = cell_states(sweep_study.records())
    if cells is None:
        return sum(1 for s in states.values() if s == COMPLETE)
    wanted = set(cells)
    return sum(1 for c, s in states.items()
               if s == COMPLETE and (c in wanted or is_confirmation(c)))


def _confirmed(sweep_study: SweepStudy) -> int:
    """Complete cells of the study's confirmation (fresh seeds)."""
    states = cell_states(sweep_study.records())
    return sum(1 for c, s in states.items() if s == COMPLETE and is_confirmation(c))


def _outcome_of(sweep_study: SweepStudy, cells: list[Cell] | None, completed: int) -> WorkOutcome:
    """The outcome of this command's worker processes, which completed ``completed`` cells
    (other commands' workers on the same study, on this machine or others, are not counted)."""
    states = cell_states(sweep_study.records())
    failed = sum(1 for c in (states if cells is None else cells) if states.get(c) == FAILED)
    return WorkOutcome(completed, failed)


