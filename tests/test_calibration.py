"""The calibration figures (``sweep/calibration.py``) against plain NumPy written row by row and
bin by bin, on random probabilities with the sigmoid and softmax conventions, and the MC mean."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sweep import calibration


def _random(rows: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (rows, classes))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return p, rng.integers(0, classes, rows)


def _plain(p: np.ndarray, y: np.ndarray, bins: int = 15) -> dict[str, float]:
    """Row by row and bin by bin: NLL, Brier, accuracy and ECE with bins (i/15, (i+1)/15]."""
    nll = brier = correct = 0.0
    in_bin: list[list[tuple[float, float]]] = [[] for _ in range(bins)]
    for row, label in zip(p, y, strict=True):
        nll -= math.log(min(max(row[label], 1e-7), 1 - 1e-7))
        brier += sum((row[k] - (k == label)) ** 2 for k in range(len(row)))
        best = int(np.argmax(row))
        correct += best == label
        confidence = float(row[best])
        index = next(i for i in range(bins) if confidence <= (i + 1) / bins)
        in_bin[index].append((confidence, float(best == label)))
    ece = sum(len(b) / len(y) * abs(sum(c for _, c in b) / len(b) - sum(f for f, _ in b) / len(b))
              for b in in_bin if b)
    return {"accuracy": correct / len(y), "nll": nll / len(y), "brier": brier / len(y),
            "ece": ece}


@pytest.mark.parametrize(("rows", "classes", "seed"), [(70, 2, 0), (500, 10, 1), (37, 3, 2)])
def test_figures_match_plain_numpy(rows: int, classes: int, seed: int) -> None:
    p, y = _random(rows, classes, seed)
    assert calibration.figures(p, y) == pytest.approx(_plain(p, y), rel=1e-12, abs=1e-12)


def test_a_sigmoid_output_is_two_classes() -> None:
    rng = np.random.default_rng(3)
    sigmoid = rng.uniform(0, 1, (70, 1))
    y = rng.integers(0, 2, 70)
    two = calibration.class_probabilities(sigmoid)
    assert two.shape == (70, 2)
    np.testing.assert_array_equal(two[:, 1], sigmoid[:, 0])
    np.testing.assert_allclose(two.sum(axis=1), 1.0)
    assert calibration.figures(two, y) == pytest.approx(_plain(two, y), rel=1e-12, abs=1e-12)
    # the binary Brier score over two classes is twice the squared error of p
    assert calibration.brier(two, y) == pytest.approx(2 * np.mean((sigmoid[:, 0] - y) ** 2))


def test_hand_worked_ece_and_nll() -> None:
    """Four rows: confidences 0.9 (right), 0.9 (wrong), 0.58 (right), 0.55 (right). Bin
    (13/15, 14/15] holds the two 0.9s: accuracy 0.5 against 0.9; (8/15, 9/15] holds 0.58 and
    0.55: accuracy 1 against 0.565. ECE = 0.5 * 0.4 + 0.5 * 0.435."""
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.42, 0.58], [0.55, 0.45]])
    y = np.array([0, 1, 1, 0])
    assert calibration.ece(p, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.435)
    bins = calibration.reliability(p, y)
    assert bins.counts.tolist() == [0] * 8 + [2] + [0] * 4 + [2, 0]
    assert calibration.nll(p, y) == pytest.approx(-np.mean(np.log([0.9, 0.1, 0.58, 0.55])))


def test_mc_mean_of_the_passes_and_identical_passes_exactly() -> None:
    p, y = _random(50, 3, 4)
    same = np.stack([p] * 50)
    assert calibration.figures(calibration.mc_probabilities(same), y) == calibration.figures(p, y)
    rng = np.random.default_rng(5)
    passes = rng.dirichlet(np.ones(3), size=(20, 50))
    mean = calibration.mc_probabilities(passes)
    np.testing.assert_allclose(mean, passes.sum(axis=0) / 20)
    # the MC NLL is the log of the mean probability, never above the mean of the passes' NLLs
    assert calibration.nll(mean, y) <= np.mean([calibration.nll(q, y) for q in passes])


def test_labels_must_match_the_rows() -> None:
    p, _ = _random(10, 3, 6)
    with pytest.raises(ValueError, match="9 labels for 10 rows"):
        calibration.nll(p, np.zeros(9))
