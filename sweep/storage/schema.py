"""What a sweep trial holds: the one declaration used by the writer, the readers and the
synthetic studies of tests and previews.

A trial is a cell. Its params are ``rate``, ``placement``, ``seed`` and ``max_norm`` (absent:
no constraint), with :func:`distributions`; a WAITING trial holds them as Optuna's
:data:`FIXED_PARAMS` system attr instead, deleted when a worker claims the trial and sets the
params. A completed trial (:func:`completion`) has the compared metric as its value (the
task's metric on test, or on validation when the task has a validation split; the study's
objective, :class:`sweep.objective.Objective`, is in its settings), a coarse curve of it as its
intermediate values (:func:`sweep.storage.curves.dashboard_curve`, for optuna-dashboard) and
:func:`result_attrs` as user attrs (``train_<metric>``, losses; ``test_<metric>`` beside a
validation value), plus :data:`WORKER_ATTR`
(``host:pid``, set at the claim). A failed one may hold :data:`FAIL_REASON_ATTR`, a trial
failed because another trial holds its cell :data:`DUPLICATE_ATTR`.

Facts shared by a study's trials are study user attrs, written once: :data:`SETTINGS_ATTR`
(the fixed settings), :data:`HEARTBEAT_ATTR` (the longest heartbeat interval used) and
:data:`ENGINES_ATTR` (each engine, with the library versions, that trained trials: a trial
names its entry by ``engine_id``; :func:`trial_engine` reads it); :data:`CONFIRM_ATTR` is set
by every run (its ``--confirm``).

Trials written by earlier versions of sweep also hold ``cell`` (the cell key), ``engine`` and
``versions`` user attrs and keep :data:`FIXED_PARAMS`; they are read the same way.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from ..grid import BASELINE_PLACEMENT, Cell
from .curves import DASHBOARD_POINTS, dashboard_curve

if TYPE_CHECKING:
    from ..engines import CellResult
    from ..tasks import Task

FIXED_PARAMS = "fixed_params"
WORKER_ATTR = "worker"
FAIL_REASON_ATTR = "fail_reason"
DUPLICATE_ATTR = "duplicate_of"
ENGINE_ID_ATTR = "engine_id"
SETTINGS_ATTR = "sweep_settings"
HEARTBEAT_ATTR = "sweep_heartbeat_seconds"
ENGINES_ATTR = "sweep_engines"
CONFIRM_ATTR = "sweep_confirm"
"""Fresh seeds the study's confirmation retrains (the latest run's ``--confirm``; 0 or absent:
none): any worker that finds the sweep done enqueues them."""
MC_PASSES_KEY = "mc_passes"
"""The fixed setting of the MC dropout passes per cell; studies from before sweep recorded MC
dropout lack it and record none (0)."""
DEFAULT_HEARTBEAT_SECONDS = 10.0
MAX_NORM_HIGH = 1000.0
FAIL_REASON_CHARS = 500


def distributions(task: Task) -> dict[str, Any]:
    """Optuna distributions of the params (wide enough for every cell a config allows)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    return {
        "rate": FloatDistribution(0.0, 1.0),
        "placement": CategoricalDistribution((BASELINE_PLACEMENT, *task.placements)),
        "max_norm": FloatDistribution(0.0, MAX_NORM_HIGH),
        "seed": IntDistribution(0, 2**31 - 1),
    }


def cell_params(cell: Cell) -> dict[str, Any]:
    """Trial params of a cell; ``max_norm`` is absent when the cell has no constraint."""
    params: dict[str, Any] = {"rate": cell.rate, "placement": cell.placement, "seed": cell.seed}
    if cell.max_norm is not None:
        params["max_norm"] = cell.max_norm
    return params


