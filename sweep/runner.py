"""Running a sweep: enqueue the missing cells, then claim, train and record until none is left.

``run_sweep`` checks the run's size, enqueues the config's cells and works on them, in this
process or in ``workers`` worker subprocesses; ``run_worker`` joins an existing study from any
machine and works on whatever its queue holds. Both use the same loop, :func:`work`.

Stopping: SIGINT and SIGTERM request a stop (:mod:`sweep.stopping`). The loop and the engines
poll it between bounded chunks of work; finished cells are recorded, the claimed cells that did
not finish are marked failed as interrupted (the next run redoes them), and
:class:`SweepInterrupted` carries exit code 130 (SIGINT) or 143 (SIGTERM). A launcher forwards
the signal to its workers, waits for them, and kills and cleans up after any that hang.
"""

from __future__ import annotations

import errno
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from .budget import WorkEstimate, check_budget, estimate, machine_workers
from .config import SweepConfig
from .engines import Engine, TrainSettings, get_engine
from .exceptions import SweepError, SweepInterrupted, WorkerStartError
from .grid import Cell
from .progress import Progress
from .stopping import StopRequest, stop_on_signals
from .storage.heartbeat import heartbeat
from .storage.records import COMPLETE, FAILED, RUNNING, cell_states
from .storage.study import SweepStudy, open_study
from .tasks import get_task

Log = Callable[[str], None]
WORKER_STOP_SECONDS = 20.0
"""How long a launcher waits for a signalled worker before killing it."""


def _quiet(line: str) -> None:
    return None


@dataclass(frozen=True)
class RunOutcome:
    study: SweepStudy
    cells: int
    already_complete: int
    completed_now: int
    failed_now: int
    work: WorkEstimate


@dataclass(frozen=True)
class WorkOutcome:
    completed_now: int
    failed_now: int


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
    launcher's worker, lines on stdout (:class:`LineProgress`)."""

    def advance(self, cells: float) -> None: ...

    def settle(self, completed: int) -> None: ...


def plan(config: SweepConfig) -> tuple[WorkEstimate, int, list[str]]:
    """Check the run's size before anything is written: (estimate, workers, notices)."""
    task = get_task(config.task)
    engine = get_engine(config.resolved_engine)
    settings = TrainSettings(config.resolved_epochs, config.resolved_batch_size)
    engine.check(task, settings, config.placements)
    per_claim = config.cells_per_claim or engine.cells_per_claim(task, settings)
    notices = []
    work = estimate(config, per_claim, config.workers)
    check_budget(work, config.allow_large)
    workers = min(config.workers, machine_workers(work.worker_bytes))
    if workers < config.workers:
        notices.append(
            f"--workers {config.workers} capped to {workers}: this machine has "
            f"{_cores_and_memory()} and a worker needs about "
            f"{work.worker_bytes / 2**30:.1f} GiB"
        )
        work = estimate(config, per_claim, workers)
    return work, workers, notices


def _cores_and_memory() -> str:
    from .budget import available_memory, cores

    return f"{cores()} core(s) and {available_memory() / 2**30:.1f} GiB of memory available"


def open_for_run(config: SweepConfig) -> SweepStudy:
    """Open (or create) ``config``'s study for a run, checking its fixed settings."""
    task = get_task(config.task)
    settings = task.fixed_settings(config.resolved_epochs, config.resolved_batch_size)
    return open_study(
        study_name=config.study, storage_url=config.storage_url, access="create", task=task,
        settings=settings, heartbeat_seconds=config.heartbeat_seconds,
    )


def run_sweep(
    config: SweepConfig, *, show_progress: bool = True, log: Log = _quiet
) -> RunOutcome:
    """Run every pending cell of ``config``'s grid; completed cells are skipped (resume)."""
    with stop_on_signals() as stop:
        work_estimate, workers, notices = plan(config)
        for notice in notices:
            log(notice)
        sweep_study = open_for_run(config)
        sweep_study.check_writable()
        sweep_study.note_heartbeat(config.heartbeat_seconds)
        cells = config.cells()
        sweep_study.fail_stale()
        sweep_study.enqueue_missing(cells)
        states = cell_states(sweep_study.records())
        already = sum(1 for c in cells if states.get(c) == COMPLETE)
        log(f"study {sweep_study.name!r}: {work_estimate.describe()} for the whole grid; "
            f"{already} cell(s) already complete")
        _raise_if_stopped(stop, 0, 0)
        with Progress(len(cells), already, enabled=show_progress) as progress:
            if workers == 1:
                outcome = work(sweep_study, get_engine(config.resolved_engine), config, cells,
                               stop=stop, progress=progress, log=log)
            else:
                outcome = _work_in_subprocesses(sweep_study, config, cells, workers, stop,
                                                progress, log)
    return RunOutcome(sweep_study, len(cells), already, outcome.completed_now,
                      outcome.failed_now, work_estimate)


