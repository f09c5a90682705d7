"""Finding a task from its reference: a registered name, a ``.py`` file that defines a
module-level ``TASK``, or ``package.module:attribute``.

A user's task is loaded once per process and version of its file (a file is imported under a
private module name, its folder on ``sys.path`` so it can import its neighbours; a file edited
since is imported again). Any error raised while importing it
becomes one :class:`TaskError` line naming the user's file and line (:func:`user_error`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import importlib
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from .._keras import import_keras
from ..exceptions import ConfigError, TaskError, UserCodeExit, exit_words
from ..files import DIRECTORY, MISSING, REGULAR, what_is
from ..reasons import strip_ansi, unwrap_keras
from ..stopping import user_code
from ._base import Task
from .tabular import is_tabular, load_tabular, tabular_options

_LOADED: dict[str, Task] = {}
_SWEEP_DIR = str(Path(__file__).resolve().parents[1])
_ATTRIBUTE = "TASK"


def is_reference(name: str) -> bool:
    """A file path, ``module:attribute`` or a tabular task's reference, not a registered
    name."""
    return (name.endswith(".py") or "/" in name or os.sep in name or ":" in name
            or is_tabular(name))


def load_task(reference: str, registered: dict[str, Task]) -> Task:
    """The task ``reference`` names (see the module docstring)."""
    if reference in registered:
        return registered[reference]
    if is_tabular(reference):  # read again once the file changed (its fingerprint: its bytes)
        key = f"{reference}|{_file_stat(tabular_options(reference).get('data'))}"
        if key not in _LOADED:
            _LOADED[key] = load_tabular(reference)
        return _LOADED[key]
    if not is_reference(reference):
        close = difflib.get_close_matches(reference, registered, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown task {reference!r}{hint}; choose one of: {', '.join(sorted(registered))}, "
            "or give your own as a .py file defining TASK or as package.module:attribute"
        )
    key = f"{reference}|{source_stamp(reference if reference.endswith('.py') else None)}"
    if key not in _LOADED:  # a file edited since (e.g. from a notebook) is imported again
        import_keras()  # first: a file's own `import keras` gets the TensorFlow backend, quiet
        _LOADED[key] = (_from_file(reference) if reference.endswith(".py")
                        else _from_module(reference))
    return _LOADED[key]


def source_stamp(path: str | None) -> str:
    """A digest of the file's bytes ("" for none, an unreadable file, or anything but a
    regular file: a FIFO would block the read)."""
    if path is None or what_is(path) != REGULAR:
        return ""
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def _file_stat(path: str | None) -> str:
    """A table's size and modification time: a cheap change check on every lookup, where
    hashing a large file each time a task is looked up would not be ("" if unreadable)."""
    try:
        stat = Path(path or "").stat()
    except OSError:
        return ""
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _from_file(reference: str) -> Task:
    path = Path(reference)
    kind = what_is(path)
    if kind in (MISSING, DIRECTORY):
        raise ConfigError(f"task file {reference!r} {kind}; check the path (relative to "
                          f"{os.getcwd()})")
    if kind != REGULAR:
        raise ConfigError(f"task file {reference!r} {kind}, not a regular file; give the "
                          ".py file that defines TASK")
    resolved = path.resolve()
    name = "sweep_user_task_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"task file {reference!r} cannot be imported as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        with user_code():
            spec.loader.exec_module(module)
    except KeyboardInterrupt:
        sys.modules.pop(name, None)
        raise
    except BaseException as error:  # noqa: BLE001 - any error in user code is the user's,
        sys.modules.pop(name, None)  # sys.exit() at import among them
        raise user_error(f"task file {reference!r} fails to import", error) from error
    return _task_of(module, _ATTRIBUTE, reference, str(resolved))


def _from_module(reference: str) -> Task:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise ConfigError(
            f"task {reference!r} is not package.module:attribute (e.g. mypackage.tasks:TASK)"
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with user_code():
            module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise ConfigError(
                f"task {reference!r}: no module named {error.name!r}; install it or run from "
                "the folder that holds it"
            ) from error
        raise user_error(f"task module {module_name!r} fails to import", error) from error
    except BaseException as error:  # noqa: BLE001 - any error in user code is the user's
        raise user_error(f"task module {module_name!r} fails to import", error) from error
    source = getattr(module, "__file__", None)
    return _task_of(module, attribute, reference, None if source is None else str(source))


def _task_of(module: Any, attribute: str, reference: str, source_file: str | None) -> Task:
    task = getattr(module, attribute, None)
    if task is None:
        raise ConfigError(
            f"task {reference!r} defines no {attribute}; add {attribute} = sweep.Task(...) at "
            "module level"
        )
    if not isinstance(task, Task):
        raise ConfigError(
            f"task {reference!r}: {attribute} is a {type(task).__name__}, not a sweep.Task; "
            f"set {attribute} = sweep.Task(name=..., placements=..., load_data=..., "
            "build_model=...)"
        )
    # loaded once per process: the fingerprint, the first cell's check and every cell's fit
    # share it, whether or not the user's load_data caches itself
    return dataclasses.replace(task, load_data=functools.cache(guarded(task.load_data)),
                               build_model=guarded(task.build_model), origin=reference,
                               source_file=source_file)


def guarded(function: Any) -> Any:
    """A user's function as sweep calls it: a stop signal interrupts it at once
    (:func:`~sweep.stopping.user_code`), and a ``sys.exit()`` or another non-``Exception``
    :class:`BaseException` it raises becomes :class:`UserCodeExit`, an ordinary error."""
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        with user_code():
            try:
                return function(*args, **kwargs)
            except (Exception, KeyboardInterrupt):
                raise
            except BaseException as error:  # noqa: BLE001 - sys.exit() in the user's code
                raise UserCodeExit(error) from error

    return call


def user_error(doing: str, error: BaseException) -> TaskError:
    """One line: what failed, the exception, and the user's file and line where it was raised
    (the innermost frame outside sweep and the installed libraries)."""
    if isinstance(error, UserCodeExit) and error.__cause__ is not None:
        error = error.__cause__
    where = _user_frame(error)
    if not isinstance(error, Exception):  # sys.exit() or another BaseException
        return TaskError(f"{doing}: {exit_words(error)} ({where}); return, or raise an "
                         "exception, instead")
    kind = type(error).__name__
    said = unwrap_keras(strip_ansi(str(error))).strip()
    message = said.splitlines()[0] if said else ""
    text = f"{kind}: {message}" if message else kind
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{error.filename}:{error.lineno}"
        text = f"SyntaxError: {error.msg}"
    return TaskError(f"{doing}: {text} ({where}); fix it and run again")


def _user_frame(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    library = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
    ours = [f for f in frames if not f.filename.startswith(_SWEEP_DIR)
            and not f.filename.startswith(library) and not f.filename.startswith("<frozen")]
    if not (ours or frames):
        return "no traceback"
    frame = (ours or frames)[-1]
    return f"{frame.filename}:{frame.lineno}, in {frame.name}"


def fingerprint(task: Task, shapes: dict[str, Any]) -> str:
    """A user task's identity: its source file's bytes and its data's shapes and dtypes."""
    digest = hashlib.sha256()
    if task.source_file is not None:
        try:
            digest.update(Path(task.source_file).read_bytes())
        except OSError as e:
            raise ConfigError(f"task {task.reference_name!r}: cannot read its source "
                              f"{task.source_file!r}: {e.strerror}") from e
    digest.update(repr(sorted(shapes.items())).encode())
    return digest.hexdigest()[:16]
