"""Stop requests: SIGINT and SIGTERM set a flag that the work loop and the engines poll.

A Python signal handler runs between bytecodes of the main thread. Raising from it while
TensorFlow runs an op can surface later as an unrelated TensorFlow error (e.g. "Exiting device
scope without proper scope nesting"), which would be taken for a failed cell. So the first
signal only records a stop request; the worker finishes the bounded chunk of compiled work it
is in (about a second), marks its unfinished cells failed as interrupted and exits with
128 + the signal number (130 for SIGINT, 143 for SIGTERM). A second signal, for a user who
will not wait, raises :class:`KeyboardInterrupt` at once.

A task's own code (its import, ``load_data``, ``build_model``: :func:`user_code`) may loop or
sleep and runs no compiled training step, so there the first signal raises at once; a stop that
ends the run this way is :class:`~sweep.exceptions.SweepInterrupted` too, with the same exit
code.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .exceptions import SweepInterrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_ACTIVE: list[StopRequest] = []
"""The stop requests of the guards this (main) thread is in, innermost last."""


class StopRequest:
    """Whether (and by which signal) this process was asked to stop."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.urgent = 0  # inside user code: the first signal raises at once
        self._event = threading.Event()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self, signum: int) -> None:
        if self.signal is None:
            self.signal = signum
        self._event.set()

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as a shell reports a process that a signal stopped."""
        return 128 + (self.signal or signal.SIGINT)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal or signal.SIGINT).name

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop is requested."""
        self._event.wait(seconds)


class NeverStop(StopRequest):
    """For library calls from threads other than the main one, where no handler can be set."""


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM request a stop instead of killing the process."""
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield NeverStop()
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        urgent = stop.requested or stop.urgent > 0
        stop.request(signum)
        if urgent:
            raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    _ACTIVE.append(stop)
    try:
        yield stop
    except KeyboardInterrupt:
        if not stop.requested:
            raise
        raise SweepInterrupted(
            f"stopped by {stop.signal_name}; nothing of this run is left running: run the same "
            "command again to resume", exit_code=stop.exit_code) from None
    finally:
        _ACTIVE.remove(stop)
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def user_code() -> Iterator[None]:
    """Within the block (a task's own code), a stop signal raises :class:`KeyboardInterrupt`
    at once, as does entering it after a stop was requested: the stop guard then ends the run
    within a moment, whatever the code is doing (a loop, a sleep, a blocking read)."""
    stop = _ACTIVE[-1] if _ACTIVE else None
    if stop is None:
        yield
        return
    if stop.requested:
        raise KeyboardInterrupt
    stop.urgent += 1
    try:
        yield
    finally:
        stop.urgent -= 1


def wait_until(stop: StopRequest, deadline: float) -> None:
    """Sleep until ``deadline`` (``time.monotonic``) or a stop request."""
    stop.sleep(max(0.0, deadline - time.monotonic()))


def die_with(parent: int) -> None:
    """In a child process: ask for SIGTERM when ``parent`` dies (Linux's PR_SET_PDEATHSIG), so
    a parent killed outright (SIGKILL) leaves no orphan; if it is already gone, stop now."""
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        raise SystemExit(143)
