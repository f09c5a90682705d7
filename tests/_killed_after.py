"""``python -m tests._killed_after N ARGS``: ``python -m sweep ARGS`` that SIGKILLs itself as
soon as it has recorded more than N cells (the transaction that crosses N is committed), so a
test can kill a run at a known point whatever the machine's load."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from sweep.cli import main
from sweep.storage.study import SweepStudy


def killed_after(limit: int, args: Sequence[str]) -> int:
    record = SweepStudy.record
    recorded = 0

    def record_then_maybe_die(self: SweepStudy, *a: Any, **k: Any) -> int:
        nonlocal recorded
        count = record(self, *a, **k)
        recorded += count
        if recorded > limit:
            os.kill(os.getpid(), signal.SIGKILL)
        return count

    SweepStudy.record = record_then_maybe_die  # type: ignore[method-assign]
    return main(list(args))


if __name__ == "__main__":
    sys.exit(killed_after(int(sys.argv[1]), sys.argv[2:]))
