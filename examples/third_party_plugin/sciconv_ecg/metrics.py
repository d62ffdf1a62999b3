"""Binary detection metrics for PVC detection (the positive class is the PVC, label 1)."""

from __future__ import annotations

import numpy as np

from sciconv.errors import DataError


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney U) formula.

    ``AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)``, where ``R_pos`` is the sum of the
    positives' ranks among all scores (ranks from 1, tied scores sharing their average rank). It is
    the probability that a random positive scores higher than a random negative, ties counting half.

    Args:
        scores: ``(n,)`` real scores, higher meaning more likely positive.
        labels: ``(n,)`` 0/1 labels, 1 positive.

    Raises:
        DataError: when the labels hold only one class (the AUC is undefined).
    """
    scores = np.asarray(scores, dtype=float).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise DataError(f"roc_auc: {scores.shape[0]} scores for {labels.shape[0]} labels")
    positive = labels == 1
    n_pos = int(positive.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError(f"roc_auc: needs both classes, got {n_pos} positives and {n_neg} negatives")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    last_rank = np.cumsum(counts)
    average_rank = last_rank - (counts - 1) / 2.0
    ranks = average_rank[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_metrics(labels: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Accuracy, sensitivity (PVC recall), specificity (normal recall), their mean (balanced
    accuracy) and ROC AUC.

    Args:
        labels: ``(n,)`` true classes, 1 PVC, 0 normal.
        predicted: ``(n,)`` predicted classes.
        scores: ``(n,)`` continuous PVC scores for the AUC.
    """
    labels = np.asarray(labels).ravel()
    predicted = np.asarray(predicted).ravel()
    positive = labels == 1
    sensitivity = float(np.mean(predicted[positive] == 1)) if positive.any() else float("nan")
    specificity = float(np.mean(predicted[~positive] == 0)) if (~positive).any() else float("nan")
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "balanced_accuracy": 0.5 * (sensitivity + specificity),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "auc": roc_auc(scores, labels),
    }