def run_worker(
    config: SweepConfig,
    *,
    show_progress: bool = True,
    progress_lines: bool = False,
    log: Log = _quiet,
) -> WorkOutcome:
    """Join an existing study (any machine) and work until its queue is empty."""
    with stop_on_signals() as stop:
        sweep_study = open_study(study_name=config.study, storage_url=config.storage_url,
                                 access="work", heartbeat_seconds=config.heartbeat_seconds)
        sweep_study.check_writable()
        sweep_study.note_heartbeat(config.heartbeat_seconds)
        engine = get_engine(config.engine or sweep_study.task.engines[0])
        stored = sweep_study.settings
        engine.check(sweep_study.task, TrainSettings(int(stored["epochs"]),
                                                     int(stored["batch_size"])), None)
        log(f"worker on study {sweep_study.name!r} with the {engine.name} engine")
        if progress_lines:
            return work(sweep_study, engine, config, None, stop=stop, progress=LineProgress(),
                        log=log)
        with Progress(0, 0, enabled=show_progress) as progress:
            return work(sweep_study, engine, config, None, stop=stop, progress=progress, log=log)


def _raise_if_stopped(stop: StopRequest, completed: int, interrupted: int) -> None:
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
    log: Log = _quiet,
) -> WorkOutcome:
    """Claim, train and record until no cell (of ``cells``, or of the study) is left to do.

    Each batch the engine finishes is recorded at once. A cell whose training raises is recorded
    as failed and not retried by this process (the next run retries it); a storage error stops
    the sweep (it is not the cell's fault); cells of workers that died (stale heartbeats) are
    failed and enqueued again. A stop request ends the loop after the current chunk of work.
    """
    task = sweep_study.task
    stored = sweep_study.settings
    settings = TrainSettings(int(stored["epochs"]), int(stored["batch_size"]))
    wanted = None if cells is None else set(cells)
    per_claim = config.cells_per_claim or engine.cells_per_claim(task, settings)
    control = _Control(stop, progress)
    failed_here: set[Cell] = set()
    completed_now = 0
    while not stop.requested:
        claims = sweep_study.claim(per_claim, only=wanted)
        if not claims:
            if not _wait_for_others(sweep_study, wanted, failed_here, stop):
                break
            continue
        unfinished = list(claims)
        done_in_claim = 0
        try:
            with heartbeat(sweep_study, claims, config.heartbeat_seconds):
                for batch in engine.train(task, [c.cell for c in claims], settings, control):
                    finished, unfinished = unfinished[:len(batch)], unfinished[len(batch):]
                    done_in_claim += sweep_study.record(finished, batch)
        except KeyboardInterrupt:  # a second signal: stop now
            sweep_study.record_failure(unfinished, f"interrupted by {stop.signal_name}")
            _raise_if_stopped(stop, completed_now + done_in_claim, len(unfinished))
            raise
        except SweepError:
            sweep_study.record_failure(unfinished, "the sweep stopped on a storage error")
            raise
        except Exception as error:  # noqa: BLE001 - a failed cell is recorded; go on
            if not stop.requested:  # else: a signal that surfaced as an error in the framework
                reason = "".join(traceback.format_exception_only(error)).strip()
                sweep_study.record_failure(unfinished, reason)
                failed_here.update(c.cell for c in unfinished)
                log(f"failed {len(unfinished)} cell(s): {reason}")
                unfinished = []
        completed_now += done_in_claim
        if unfinished and stop.requested:
            sweep_study.record_failure(unfinished, f"interrupted by {stop.signal_name}")
            _raise_if_stopped(stop, completed_now, len(unfinished))
        elif unfinished:  # the engine returned early without a stop: a bug, not the cells'
            sweep_study.record_failure(unfinished, "not trained: the engine returned early")
            failed_here.update(c.cell for c in unfinished)
        progress.settle(done_in_claim)
    _raise_if_stopped(stop, completed_now, 0)
    return WorkOutcome(completed_now, len(failed_here))


def _wait_for_others(
    sweep_study: SweepStudy, wanted: set[Cell] | None, failed_here: set[Cell], stop: StopRequest
) -> bool:
    """Nothing to claim: fail stale trials, re-enqueue their cells, wait for live workers.

    Returns False when every cell is complete, or failed in this process.
    """
    sweep_study.fail_stale()
    states = cell_states(sweep_study.records())
    cells = list(states) if wanted is None else list(wanted)
    if sweep_study.enqueue_missing(cells, skip=failed_here):
        return True
    if any(states.get(c) == RUNNING for c in cells):
        stop.sleep(1.0)
        return True
    return any(states.get(c) not in (COMPLETE, FAILED) for c in cells)


# ---- worker subprocesses -------------------------------------------------------------------


class LineProgress:
    """A launched worker's progress as lines on stdout (``advance X``, ``settle N``), at most
    two a second, which the launcher adds to its bar."""

    INTERVAL = 0.5

    def __init__(self) -> None:
        self._pending = 0.0
        self._last = 0.0
        self._closed = False

    def advance(self, cells: float) -> None:
        self._pending += cells
        now = time.monotonic()
        if now - self._last >= self.INTERVAL:
            self._emit(f"advance {self._pending!r}")
            self._pending = 0.0
            self._last = now

    def settle(self, completed: int) -> None:
        self._emit(f"advance {self._pending!r}")
        self._pending = 0.0
        self._emit(f"settle {completed}")

    def _emit(self, line: str) -> None:
        if self._closed:
            return
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except OSError:  # the launcher is gone (its end of the pipe closed): carry on silently
            self._closed = True


