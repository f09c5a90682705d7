"""Running a sweep: enqueue the missing cells, then claim, train and record until none is left.

``run_sweep`` enqueues the config's cells and works on them, in this process or in ``workers``
worker subprocesses; ``run_worker`` joins an existing study from any machine and works on
whatever its queue holds. Both use the same loop, :func:`work`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from .config import SweepConfig
from .engines import Engine, TrainSettings, get_engine
from .exceptions import SweepInterrupted
from .grid import Cell
from .heartbeat import heartbeat
from .progress import Progress
from .records import COMPLETE, FAILED, RUNNING, cell_states
from .study import Claim, SweepStudy, open_study
from .tasks import get_task

Log = Callable[[str], None]


def _quiet(line: str) -> None:
    return None


@dataclass(frozen=True)
class RunOutcome:
    study: SweepStudy
    cells: int
    already_complete: int
    completed_now: int
    failed_now: int


@dataclass(frozen=True)
class WorkOutcome:
    completed_now: int
    failed_now: int


def open_for_run(config: SweepConfig) -> SweepStudy:
    """Validate the config against the storage and open (or create) its study."""
    task = get_task(config.task)
    settings = task.fixed_settings(config.resolved_epochs, config.resolved_batch_size)
    return open_study(
        study_name=config.study,
        storage_url=config.storage_url,
        task=task,
        settings=settings,
        create=True,
        heartbeat_seconds=config.heartbeat_seconds,
    )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(
    config: SweepConfig, *, workers: int = 1, show_progress: bool = True, log: Log = _quiet
) -> RunOutcome:
    """Run every pending cell of ``config``'s grid; completed cells are skipped (resume)."""
    sweep_study = open_for_run(config)
    sweep_study.check_writable()
    cells = config.cells()
    sweep_study.fail_stale()
    sweep_study.enqueue_missing(cells)
    states = cell_states(sweep_study.records())
    already = sum(1 for c in cells if states.get(c) == COMPLETE)
    log(f"study {sweep_study.name!r}: {len(cells)} cells, {already} already complete")
    with Progress(len(cells), already, enabled=show_progress) as progress:
        if workers == 1:
            outcome = work(sweep_study, get_engine(config.resolved_engine), config, cells,
                           progress=progress, log=log)
        else:
            outcome = _work_in_subprocesses(sweep_study, config, cells, workers, progress, log)
    return RunOutcome(sweep_study, len(cells), already, outcome.completed_now, outcome.failed_now)


def run_worker(
    config: SweepConfig, *, show_progress: bool = True, log: Log = _quiet
) -> WorkOutcome:
    """Join an existing study (any machine) and work until its queue is empty."""
    sweep_study = open_study(study_name=config.study, storage_url=config.storage_url, task=None,
                             settings=None, create=False,
                             heartbeat_seconds=config.heartbeat_seconds)
    sweep_study.check_writable()
    engine = get_engine(config.engine or sweep_study.task.engines[0])
    log(f"worker on study {sweep_study.name!r} with the {engine.name} engine")
    with Progress(0, 0, enabled=show_progress) as progress:
        return work(sweep_study, engine, config, None, progress=progress, log=log)


def work(
    sweep_study: SweepStudy,
    engine: Engine,
    config: SweepConfig,
    cells: list[Cell] | None,
    *,
    progress: Progress,
    log: Log = _quiet,
) -> WorkOutcome:
    """Claim, train and record until no cell (of ``cells``, or of the study) is left to do.

    A cell that fails here is recorded as failed and not retried by this process (the next run
    retries it); cells of workers that died (stale heartbeats) are failed and enqueued again.
    Ctrl-C or SIGTERM marks the claimed cells failed and raises :class:`SweepInterrupted`.
    """
    task = sweep_study.task
    stored = sweep_study.settings
    settings = TrainSettings(int(stored["epochs"]), int(stored["batch_size"]))
    wanted = None if cells is None else set(cells)
    per_claim = config.cells_per_claim or engine.cells_per_claim(task, settings)
    failed_here: set[Cell] = set()
    completed_now = 0
    claims: list[Claim] = []
    try:
        with _sigterm_as_interrupt():
            while True:
                claims = sweep_study.claim(per_claim, only=wanted)
                if not claims:
                    if not _wait_for_others(sweep_study, wanted, failed_here):
                        break
                    continue
                try:
                    with heartbeat(sweep_study, claims, config.heartbeat_seconds):
                        results = engine.train(task, [c.cell for c in claims], settings)
                    sweep_study.record(claims, results)
                    completed_now += len(claims)
                    progress.advance(len(claims))
                except Exception as error:  # noqa: BLE001 - a failed cell is recorded; go on
                    reason = "".join(traceback.format_exception_only(error)).strip()
                    sweep_study.record_failure(claims, reason)
                    failed_here.update(c.cell for c in claims)
                    log(f"failed {len(claims)} cell(s): {reason}")
                claims = []
    except KeyboardInterrupt:
        sweep_study.record_failure(claims, "interrupted")
        raise SweepInterrupted(
            f"interrupted: {completed_now} cell(s) completed by this process, {len(claims)} "
            "running cell(s) marked failed; run the same command again to resume"
        ) from None
    return WorkOutcome(completed_now, len(failed_here))


def _wait_for_others(
    sweep_study: SweepStudy, wanted: set[Cell] | None, failed_here: set[Cell]
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
        time.sleep(1.0)
        return True
    return any(states.get(c) not in (COMPLETE, FAILED) for c in cells)


def _work_in_subprocesses(
    sweep_study: SweepStudy,
    config: SweepConfig,
    cells: list[Cell],
    workers: int,
    progress: Progress,
    log: Log,
) -> WorkOutcome:
    """Start ``workers`` ``sweep worker`` processes on the study; follow their progress."""
    command = [
        sys.executable, "-m", "sweep", "worker", "--study", config.study,
        "--storage", config.storage_url, "--engine", config.resolved_engine,
        "--heartbeat-seconds", str(config.heartbeat_seconds), "--no-progress",
    ]
    if config.cells_per_claim:
        command += ["--cells-per-claim", str(config.cells_per_claim)]
    wanted = set(cells)

    def complete() -> int:
        states = cell_states(sweep_study.records())
        return sum(1 for c in wanted if states.get(c) == COMPLETE)

    start = complete()
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(workers)]
    log(f"started {workers} workers: {' '.join(command[1:])}")
    shown = start
    try:
        with _sigterm_as_interrupt():
            while any(p.poll() is None for p in processes):
                time.sleep(1.0)
                now = complete()
                progress.advance(now - shown)
                shown = now
    except KeyboardInterrupt:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in processes:
            p.wait()
        raise SweepInterrupted(
            "interrupted: workers stopped and marked their running cells failed; run the same "
            "command again to resume"
        ) from None
    now = complete()
    progress.advance(now - shown)
    failed = sum(1 for p in processes if p.returncode != 0)
    if failed:
        log(f"{failed} worker(s) exited with an error")
    states = cell_states(sweep_study.records())
    return WorkOutcome(now - start, sum(1 for c in wanted if states.get(c) == FAILED))
