"""Choosing a decision threshold per label from held-out (out-of-fold or dev) probabilities."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

__all__ = ["f1_optimal_threshold"]


def f1_optimal_threshold(y_true: np.ndarray, proba: np.ndarray, *, default: float = 0.5) -> float:
    """The probability cut-off that maximises F1 on ``(y_true, proba)``.

    The cut-off is placed half-way between the best score and the next lower one, so that
    it does not sit exactly on a training example. Without positives, ``default`` is kept.
    """
    y_true = np.asarray(y_true).astype(bool)
    proba = np.asarray(proba, dtype=np.float64)
    if not y_true.any():
        return default
    precision, recall, cuts = precision_recall_curve(y_true, proba)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)[:-1]
    best = int(np.argmax(f1))
    cut = cuts[best]
    lower = proba[proba < cut]
    if not lower.size:
        return float(cut)
    middle = (cut + lower.max()) / 2
    # between two neighbouring floats the half-way point rounds onto the lower one, which would
    # then be labelled: keep the cut itself there
    return float(middle) if middle > lower.max() else float(cut)
