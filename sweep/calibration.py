"""How well a classifier's predicted probabilities are calibrated: the figures a cell records
under standard inference and under MC dropout (the mean of T stochastic passes' probabilities).

Conventions (each also what the documentation states):

- A sigmoid output (rows, 1) is read as two classes, ``(1 - p, p)``; a softmax output as it is.
  Labels are class indices (for a sigmoid output, 0 or 1).
- ``nll``: the mean over rows of ``-log p(true class)``, each probability clipped to
  ``[1e-7, 1 - 1e-7]`` as Keras' cross-entropy clips it. Under MC dropout ``p`` is the mean of
  the passes' probabilities (Gal's MC NLL: the log of the mean, not the mean of the logs).
- ``brier``: the mean over rows of the squared distance between the probability vector and the
  one-hot label (a sum over the classes).
- ``ece``: top-label expected calibration error over :data:`ECE_BINS` equal-width confidence bins
  ``(i/15, (i+1)/15]``, the confidence being the largest probability and a row correct when its
  class is the true one (ties to the lowest index, as ``argmax``): the sum over bins of the bin's
  share of rows times ``|accuracy - mean confidence|`` (torchmetrics' ``CalibrationError`` with
  ``n_bins=15``, Ovadia et al. 2019).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ECE_BINS = 15
CLIP = 1e-7
"""Keras' ``backend.epsilon()``: probabilities are clipped to ``[CLIP, 1 - CLIP]`` for the NLL."""


def class_probabilities(outputs: np.ndarray) -> np.ndarray:
    """(..., rows, classes) probabilities from a model's outputs: a sigmoid's last axis of one
    becomes two classes ``(1 - p, p)``; more than one is taken as a softmax's."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[-1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=-1)
    return outputs


def _labels(labels: np.ndarray, rows: int) -> np.ndarray:
    out = np.asarray(labels).reshape(-1).astype(np.int64)
    if out.shape[0] != rows:
        raise ValueError(f"{out.shape[0]} labels for {rows} rows of probabilities")
    return out


def nll(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class, (rows, classes) probabilities."""
    p = np.asarray(probabilities, dtype=np.float64)
    true = p[np.arange(p.shape[0]), _labels(labels, p.shape[0])]
    return float(-np.mean(np.log(np.clip(true, CLIP, 1.0 - CLIP))))


def brier(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class Brier score: mean over rows of ``sum_k (p_k - [k = y])^2``."""
    p = np.asarray(probabilities, dtype=np.float64)
    one_hot = np.eye(p.shape[1])[_labels(labels, p.shape[0])]
    return float(np.mean(np.sum((p - one_hot) ** 2, axis=1)))


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin ``(i/bins, (i+1)/bins]``: its rows, their mean confidence and their
    accuracy (0 where a bin is empty)."""

    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        share = self.counts / max(1, int(self.counts.sum()))
        return float(np.sum(share * np.abs(self.accuracy - self.confidence)))


def reliability(probabilities: np.ndarray, labels: np.ndarray,
                bins: int = ECE_BINS) -> Reliability:
    """The reliability diagram's bins of (rows, classes) probabilities."""
    p = np.asarray(probabilities, dtype=np.float64)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == _labels(labels, p.shape[0])).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins).astype(np.float64)
    filled = np.maximum(counts, 1.0)
    return Reliability(counts.astype(np.int64),
                       np.bincount(index, confidence, minlength=bins) / filled,
                       np.bincount(index, correct, minlength=bins) / filled)


def ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error over ``bins`` equal-width confidence bins."""
    return reliability(probabilities, labels, bins).ece


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = np.asarray(probabilities)
    return float(np.mean(p.argmax(axis=1) == _labels(labels, p.shape[0])))


def mc_probabilities(passes: np.ndarray) -> np.ndarray:
    """(rows, classes): the mean over the first axis of T passes' (T, rows, classes)
    probabilities; passes that are all the same (a model without dropout) give that pass
    exactly (a floating-point mean of equal values need not be the value)."""
    passes = np.asarray(passes, dtype=np.float64)
    if np.all(passes == passes[:1]):
        return passes[0].copy()
    return passes.mean(axis=0)


def figures(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, nll, brier and ece of (rows, classes) probabilities."""
    return {"accuracy": accuracy(probabilities, labels), "nll": nll(probabilities, labels),
            "brier": brier(probabilities, labels), "ece": ece(probabilities, labels)}


