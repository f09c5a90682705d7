"""Stop requests: SIGINT and SIGTERM set a flag that the work loop and the engines poll.

A Python signal handler runs between bytecodes of the main thread. Raising from it while
TensorFlow runs an op can surface later as an unrelated TensorFlow error (e.g. "Exiting device
scope without proper scope nesting"), which would be taken for a failed cell. So the first
signal only records a stop request; the worker finishes the bounded chunk of compiled work it
is in (about a second), marks its unfinished cells failed as interrupted and exits with
128 + the signal number (130 for SIGINT, 143 for SIGTERM). A second signal, for a user who
will not wait, raises :class:`KeyboardInterrupt` at once.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Whether (and by which signal) this process was asked to stop."""

    def __init__(self) -> None:
        self.signal: int | None = None
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
        if stop.requested:
            raise KeyboardInterrupt
        stop.request(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


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