def worker_command(config: SweepConfig) -> list[str]:
    command = [
        sys.executable, "-m", "sweep", "worker", "--study", config.study,
        "--storage", config.storage_url, "--engine", config.resolved_engine,
        "--heartbeat-seconds", str(config.heartbeat_seconds), "--no-progress",
        "--progress-lines", "--launched-by", str(os.getpid()),
    ]
    if config.cells_per_claim:
        command += ["--cells-per-claim", str(config.cells_per_claim)]
    return command


class _Worker:
    """One worker subprocess and the threads that relay its progress and its error lines."""

    def __init__(self, command: list[str], events: queue.Queue[tuple[str, float]], log: Log):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True)
        self.lines: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_progress, args=(self.process.stdout, events),
                             daemon=True),
            threading.Thread(target=self._read_errors, args=(self.process.stderr, log),
                             daemon=True),
        ]
        try:
            for thread in self._threads:
                thread.start()
        except RuntimeError as e:  # "can't start new thread": out of processes as well
            self.process.kill()
            self.process.wait()
            raise OSError(errno.EAGAIN, "cannot start a thread to follow it") from e

    @property
    def worker_id(self) -> str:
        import socket

        return f"{socket.gethostname()}:{self.process.pid}"

    def _read_progress(self, stream: IO[str] | None, events: queue.Queue[tuple[str, float]]
                       ) -> None:
        for line in stream or ():
            kind, _, value = line.strip().partition(" ")
            if kind in ("advance", "settle"):
                events.put((kind, float(value)))

    def _read_errors(self, stream: IO[str] | None, log: Log) -> None:
        for line in stream or ():
            self.lines.append(line.rstrip())

    def join(self) -> None:
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=5)


def _work_in_subprocesses(
    sweep_study: SweepStudy,
    config: SweepConfig,
    cells: list[Cell],
    workers: int,
    stop: StopRequest,
    progress: Progress,
    log: Log,
) -> WorkOutcome:
    """Start ``workers`` ``sweep worker`` processes on the study; follow their progress."""
    command = worker_command(config)
    wanted = set(cells)

    def complete() -> int:
        states = cell_states(sweep_study.records())
        return sum(1 for c in wanted if states.get(c) == COMPLETE)

    start = complete()
    events: queue.Queue[tuple[str, float]] = queue.Queue()
    started: list[_Worker] = []
    try:
        for index in range(workers):
            try:
                started.append(_Worker(command, events, log))
            except OSError as e:
                raise WorkerStartError(
                    f"could not start worker {index + 1} of {workers} ({e.strerror or e}); the "
                    f"{index} started were stopped; run again with fewer --workers"
                ) from e
        log(f"started {workers} workers: {' '.join(command[1:])}")
        while any(w.process.poll() is None for w in started) and not stop.requested:
            stop.sleep(0.5)
            _drain(events, progress)
        if stop.requested:
            _stop_workers(started, stop.signal or signal.SIGTERM)
    except BaseException:
        _stop_workers(started, stop.signal or signal.SIGTERM)
        raise
    finally:
        for worker in started:
            worker.join()
        _fail_orphaned_claims(sweep_study, started)
    _drain(events, progress)
    now = complete()
    for worker in started:
        failures = [line for line in worker.lines if line.startswith("failed ")]
        for line in failures:
            log(line)
        if worker.process.returncode not in (0, None) and not stop.requested:
            last = worker.lines[-1] if worker.lines else f"exit code {worker.process.returncode}"
            log(f"worker {worker.process.pid} exited with an error: {last}")
    _raise_if_stopped(stop, now - start, 0)
    states = cell_states(sweep_study.records())
    return WorkOutcome(now - start, sum(1 for c in wanted if states.get(c) == FAILED))


def _drain(events: queue.Queue[tuple[str, float]], progress: Progress) -> None:
    while True:
        try:
            kind, value = events.get_nowait()
        except queue.Empty:
            return
        if kind == "advance":
            progress.advance(value)
        else:
            progress.settle(int(value))


def _stop_workers(workers: Sequence[_Worker], signum: int) -> None:
    """Forward the stop signal; kill a worker that has not exited after the grace period."""
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.send_signal(signum)
    deadline = time.monotonic() + WORKER_STOP_SECONDS
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def _fail_orphaned_claims(sweep_study: SweepStudy, workers: Sequence[_Worker]) -> None:
    """Cells still RUNNING under a worker of ours that has exited (killed, crashed) are failed
    now rather than after the heartbeat grace period."""
    ids = {w.worker_id for w in workers if w.process.poll() is not None}
    if ids:
        sweep_study.fail_running_of(ids, "interrupted: its worker process exited")
