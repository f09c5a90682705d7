"""Sweep studies in Optuna storages: opening them, the cell queue, reading trials back.

``open_study`` returns the :class:`SweepStudy` that the CLI, workers, reports and tests use.
The modules, in the order data flows through them: ``url`` (storage URLs), ``sqlite`` and
``opening`` (opening a storage for an :data:`Access`), ``schema`` (what a trial holds),
``queue`` (enqueue, claim, heartbeat, complete), ``heartbeat``, ``records`` (trials -> cells),
``curves`` (learning curves), ``study``; ``synthetic`` builds made-up studies for tests and
previews; ``_optuna`` holds every use of Optuna's private internals.
"""

from __future__ import annotations

from .curves import load_curves
from .heartbeat import heartbeat
from .opening import Access
from .queue import Claim
from .records import COMPLETE, FAILED, PENDING, RUNNING, TrialRecord, cell_states, completed
from .study import SweepStudy, open_study
from .url import safe_url

__all__ = [
    "COMPLETE", "FAILED", "PENDING", "RUNNING", "Access", "Claim", "SweepStudy", "TrialRecord",
    "cell_states", "completed", "heartbeat", "load_curves", "open_study", "safe_url",
]
