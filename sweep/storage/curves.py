"""Learning curves in a table of sweep's own, next to Optuna's tables in the same database.

Each trial stores at most ``MAX_POINTS`` points per curve (every ``stride``-th epoch plus the last
one), four float32 curves, zlib-compressed: at most 4 x 501 x 4 bytes = 8 KB raw per trial,
whatever the epoch count.

Optuna's intermediate values carry a much coarser test-accuracy curve for optuna-dashboard
(:func:`dashboard_curve`): ``DASHBOARD_POINTS`` epochs, denser early (where a curve rises)
than late, at ``DASHBOARD_DIGITS`` decimals. Few, because optuna-dashboard loads every one of
them as an ORM object: its first load of the default study (1,680 trials) takes about 1.5 s
with no points and 0.08 s more per point (``benchmarks/bench_dashboard.py``); with 50 points,
and every fact stored on every trial, it took 5.8 s.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..engines import Curves

MAX_POINTS = 500
DASHBOARD_POINTS = 5
DASHBOARD_DIGITS = 4

_metadata = sa.MetaData()
curves_table = sa.Table(
    "sweep_curves",
    _metadata,
    sa.Column("trial_id", sa.Integer, primary_key=True),
    sa.Column("epochs", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)


def sample_epochs(epochs: int, points: int) -> np.ndarray:
    """0-based epoch indices: every ``stride``-th epoch and always the last one."""
    stride = max(1, math.ceil(epochs / points))
    return np.unique(np.r_[np.arange(stride - 1, epochs, stride), epochs - 1])


def dashboard_epochs(epochs: int, points: int = DASHBOARD_POINTS) -> np.ndarray:
    """0-based epoch indices at ``epochs * (k / points) ** 2`` rounded up, k = 1..points: the
    last epoch always, fewer points if epochs are few, denser early. 4,000 epochs, 5 points:
    epochs 160, 640, 1440, 2560, 4000 (the tutorial's test accuracy rises until about epoch
    600, then falls as the model overfits)."""
    if points <= 0:
        return np.empty(0, dtype=int)
    k = np.arange(1, points + 1)
    return np.unique(-(-epochs * k**2 // points**2) - 1)  # integer ceil: no rounding error


def dashboard_curve(curves: Curves, points: int = DASHBOARD_POINTS) -> list[tuple[int, float]]:
    """(1-based epoch, compared metric) at :func:`dashboard_epochs`: a trial's intermediate
    values."""
    return [(int(e) + 1, round(float(curves.test_metric[e]), DASHBOARD_DIGITS))
            for e in dashboard_epochs(curves.epochs, points)]


def create_table(engine: sa.engine.Engine) -> None:
    _metadata.create_all(engine, checkfirst=True)


def write_probe(engine: sa.engine.Engine) -> None:
    """Write a row and roll it back: raises if the database is read-only."""
    with engine.connect() as connection, connection.begin() as transaction:
        connection.execute(curves_table.insert(), {"trial_id": -1, "epochs": 0, "data": b""})
        transaction.rollback()


def curve_rows(curves_by_trial: Mapping[int, Curves]) -> list[dict[str, Any]]:
    """Table rows: each trial's curves at ``sample_epochs(epochs, MAX_POINTS)``, compressed."""
    rows = []
    for trial_id, curves in curves_by_trial.items():
        index = sample_epochs(curves.epochs, MAX_POINTS)
        data = zlib.compress(np.ascontiguousarray(curves.stacked()[:, index]).tobytes())
        rows.append({"trial_id": trial_id, "epochs": curves.epochs, "data": data})
    return rows


def load_curves(
    engine: sa.engine.Engine, trial_ids: Iterable[int]
) -> dict[int, tuple[np.ndarray, Curves]]:
    """For each trial id found: (1-based epoch numbers, strided curves)."""
    ids = list(trial_ids)
    result: dict[int, tuple[np.ndarray, Curves]] = {}
    if not ids or not sa.inspect(engine).has_table(curves_table.name):
        return result
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            query = sa.select(curves_table).where(
                curves_table.c.trial_id.in_(ids[start : start + 500])
            )
            for row in connection.execute(query):
                index = sample_epochs(row.epochs, MAX_POINTS)
                array = np.frombuffer(zlib.decompress(row.data), dtype=np.float32)
                result[row.trial_id] = (index + 1, Curves.from_stacked(array.reshape(4, -1)))
    return result
