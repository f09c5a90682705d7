"""The worker loop: claim cells, train them, record them, until none is left to do.

``run_worker`` joins an existing study (from any machine) and works on whatever its queue holds;
``run_sweep`` (:mod:`sweep.runner`) and the launcher's worker processes use the same loop,
:func:`work`.

Stopping: SIGINT and SIGTERM request a stop (:mod:`sweep.stopping`). The loop and the engines
poll it between bounded chunks of work; finished cells are recorded, the claimed cells that did
not finish are marked failed as interrupted (the next run redoes them), and
:class:`SweepInterrupted` carries exit code 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from .config import SweepConfig
from .confirming import confirm_line, confirmation_cells, confirmation_summary
from .engines import CellResult, Engine, TrainSettings, pick_engine
from .exceptions import SweepError, SweepInterrupted
from .grid import Cell
from .objective import Objective
from .progress import Progress
from .race_answer import RaceReport, race_report
from .ranking import ranked
from .reasons import error_reason
from .report.summary import SweepSummary
from .rounds import round_cells, round_line
from .stopping import StopRequest, stop_on_signals
from .storage import (
    COMPLETE,
    FAILED,
    RUNNING,
    Claim,
    SweepStudy,
    cell_states,
    heartbeat,
    open_study,
)
from .storage.schema import MC_PASSES_KEY

Log = Callable[[str], None]


def quiet(line: str) -> None:
    return None


@dataclass(frozen=True)
class WorkOutcome:
    completed_now: int
    failed_now: int
    race: RaceReport | None = None
    """The study's race as the loop last replayed it, when it found nothing left to do: the
    race after the last trial, which the run's summary and report take instead of replaying
    the same trials again (``None``: not a race, or a loop given its cells)."""
    summary: SweepSummary | None = None
    """The summary the confirmation last picked from, when nothing was left to do: the
    study's after the last trial (``None``: none computed)."""


class _Control:
    """What the engine sees (:class:`sweep.engines.TrainControl`): the stop flag, the bar."""

    def __init__(self, stop: StopRequest, progress: ProgressSink) -> None:
        self._stop = stop
        self._progress = progress

    def should_stop(self) -> bool:
        return self._stop.requested

    def advance(self, cells: float) -> None:
        self._progress.advance(cells)


class ProgressSink(Protocol):
    """Where a worker reports progress: a bar (:class:`sweep.progress.Progress`) or, for a
    launcher's worker, its queue to the launcher."""

    def advance(self, cells: float) -> None: ...

    def settle(self, completed: int) -> None: ...

    def above(self, log: Log) -> Log:
        """``log`` whose lines do not mix with the bar (:meth:`sweep.progress.Progress.above`)."""
        ...


def run_worker(
    config: SweepConfig,
    *,
    show_progress: bool = True,
    progress: ProgressSink | None = None,
    log: Log = quiet,
) -> WorkOutcome:
    """Join an existing study (any machine) and work until its queue is empty; progress goes
    to ``progress`` if given, else to a bar (``show_progress``)."""
    with stop_on_signals() as stop, open_study(
            study_name=config.study_name, storage_url=config.storage_url, access="work",
            heartbeat_seconds=config.heartbeat_seconds) as sweep_study:
        sweep_study.check_writable()
        sweep_study.note_heartbeat(config.heartbeat_seconds)
        stored = sweep_study.settings
        engine, _ = pick_engine(sweep_study.task, train_settings(stored), config.engine, None)
        log(f"worker on study {sweep_study.name!r} with the {engine.name} engine")
        if progress is not None:
            return work(sweep_study, engine, config, None, stop=stop, progress=progress, log=log)
        with Progress(0, 0, enabled=show_progress) as bar:
            return work(sweep_study, engine, config, None, stop=stop, progress=bar, log=log)


def train_settings(stored: dict[str, Any]) -> TrainSettings:
    """The training settings of a study's fixed settings (no MC dropout passes in a study
    from before they were recorded)."""
    return TrainSettings(int(stored["epochs"]), int(stored["batch_size"]),
                         int(stored.get(MC_PASSES_KEY, 0)))


def _split_diverged(claims: list[Claim], results: list[CellResult]
                    ) -> tuple[list[tuple[Claim, CellResult]], list[tuple[Claim, str]]]:
    """Results to record, and the claims whose training loss became NaN or infinite (a
    population engine's member: the Keras engine raises for its one cell instead)."""
    kept, diverged = [], []
    for claim, result in zip(claims, results, strict=True):
        losses = result.curves.train_loss
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size or not np.isfinite(result.value):
            where = f"at epoch {bad[0] + 1}" if bad.size else "in the final evaluation"
            value = losses[bad[0]] if bad.size else result.value
            diverged.append((claim, f"FloatingPointError: the training loss became {value} "
                                    f"{where}"))
        else:
            kept.append((claim, result))
    return kept, diverged


def raise_if_stopped(stop: StopRequest, completed: int, interrupted: int) -> None:
    if stop.requested:
        raise SweepInterrupted(
            f"stopped by {stop.signal_name}: {completed} cell(s) completed by this process, "
            f"{interrupted} unfinished cell(s) marked failed as interrupted; run the same "
            "command again to resume",
            exit_code=stop.exit_code,
        )


