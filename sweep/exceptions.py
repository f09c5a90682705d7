"""Every error a user of `sweep` can cause, in one place.

The CLI turns a :class:`SweepError` into one line on stderr and an exit code: 2 for usage and
configuration errors (:class:`UsageError` and its kinds), 1 for runtime failures.
"""

from __future__ import annotations


class SweepError(Exception):
    """Base class: the message says what was wrong and how to fix it."""

    exit_code = 1


class UsageError(SweepError):
    """The command line, config file or study settings are wrong; nothing was run."""

    exit_code = 2


class ConfigError(UsageError):
    """A sweep setting is invalid (bad rate, unknown placement, unknown TOML key ...)."""


class StorageError(UsageError):
    """The storage URL is malformed, unsupported, or points at something that is not a study DB."""


class OptunaCompatibilityError(StorageError):
    """The installed Optuna, or the study database's Optuna tables, are not what sweep writes
    through (it writes Optuna's tables directly); nothing was written."""


class TaskError(UsageError):
    """A user's task cannot be used: its file or module fails to import, or its ``load_data``
    or its ``build_model`` (for the first cell) raises, or its ``TASK`` breaks the contract.
    The message names the user's file and line; nothing was written."""


class IncompatibleStudyError(UsageError):
    """The study exists with different fixed settings (task, epochs, batch size, optimizer)."""


class StudyNotFoundError(UsageError):
    """The named study does not exist in the storage."""


class StorageUnavailableError(SweepError):
    """The storage could not be reached or written (server down, wrong credentials, read-only)."""


class EngineError(SweepError):
    """The training engine cannot run here (e.g. Keras is on a backend other than TensorFlow)."""


class NotStackableError(EngineError):
    """The population engine cannot stack a model: :attr:`reason` names the first thing it
    cannot stack (a layer, optimizer, loss, metric) and why; the message adds :attr:`fix`, how
    to train the model anyway (the Keras engine trains any model)."""

    def __init__(self, reason: str, fix: str = "train it with --engine keras") -> None:
        super().__init__(f"{reason}; {fix}")
        self.reason = reason
        self.fix = fix


class SweepInterrupted(SweepError):
    """The run was stopped by a signal; running cells were marked failed and will be redone.

    The exit code is 128 + the signal's number: 130 for SIGINT (Ctrl-C), 143 for SIGTERM.
    """

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class WorkerStartError(SweepError):
    """A worker process could not be started (e.g. the system refused to fork)."""


class WorkerFailedError(SweepError):
    """A worker process of ``run --workers N`` crashed or was killed."""


class EmptyStudyError(SweepError):
    """The study has no completed cells yet, so there is nothing to report."""


class DashboardError(SweepError):
    """optuna-dashboard cannot be started (not installed, or the port is taken)."""


class ReportWriteError(SweepError):
    """An output file (the HTML report, ``summary --out``) cannot be written where asked
    (read-only, disk full)."""


class OutputPathError(UsageError):
    """``--out`` names what sweep will not replace: a directory, a device, a FIFO, a socket,
    a database (the study's own among them); nothing was written."""


class ReportConflictError(UsageError):
    """The default report path holds another study's or storage's report; use --out."""


class ExportFormatError(UsageError):
    """``sweep summary --format`` names no export format (table, csv or json)."""


class UserCodeExit(Exception):  # noqa: N818 - it carries the user's exit, not an error of ours
    """A task's own code called ``sys.exit()`` or raised another :class:`BaseException` that is
    not an :class:`Exception`: carried as an ordinary error (its cause), so that it stops the
    run with one line (or fails the one cell) instead of ending the process silently."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(exit_words(error))


def exit_words(error: BaseException) -> str:
    """What a user's BaseException did, in words: ``it called sys.exit(3)``."""
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r}), which would end sweep itself"
    return (f"it raised {type(error).__name__}, a BaseException that is not an Exception, "
            "which would end sweep itself")


class FailedCellError(Exception):
    """One cell failed to train: recorded as a FAIL trial, the sweep goes on (retried next run)."""
