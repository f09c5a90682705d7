"""What a chain population's members record beyond their task metric: a classifier's
calibration figures and reliability bins (:mod:`sweep.calibration`), a regression's predictive
figures (:mod:`sweep.predictive`), from one run of :mod:`._chain_mc`'s program per split."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..calibration import cell_bins, cell_figures, is_classifier
from ..predictive import is_regression, regression_figures, residual_variance
from ..tasks import Dataset
from ._chain_shape import Shape

if TYPE_CHECKING:
    from ._chain_graph import ChainTraining

Figures = tuple[dict[str, float], dict[str, float], dict[str, list[list[float]]]]
"""A member's figures on the compared split, on test beside validation, and its bins."""


def output_kind(shape: Shape) -> str | None:
    """``classifier`` (a cross-entropy after a sigmoid or softmax output), ``regression`` (a
    regression loss after a linear output), else None."""
    activation = getattr(shape.specs[-1], "activation", None)
    if is_classifier(shape.loss, activation):
        return "classifier"
    return "regression" if is_regression(shape.loss, activation) else None


def member_figures(training: ChainTraining, shape: Shape, data: Dataset, passes: int,
                   members: int) -> list[Figures]:
    """Each real member's figures (MC dropout's from ``passes`` passes, none when 0); empty
    dicts for a model that is neither kind."""
    kind = output_kind(shape)
    if kind is None:
        return [({}, {}, {}) for _ in range(members)]
    residual = [0.0] * members
    if kind == "regression":
        fitted = training.mc_outputs(data.train_x, 0)[0]
        residual = [residual_variance(fitted[k], data.train_y) for k in range(members)]

    def on(x: np.ndarray, y: np.ndarray, bins: bool) -> list[tuple[dict[str, float], Any]]:
        standard, mean, variance = training.mc_outputs(x, passes)
        found = []
        for k in range(members):
            mc = mean[k] if passes else None
            if kind == "classifier":
                found.append((cell_figures(standard[k], mc, y),
                              cell_bins(standard[k], mc, y) if bins else {}))
            else:
                found.append((regression_figures(standard[k], mc, variance[k] if passes
                                                 else None, y, residual[k]), {}))
        return found

    compared = on(*data.compared, True)
    tested = ([({}, {})] * members if data.compared_on == "test"
              else on(data.test_x, data.test_y, False))
    return [(c[0], t[0], c[1]) for c, t in zip(compared, tested, strict=True)]