def stored_params(cell: Cell, dists: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    """A cell's params as Optuna stores them: name -> (internal value, distribution JSON)."""
    from optuna.distributions import distribution_to_json

    return {name: (dists[name].to_internal_repr(value), distribution_to_json(dists[name]))
            for name, value in cell_params(cell).items()}


def cell_from_params(params: Mapping[str, Any]) -> Cell | None:
    """The cell of a trial's params (or fixed params); None if they are not a sweep's."""
    try:
        return Cell(
            rate=float(params["rate"]),
            placement=str(params["placement"]),
            max_norm=None if params.get("max_norm") is None else float(params["max_norm"]),
            seed=int(params["seed"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def worker_id(pid: int | None = None) -> str:
    """``host:pid`` of this process (or of process ``pid`` on this host): the
    :data:`WORKER_ATTR` of the trials it claims."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def result_attrs(result: CellResult, engine_id: int = 0) -> dict[str, Any]:
    """A completed trial's user attrs: ``train_<metric>``, ``train_loss``, ``test_loss``,
    ``fit_seconds``; with a validation split also ``test_<metric>`` and ``validation_loss``;
    a classifier's calibration figures (:func:`sweep.calibration.cell_figures`) or a
    regression's predictive figures (:func:`sweep.predictive.regression_figures`) as
    ``<split>_<figure>`` and ``<split>_mc_<figure>`` on the compared split (and on test beside
    validation), and a classifier's reliability bins on the compared split
    (``test_reliability``, ``test_mc_reliability``).
    ``engine_id``: the position of the engine (and library
    versions) that trained it in the study's :data:`ENGINES_ATTR` list; stored only when not
    the first, so a study trained by one engine stores none per trial."""
    attrs: dict[str, Any] = {
        f"train_{result.metric}": result.train_metric,
        "train_loss": result.train_loss,
        "test_loss": result.test_loss,
        "fit_seconds": round(result.fit_seconds, 4),
    }
    if result.validation_metric is not None:
        attrs[f"test_{result.metric}"] = result.test_metric
        attrs["validation_loss"] = result.validation_loss
    figures = {**{f"{result.compared_on}_{name}": value
                  for name, value in {**result.calibration, **result.reliability}.items()},
               **{f"test_{name}": value for name, value in result.test_calibration.items()}}
    for name, value in figures.items():  # the task metric's own test_<metric> stays as it is
        attrs.setdefault(name, value)
    if engine_id:
        attrs[ENGINE_ID_ATTR] = engine_id
    return attrs


@dataclass(frozen=True)
class Completion:
    """Everything Optuna's ``tell`` and friends would write for one finished trial."""

    trial_id: int
    value: float
    intermediate: list[tuple[int, float]]
    user_attrs: Mapping[str, Any]


def completion(trial_id: int, result: CellResult, engine_id: int,
               dashboard_points: int = DASHBOARD_POINTS) -> Completion:
    """What the trial ``trial_id`` holds once ``result`` is recorded (its curves aside:
    :mod:`sweep.storage.curves`)."""
    return Completion(trial_id, result.value,
                      dashboard_curve(result.curves, dashboard_points),
                      result_attrs(result, engine_id))


@dataclass
class StoredTrial:
    """A trial as read back, by either read path: Optuna's state name (``COMPLETE``,
    ``RUNNING``, ``WAITING``, ``FAIL``, ``PRUNED``), params in their external form, the
    :data:`FIXED_PARAMS` of a waiting trial, user attrs and the value (None unless complete)."""

    trial_id: int
    number: int
    state: str
    params: dict[str, Any] = field(default_factory=dict)
    fixed_params: dict[str, Any] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    value: float | None = None


def engine_entry(engine: str) -> dict[str, str]:
    """An entry of the study's :data:`ENGINES_ATTR`: the engine and the library versions."""
    return {"engine": engine, **library_versions()}


def trial_engine(
    user_attrs: Mapping[str, Any], study_attrs: Mapping[str, Any]
) -> dict[str, str] | None:
    """The engine and library versions that trained a completed trial (``{"engine":
    "population", "sweep": ..., "tensorflow": ..., "keras": ..., "optuna": ...}``), from its
    user attrs and its study's; None if not recorded."""
    if isinstance(user_attrs.get("engine"), str):  # written by an earlier version of sweep
        return {"engine": user_attrs["engine"], **user_attrs.get("versions", {})}
    engines = study_attrs.get(ENGINES_ATTR, [])
    engine_id = user_attrs.get(ENGINE_ID_ATTR, 0)
    return dict(engines[engine_id]) if engine_id < len(engines) else None


@cache
def library_versions() -> dict[str, str]:
    """The library versions results depend on: the imported module's ``__version__`` (a
    worker has imported them all; ``sweep`` is imported by now), else the installed
    distribution's (nothing is imported: synthetic studies and tests need no TensorFlow)."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    def installed(module: str, *distributions: str) -> str:
        imported = getattr(sys.modules.get(module), "__version__", None)
        if isinstance(imported, str):
            return imported
        for distribution in distributions:
            try:
                return version(distribution)
            except PackageNotFoundError:
                continue
        return "unknown"

    return {
        "sweep": installed("sweep", "sweep"),
        "tensorflow": installed("tensorflow", "tensorflow", "tensorflow-cpu", "tf-nightly"),
        "keras": installed("keras", "keras"),
        "optuna": installed("optuna", "optuna"),
    }
