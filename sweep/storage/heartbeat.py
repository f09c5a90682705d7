"""Heartbeats for claimed trials while they train, as a context manager.

A background thread records one heartbeat for all of a batch's trials every ``interval``
seconds; with heartbeats off (or nothing claimed) it does nothing. A worker that dies stops
beating, and ``optuna.storages.fail_stale_trials`` fails its trials after the grace period.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .queue import Claim, beat

if TYPE_CHECKING:
    from .study import SweepStudy


@contextmanager
def heartbeat(sweep_study: SweepStudy, claims: Sequence[Claim], interval: float) -> Iterator[None]:
    """Record a heartbeat for the claimed trials every ``interval`` seconds while training."""
    if not sweep_study.heartbeat_enabled or not claims:
        yield
        return
    storage = sweep_study.storage
    ids = [claim.trial_id for claim in claims]
    stop = threading.Event()

    def pulse() -> None:
        while not stop.wait(interval):
            try:
                beat(storage, ids)
            except Exception:  # noqa: BLE001 - a missed beat is retried next interval
                continue

    thread = threading.Thread(target=pulse, name="sweep-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
