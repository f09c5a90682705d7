"""One ``sweep run`` resolves its task once, replays its race once and summarizes once.

Each of these is work that grows with the study (a user's task file read and imported; every
look of a race replayed; every group's statistics), and each was done again by every layer that
needed the result: the config's settings, the estimate, the study, the closing lines, the
report. The run now computes each once, after its last trial, and hands it on. Counted with
wrappers around the one function each goes through: ``sweep.tasks.load_task`` (what
``get_task`` resolves with), ``sweep.rounds.replay`` and ``sweep.report.summary.summarize``.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sweep.report.summary
import sweep.rounds
import sweep.tasks
from sweep.config import SweepConfig
from sweep.storage.study import SweepStudy

from .conftest import cli_in_process

TINY = ("--rates", "0,0.4", "--placements", "hidden", "--max-norms", "none", "--epochs", "3",
        "--engine", "population", "--no-progress")


class Calls:
    """How often each counted function ran: over the whole run, and since the last trial was
    recorded (what the run computes once it has trained its last cell)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.total: Counter[str] = Counter()
        self.after_last_trial: Counter[str] = Counter()
        for name, module, attribute in (("resolve", sweep.tasks, "load_task"),
                                        ("replay", sweep.rounds, "replay"),
                                        ("summarize", sweep.report.summary, "summarize")):
            monkeypatch.setattr(module, attribute, self._counted(name, getattr(module, attribute)))
        record = SweepStudy.record

        def recording(study: SweepStudy, *args: Any, **kwargs: Any) -> int:
            self.after_last_trial.clear()
            return record(study, *args, **kwargs)

        monkeypatch.setattr(SweepStudy, "record", recording)

    def _counted(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.total[name] += 1
            self.after_last_trial[name] += 1
            return function(*args, **kwargs)

        return counted


def test_a_config_resolves_its_task_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every setting that needs the task, a replaced copy and its checks take the config's
    task object; a pickled config (a launcher's worker) carries none."""
    calls = Calls(monkeypatch)
    config = SweepConfig(study="demo", rates="0,0.4", seeds=2)
    assert calls.total["resolve"] == 1
    copy = config.replace(engine="population", confirm=0)
    assert (copy.resolved_epochs, copy.resolved_batch_size, copy.resolved_engine) == (
        config.resolved_epochs, config.resolved_batch_size, "population")
    assert copy.resolved_task is config.resolved_task
    assert calls.total["resolve"] == 1
    other = config.replace(task="digits-cnn", placements=(), max_norms=())
    assert other.resolved_task.name == "digits-cnn"
    assert calls.total["resolve"] == 2  # a new task is resolved, once
    sent = pickle.loads(pickle.dumps(config))
    assert sent == config and "_task" not in vars(sent)


def test_a_race_run_resolves_replays_and_summarizes_once(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sweep run --seeds auto --confirm 2`` in one process: the task resolved once in all;
    after the last trial, one replay of the race (the loop's, which sees it is over) and one
    summary (the confirmation's check), shared by the closing lines, the race's lines, the
    confirmation's sentence and the report."""
    calls = Calls(monkeypatch)
    result = cli_in_process("run", "--study", "race", *TINY, "--seeds", "auto",
                            "--first-seeds", "2", "--max-seeds", "4", "--confirm", "2",
                            cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Race over seeds" in result.stdout and "report: " in result.stdout
    assert "fresh seeds" in result.stdout
    assert calls.total["resolve"] == 1, calls.total
    assert calls.after_last_trial["replay"] == 1, calls.after_last_trial
    assert calls.after_last_trial["summarize"] == 1, calls.after_last_trial


@pytest.mark.parametrize("confirm", ["0", "2"])
def test_a_fixed_run_resolves_and_summarizes_once(
        confirm: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sweep run`` with a fixed list of seeds: the task resolved once, one summary after the
    last trial for the closing table, the confirmation's sentence and the report, and no race
    to replay."""
    calls = Calls(monkeypatch)
    result = cli_in_process("run", "--study", "fixed", *TINY, "--seeds", "2",
                            "--confirm", confirm, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "report: " in result.stdout
    assert ("fresh seeds" in result.stdout) == (confirm != "0")
    assert calls.total["resolve"] == 1, calls.total
    assert calls.total["replay"] == 0, calls.total
    assert calls.after_last_trial["summarize"] == 1, calls.after_last_trial