def work(
    sweep_study: SweepStudy,
    engine: Engine,
    config: SweepConfig,
    cells: list[Cell] | None,
    *,
    stop: StopRequest,
    progress: ProgressSink,
    log: Log = quiet,
) -> WorkOutcome:
    """Claim, train and record until no cell (of ``cells``, or of the study) is left to do.

    Each batch the engine finishes is recorded at once. A cell whose training raises is recorded
    as failed and not retried by this process (the next run retries it); a storage error stops
    the sweep (it is not the cell's fault); cells of workers that died (stale heartbeats) are
    failed and enqueued again. A stop request ends the loop after the current chunk of work.
    """
    task = sweep_study.task
    stored = sweep_study.settings
    settings = train_settings(stored)
    objective = Objective.from_settings(stored)
    log = progress.above(log)  # failures and a race's rounds: above the bar, never glued to it
    wanted = None if cells is None else set(cells)
    per_claim = config.cells_per_claim or engine.cells_per_claim(task, settings)
    control = _Control(stop, progress)
    failed_here: set[Cell] = set()
    completed_now = 0
    last = WorkOutcome(0, 0)  # the race and summary of the last wait (its counts: below)
    while not stop.requested:
        claims = sweep_study.claim(per_claim, only=wanted)
        if not claims:
            waiting, last = _wait_for_others(sweep_study, wanted, failed_here, stop, log)
            if not waiting:
                break
            continue
        unfinished = list(claims)
        done_in_claim = 0
        try:
            with heartbeat(sweep_study, claims, config.heartbeat_seconds):
                for trained in engine.train(task, [c.cell for c in claims], settings, control):
                    batch = ranked(trained, objective)
                    finished, unfinished = unfinished[:len(batch)], unfinished[len(batch):]
                    kept, diverged = _split_diverged(finished, batch)
                    done_in_claim += sweep_study.record([c for c, _ in kept],
                                                        [r for _, r in kept])
                    for claim, reason in diverged:  # one member of a population: that cell
                        sweep_study.record_failure([claim], reason)
                        failed_here.add(claim.cell)
                        log(f"failed 1 cell(s): {reason}")
        except KeyboardInterrupt:  # a second signal: stop now
            sweep_study.record_failure(unfinished, f"interrupted by {stop.signal_name}")
            raise_if_stopped(stop, completed_now + done_in_claim, len(unfinished))
            raise
        except SweepError as error:
            sweep_study.record_failure(unfinished, f"the sweep stopped: {error}")
            raise
        except Exception as error:  # noqa: BLE001 - a failed cell is recorded; go on
            if not stop.requested:  # else: a signal that surfaced as an error in the framework
                reason = error_reason(error)
                sweep_study.record_failure(unfinished, reason)
                failed_here.update(c.cell for c in unfinished)
                log(f"failed {len(unfinished)} cell(s): {reason}")
                unfinished = []
        completed_now += done_in_claim
        if unfinished and stop.requested:
            sweep_study.record_failure(unfinished, f"interrupted by {stop.signal_name}")
            raise_if_stopped(stop, completed_now, len(unfinished))
        elif unfinished:  # the engine returned early without a stop: a bug, not the cells'
            sweep_study.record_failure(unfinished, "not trained: the engine returned early")
            failed_here.update(c.cell for c in unfinished)
        progress.settle(done_in_claim)
    raise_if_stopped(stop, completed_now, 0)
    return replace(last, completed_now=completed_now, failed_now=len(failed_here))


def _wait_for_others(
    sweep_study: SweepStudy, wanted: set[Cell] | None, failed_here: set[Cell],
    stop: StopRequest, log: Log = quiet,
) -> tuple[bool, WorkOutcome]:
    """Nothing to claim: fail stale trials, re-enqueue their cells, wait for live workers. In
    a race, the cells are its current round's: a complete round's decisions are replayed from
    the stored trials (once: the confirmation's choice takes the same replay) and the next
    round is enqueued.

    Once the sweep's own cells are complete (a race: it is over), the study's confirmation on
    fresh seeds is enqueued (:mod:`sweep.confirming`).

    Returns whether to go on (False when every cell is complete, a race: it is over, or failed
    in this process), and the race and summary computed here (in a :class:`WorkOutcome`).
    """
    sweep_study.fail_stale()
    records = sweep_study.records()
    states = cell_states(records)
    race = race_report(sweep_study, records) if wanted is None else None
    if race is not None:
        cells = round_cells(race.state)
    else:
        cells = list(states) if wanted is None else list(wanted)
    summary = confirmation_summary(sweep_study, records, race) if wanted is None else None
    confirming = confirmation_cells(sweep_study, summary)
    cells = list(dict.fromkeys([*cells, *confirming]))
    computed = WorkOutcome(0, 0, race, summary)
    if sweep_study.enqueue_missing(cells, skip=failed_here):
        if race is not None and race.state.next_seeds is not None:
            log(round_line(race.state))
        elif confirming:
            log(confirm_line(confirming))
        return True, computed
    if any(states.get(c) == RUNNING for c in cells):
        stop.sleep(1.0)
        return True, computed
    return any(states.get(c) not in (COMPLETE, FAILED) for c in cells), computed