CLASSIFIER_LOSSES = frozenset({"binary_crossentropy", "categorical_crossentropy",
                               "sparse_categorical_crossentropy"})
PROBABILITY_OUTPUTS = frozenset({"sigmoid", "softmax"})


def is_classifier(loss: str, activation: str | None, from_logits: bool = False) -> bool:
    """Whether a model's outputs are class probabilities these figures apply to: a
    cross-entropy loss after a sigmoid or softmax output (not from logits)."""
    return loss in CLASSIFIER_LOSSES and activation in PROBABILITY_OUTPUTS and not from_logits


def model_kind(model: Any) -> str | None:
    """A compiled Keras model's kind: ``classifier`` (a cross-entropy loss after a sigmoid or
    softmax output layer, not from logits), ``regression`` (a regression loss after a linear
    output, :func:`sweep.predictive.is_regression`), else None."""
    from .predictive import is_regression

    loss = model.loss
    name = loss if isinstance(loss, str) else str(getattr(loss, "name", ""))
    activation = model.layers[-1].get_config().get("activation") if model.layers else None
    if is_classifier(name, activation, bool(getattr(loss, "from_logits", False))):
        return "classifier"
    return "regression" if is_regression(name, activation) else None


def class_labels(labels: np.ndarray, classes: int) -> np.ndarray:
    """Class indices of a task's labels: one-hot rows of ``classes`` (> 1) columns by their
    argmax, anything else (a sigmoid's 0/1 labels, sparse indices) as whole numbers."""
    labels = np.asarray(labels)
    if classes > 1 and labels.ndim >= 2 and labels.shape[-1] == classes:
        return labels.reshape(-1, classes).argmax(axis=1)
    return labels.reshape(-1).astype(np.int64)


def cell_figures(outputs: np.ndarray, mc_outputs: np.ndarray | None,
                 labels: np.ndarray) -> dict[str, float]:
    """What a classification cell records on its compared split: :func:`figures` of the
    model's ``outputs`` (rows, outputs) under standard inference, and, when ``mc_outputs`` (the
    mean of the MC passes' outputs, :func:`mc_probabilities`) is given, the same figures
    prefixed ``mc_``."""
    standard = class_probabilities(outputs)
    classes = class_labels(labels, standard.shape[1])
    found = figures(standard, classes)
    if mc_outputs is not None:
        mc = figures(class_probabilities(mc_outputs), classes)
        found.update({f"mc_{name}": value for name, value in mc.items()})
    return found


def cell_bins(outputs: np.ndarray, mc_outputs: np.ndarray | None,
              labels: np.ndarray) -> dict[str, list[list[float]]]:
    """The reliability diagram's bins a classification cell records beside
    :func:`cell_figures`: ``reliability`` (standard inference) and, with ``mc_outputs``,
    ``mc_reliability``; per bin ``[rows, mean confidence, accuracy]`` (6 digits)."""
    standard = class_probabilities(outputs)
    classes = class_labels(labels, standard.shape[1])
    found = {"reliability": _bins(reliability(standard, classes))}
    if mc_outputs is not None:
        found["mc_reliability"] = _bins(reliability(class_probabilities(mc_outputs), classes))
    return found


def _bins(found: Reliability) -> list[list[float]]:
    return [[int(n), round(float(c), 6), round(float(a), 6)]
            for n, c, a in zip(found.counts, found.confidence, found.accuracy, strict=True)]


def pooled(bins: list[list[list[float]]]) -> Reliability:
    """Cells' reliability bins (:func:`cell_bins`) as one diagram: rows summed, confidence
    and accuracy averaged over all the cells' rows in each bin."""
    array = np.asarray(bins, dtype=np.float64)  # (cells, bins, 3)
    counts = array[..., 0].sum(axis=0)
    filled = np.maximum(counts, 1.0)
    return Reliability(counts.astype(np.int64),
                       (array[..., 0] * array[..., 1]).sum(axis=0) / filled,
                       (array[..., 0] * array[..., 2]).sum(axis=0) / filled)
