"""Choosing a decision threshold per label from held-out (out-of-fold or dev) probabilities."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

__all__ = ["NEVER", "beats_chance", "best_f1", "f1_optimal_threshold", "half_best_f1_threshold", "threshold_rule"]

#: The threshold of a label the model has not learned: above every probability, 1.0 included.
NEVER = float(np.nextafter(1.0, 2.0))


def _weighed(y_true, proba, sample_weight):
    """Labels as bools, scores as floats, and the rows of weight 0 left out: they are not there."""
    y_true = np.asarray(y_true).astype(bool)
    proba = np.asarray(proba, dtype=np.float64)
    if sample_weight is None:
        return y_true, proba, None
    keep = np.asarray(sample_weight) > 0
    return y_true[keep], proba[keep], np.asarray(sample_weight)[keep]


def _f1_curve(y_true: np.ndarray, proba: np.ndarray, sample_weight=None):
    precision, recall, cuts = precision_recall_curve(y_true, proba, sample_weight=sample_weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)[:-1]
    return f1, cuts


def threshold_rule(threshold, calibrate: bool):
    """The rule a ``threshold`` setting learns cut-offs by: ``"auto"`` is ``"half-best-f1"`` for
    calibrated probabilities (as steady as it is right, see :func:`half_best_f1_threshold`) and
    ``"f1"`` for uncalibrated ones, whose F1-optimal cut-off it does not give; any other value is
    itself."""
    if isinstance(threshold, str) and threshold == "auto":
        return "half-best-f1" if calibrate else "f1"
    return threshold


def f1_optimal_threshold(y_true: np.ndarray, proba: np.ndarray, *, default: float = 0.5,
                         sample_weight=None) -> float:
    """The probability cut-off that maximises F1 on ``(y_true, proba)`` (rows weighted by
    ``sample_weight``, if given).

    The cut-off is placed half-way between the best score and the next lower one, so that
    it does not sit exactly on a training example. Of cut-offs that reach the same best F1, the
    lowest is kept: it finds the most positives. Without positives, ``default`` is kept.
    """
    y_true, proba, sample_weight = _weighed(y_true, proba, sample_weight)
    if not y_true.any():
        return default
    f1, cuts = _f1_curve(y_true, proba, sample_weight)
    best = int(np.argmax(f1))
    cut = cuts[best]
    lower = proba[proba < cut]
    if not lower.size:
        return float(cut)
    middle = (cut + lower.max()) / 2
    # between two neighbouring floats the half-way point rounds onto the lower one, which would
    # then be labelled: keep the cut itself there
    return float(middle) if middle > lower.max() else float(cut)


def half_best_f1_threshold(y_true: np.ndarray, proba: np.ndarray, *, default: float = 0.5,
                           sample_weight=None) -> float:
    """Half the best F1 reached on ``(y_true, proba)``: the F1-optimal cut-off for *calibrated*
    probabilities.

    Labelling a text of probability p raises the expected F1 exactly when p exceeds half the F1
    reached (Lipton, Elkan & Naryanaswamy 2014, "Thresholding classifiers to maximize F1"). The
    best F1 sits on the flat top of the F1 curve, so it is estimated far more steadily than the
    arg-max cut-off of :func:`f1_optimal_threshold` (on the default model's tuning rows, a tenth
    of its bootstrap spread); the price is trusting the calibration. Without positives,
    ``default`` is kept.
    """
    best = best_f1(y_true, proba, sample_weight=sample_weight)
    return default if best is None else best / 2


def best_f1(y_true: np.ndarray, proba: np.ndarray, *, sample_weight=None) -> float | None:
    """The highest F1 any cut-off reaches on ``(y_true, proba)``; None without positives."""
    y_true, proba, sample_weight = _weighed(y_true, proba, sample_weight)
    if not y_true.any():
        return None
    f1, _ = _f1_curve(y_true, proba, sample_weight)
    return float(f1.max())


def beats_chance(y_true: np.ndarray, proba: np.ndarray, *, sample_weight=None, n_permutations: int = 100,
                 random_state=0) -> bool:
    """Whether the best F1 on ``(y_true, proba)`` beats the best F1 of the same scores against
    shuffled labels (above their 95th percentile): a permutation test that the scores pick out the
    label. With a few positives among many rows, one lucky hit gives a best F1 of 0.1-0.3 and a
    cut-off near 0 that would label much of any corpus."""
    y_true = np.asarray(y_true).astype(np.float64)
    proba = np.asarray(proba, dtype=np.float64)
    weights = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if not (weights * y_true).any():
        return False
    order = np.argsort(-proba, kind="stable")
    cuts = np.r_[np.flatnonzero(np.diff(proba[order]) != 0), len(order) - 1]  # the last row of each tied score
    labelled = np.cumsum(weights[order])[cuts]
    positives = float((weights * y_true).sum())

    def best(y, w):  # F1 = 2 TP / (labelled + positives) at every cut-off, the weights moving with the labels
        return float(np.max(2 * np.cumsum((w * y)[order])[cuts] / (np.cumsum(w[order])[cuts] + positives)))

    observed = float(np.max(2 * np.cumsum((weights * y_true)[order])[cuts] / (labelled + positives)))
    if isinstance(random_state, np.random.RandomState):  # default_rng takes one from numpy 2.2 on only
        random_state = np.random.Generator(random_state._bit_generator)
    rng = np.random.default_rng(random_state)
    null = []
    for _ in range(n_permutations):
        shuffle = rng.permutation(len(y_true))  # labels (with their weights) dealt to other scores
        null.append(best(y_true[shuffle], weights[shuffle]))
    return observed > float(np.quantile(null, 0.95))
