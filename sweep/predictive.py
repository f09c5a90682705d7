"""A regression model's predictive distribution under MC dropout: the figures a regression cell
records beside its task metric (the classifiers' are :mod:`sweep.calibration`).

Per target value (every row and output), with ``y`` the target, ``f`` the model's output with
dropout off, ``m`` and ``s2`` the mean and the (population) variance of the T passes with
dropout on, and ``r2`` the training residual variance, the mean over the training rows and
outputs of ``(y - f)^2`` under standard inference (Gal and Ghahramani's observation noise
``tau^-1``, estimated from the fit rather than set by hand):

- ``gaussian_nll``: ``0.5 log(2 pi v) + (y - f)^2 / (2 v)`` with ``v = r2``, standard inference;
- ``mc_mse``, ``mc_mae``: ``(y - m)^2`` and ``|y - m|``;
- ``mc_gaussian_nll``: as ``gaussian_nll`` with ``m`` for ``f`` and ``v = s2 + r2``;

each averaged over the split's values; ``v`` is floored at :data:`VARIANCE_FLOOR` (a training
fit without residuals would make it 0). A model without dropout has ``s2 = 0`` and ``m = f``:
identical figures both ways. The task's own metric and loss (MSE, MAE) under standard inference
are recorded as they always were.
"""

from __future__ import annotations

import math

import numpy as np

REGRESSION_LOSSES = frozenset({"mse", "mean_squared_error", "mae", "mean_absolute_error",
                               "huber", "huber_loss", "log_cosh", "logcosh"})
LINEAR_OUTPUTS = frozenset({None, "linear"})
VARIANCE_FLOOR = 1e-6
"""The least variance the Gaussian NLL uses (in squared target units)."""


def is_regression(loss: str, activation: str | None) -> bool:
    """A regression loss after a linear output: the figures here apply."""
    return loss in REGRESSION_LOSSES and activation in LINEAR_OUTPUTS


def residual_variance(outputs: np.ndarray, targets: np.ndarray) -> float:
    """``r2``: the mean squared training residual under standard inference."""
    f = np.asarray(outputs, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(f.shape)
    return float(np.mean((y - f) ** 2))


def gaussian_nll(mean: np.ndarray, variance: np.ndarray | float, targets: np.ndarray) -> float:
    """The mean Gaussian negative log-likelihood of ``targets`` (variance floored)."""
    m = np.asarray(mean, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(m.shape)
    v = np.maximum(np.asarray(variance, dtype=np.float64), VARIANCE_FLOOR)
    return float(np.mean(0.5 * np.log(2.0 * math.pi * v) + (y - m) ** 2 / (2.0 * v)))


def regression_figures(outputs: np.ndarray, mc_mean: np.ndarray | None,
                       mc_variance: np.ndarray | None, targets: np.ndarray,
                       residual: float) -> dict[str, float]:
    """``gaussian_nll`` and, with the passes' mean and variance, ``mc_mse``, ``mc_mae`` and
    ``mc_gaussian_nll`` of one cell's (rows, outputs) outputs."""
    found = {"gaussian_nll": gaussian_nll(outputs, residual, targets)}
    if mc_mean is None or mc_variance is None:
        return found
    m = np.asarray(mc_mean, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(m.shape)
    found.update({"mc_mse": float(np.mean((y - m) ** 2)), "mc_mae": float(np.mean(np.abs(y - m))),
                  "mc_gaussian_nll": gaussian_nll(
                      m, np.asarray(mc_variance, dtype=np.float64) + residual, y)})
    return found
