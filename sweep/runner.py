"""Running a sweep: enqueue the missing cells, then claim, train and record until none is left."""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from .config import SweepConfig
from .engines import TrainSettings, get_engine
from .exceptions import SweepInterrupted
from .grid import Cell
from .progress import Progress
from .records import COMPLETE, FAILED, RUNNING, cell_states
from .study import Claim, SweepStudy, heartbeat, open_study
from .tasks import get_task


@dataclass(frozen=True)
class RunOutcome:
    study: SweepStudy
    cells: int
    already_complete: int
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
    config: SweepConfig,
    *,
    show_progress: bool = True,
    log: Callable[[str], None] = lambda line: None,
) -> RunOutcome:
    """Run every pending cell of ``config``'s grid; completed cells are skipped (resume)."""
    sweep_study = open_for_run(config)
    task = sweep_study.task
    engine = get_engine(config.engine)
    settings = TrainSettings(config.resolved_epochs, config.resolved_batch_size)
    cells = config.cells()
    wanted = set(cells)
    sweep_study.fail_stale()
    sweep_study.enqueue_missing(cells)
    states = cell_states(sweep_study.records())
    already = sum(1 for c in cells if states.get(c) == COMPLETE)
    per_claim = config.cells_per_claim or engine.cells_per_claim(task, settings)
    failed_here: set[Cell] = set()
    completed_now = 0
    log(f"study {sweep_study.name!r}: {len(cells)} cells, {already} already complete")

    claims: list[Claim] = []
    try:
        with Progress(len(cells), already, enabled=show_progress) as progress, \
                _sigterm_as_interrupt():
            while True:
                claims = sweep_study.claim(per_claim, only=wanted)
                if not claims:
                    if not _wait_for_others(sweep_study, cells, wanted, failed_here):
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
            f"interrupted: {completed_now} cell(s) completed in this run, {len(claims)} running "
            "cell(s) marked failed; run the same command again to resume"
        ) from None
    return RunOutcome(sweep_study, len(cells), already, completed_now, len(failed_here))


def _wait_for_others(
    sweep_study: SweepStudy, cells: list[Cell], wanted: set[Cell], failed_here: set[Cell]
) -> bool:
    """Nothing to claim: wait while other workers (or stale trials) hold our cells.

    Returns True when there may be more to do (stale trials were failed and re-enqueued, or
    others still run), False when every cell is complete or failed in this run.
    """
    sweep_study.fail_stale()
    states = cell_states(sweep_study.records())
    if sweep_study.enqueue_missing(cells, skip=failed_here):
        return True
    if any(states.get(c) == RUNNING for c in wanted):
        time.sleep(1.0)
        return True
    return any(states.get(c) not in (COMPLETE, FAILED) for c in wanted)
