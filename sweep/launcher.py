"""``run --workers N``: N worker processes on this machine, each handed the validated config.

Each worker is a ``multiprocessing`` process (the ``spawn`` start method: a fresh interpreter,
no state copied from the launcher) that runs :func:`sweep.worker.run_worker` on the run's own
:class:`~sweep.config.SweepConfig` object, and reports progress, log lines and errors to the
launcher through a queue. It runs in a session of its own, so a terminal's Ctrl-C reaches the
launcher only, which forwards it (a worker that got it twice would stop at once instead of
cleanly); and it asks the kernel for SIGTERM when the launcher dies (Linux's parent-death
signal), so a killed launcher leaves no orphan training on.

On a stop request the launcher forwards the signal, waits up to :data:`WORKER_STOP_SECONDS`,
kills a worker that hangs, and fails at once the cells still RUNNING under any worker of its
that has exited. A worker that cannot be started (the system refuses a process) stops the
others: one :class:`WorkerStartError` line.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .config import SweepConfig
from .exceptions import SweepError, SweepInterrupted, WorkerFailedError, WorkerStartError
from .progress import Progress
from .stopping import StopRequest, die_with
from .storage.schema import worker_id
from .storage.study import SweepStudy

WORKER_STOP_SECONDS = 20.0
"""How long a launcher waits for a signalled worker before killing it."""
POLL_SECONDS = 0.5

Log = Callable[[str], None]
Event = tuple[str, int, Any]  # (kind, worker index, value)


def work_in_processes(
    sweep_study: SweepStudy,
    config: SweepConfig,
    workers: int,
    stop: StopRequest,
    progress: Progress,
    log: Log,
) -> int:
    """Start ``workers`` worker processes on the study and follow them until they all exit
    (or a stop request has stopped them); the cells they completed (workers of other
    commands and machines on the same study are not counted)."""
    log = progress.above(log)  # the workers' lines go above the bar
    context = multiprocessing.get_context("spawn")
    events: Any = context.Queue()
    started: list[Any] = []
    completed = 0
    try:
        for index in range(workers):
            process = context.Process(target=_worker_main, name=f"sweep-worker-{index}",
                                      args=(config, events, os.getpid(), index))
            try:
                process.start()
            except OSError as e:
                raise WorkerStartError(
                    f"could not start worker {index + 1} of {workers} ({e.strerror or e}); the "
                    f"{index} started were stopped; run again with fewer --workers"
                ) from e
            started.append(process)
        log(f"started {workers} worker processes on study {sweep_study.name!r}")
        while any(p.is_alive() for p in started) and not stop.requested:
            completed += _drain(events, progress, log, stop, wait=POLL_SECONDS)
        if stop.requested:
            _stop_workers(started, stop.signal or signal.SIGTERM)
    except BaseException:
        _stop_workers(started, stop.signal or signal.SIGTERM)
        raise
    finally:
        completed += _drain(events, progress, log, stop, wait=0.0)
        exited = {worker_id(p.pid) for p in started if p.exitcode is not None}
        if exited:
            sweep_study.fail_running_of(exited, "interrupted: its worker process exited")
    crashed = [p for p in started if p.exitcode not in (0, 1, None)]
    if crashed and not stop.requested:
        raise WorkerFailedError(
            f"{len(crashed)} of {workers} worker processes ended abnormally "
            f"({_how_it_ended(crashed[0].exitcode)}); their unfinished cells were failed and "
            "are redone by the same command run again"
        )
    return completed


def _how_it_ended(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _drain(events: Any, progress: Progress, log: Log, stop: StopRequest, wait: float) -> int:
    """Apply the workers' events: progress to the bar, their lines to the log; the cells their
    claims completed, in all."""
    timeout = wait
    completed = 0
    while True:
        try:
            kind, index, value = events.get(timeout=timeout) if timeout else events.get_nowait()
        except (queue.Empty, EOFError, OSError):
            return completed
        timeout = 0.0
        if kind == "advance":
            progress.advance(value, source=index)
        elif kind == "settle":
            progress.settle(int(value), source=index)
            completed += int(value)
        elif not stop.requested:  # a worker's log or error line
            log(f"worker {index + 1}: {value}")


def _stop_workers(workers: Sequence[Any], signum: int) -> None:
    """Forward the stop signal; kill a worker that has not exited after the grace period."""
    for process in workers:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signum)
    for process in workers:
        process.join(WORKER_STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()


# ---- in the worker process ------------------------------------------------------------------


class _QueueProgress:
    """A worker's progress as queue events, at most two a second."""

    def __init__(self, events: Any, index: int) -> None:
        import time

        self._clock = time.monotonic
        self._events = events
        self._index = index
        self._pending = 0.0
        self._last = 0.0

    def advance(self, cells: float) -> None:
        self._pending += cells
        if self._clock() - self._last >= POLL_SECONDS:
            self._flush()

    def settle(self, completed: int) -> None:
        self._flush()
        self._events.put(("settle", self._index, completed))

    def above(self, log: Log) -> Log:
        """No bar here: the lines go to the launcher, which writes them above its own."""
        return log

    def _flush(self) -> None:
        if self._pending:
            self._events.put(("advance", self._index, self._pending))
        self._pending = 0.0
        self._last = self._clock()


def _worker_main(config: SweepConfig, events: Any, parent: int, index: int) -> None:
    """A worker process: its own session, stop with the launcher, work, report the outcome."""
    from .worker import run_worker

    os.setsid()
    die_with(parent)
    _quiet_output()
    code = 0
    try:
        outcome = run_worker(config, progress=_QueueProgress(events, index),
                             log=lambda line: events.put(("log", index, line)))
        code = 1 if outcome.failed_now else 0
    except SweepInterrupted as e:
        code = e.exit_code
    except SweepError as e:
        events.put(("error", index, str(e)))
        code = e.exit_code
    except KeyboardInterrupt:
        code = 130
    except BaseException as e:  # noqa: BLE001 - the launcher shows it as one line
        events.put(("error", index, "".join(traceback.format_exception_only(e)).strip()))
        code = 1
    events.close()
    events.join_thread()
    raise SystemExit(code)


def _quiet_output() -> None:
    """Workers speak through the queue; stray library output must not garble the launcher's
    terminal (its progress bar)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
