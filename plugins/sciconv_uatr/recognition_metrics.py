"""The recognition metrics of a fold: segment accuracy and macro-F1, recording accuracy by majority vote,
per-class recall, the confusion matrix, and which expert each class was routed to; and their mean ± SD over folds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def majority_vote(
    recording: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray | None = None
) -> dict[int, int]:
    """Each recording's class: the class most of its segments were given; a tie goes to the tied class with the
    larger summed probability (or the lower index without probabilities).

    Args:
        recording: ``(n_segments,)`` recording index of each segment.
        predicted: ``(n_segments,)`` predicted class of each segment.
        probabilities: ``(n_segments, n_classes)`` class probabilities, or ``None``.
    """
    out: dict[int, int] = {}
    n_classes = int(max(predicted.max(initial=0), 0)) + 1
    if probabilities is not None:
        n_classes = max(n_classes, probabilities.shape[1])
    for r in np.unique(recording):
        mine = recording == r
        votes = np.bincount(predicted[mine], minlength=n_classes).astype(float)
        tied = votes == votes.max()
        if tied.sum() > 1 and probabilities is not None:
            mass = probabilities[mine].sum(axis=0)
            out[int(r)] = int(np.argmax(np.where(tied, mass, -np.inf)))
        else:
            out[int(r)] = int(np.argmax(votes))
    return out


def fold_metrics(
    truth: np.ndarray,
    predicted: np.ndarray,
    recording: np.ndarray,
    n_classes: int,
    probabilities: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics of one fold's test segments.

    Args:
        truth, predicted: ``(n_segments,)`` class indices.
        recording: ``(n_segments,)`` recording index of each segment (for the majority vote).
        n_classes: number of classes (the confusion matrix is ``n_classes x n_classes``).
        probabilities: ``(n_segments, n_classes)``, breaks ties of the vote.

    Returns:
        ``acc``, ``macro_f1`` (the mean F1 over the classes present in ``truth``), ``recording_acc``, ``recall``
        (``(n_classes,)``, NaN for a class absent from the test segments), ``confusion`` (rows: truth, columns:
        prediction; segment counts), ``n_segments``, ``n_recordings``.
    """
    from sklearn.metrics import f1_score

    present = np.unique(truth)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(confusion) / confusion.sum(axis=1)
    votes = majority_vote(recording, predicted, probabilities)
    recording_truth = {int(r): int(truth[recording == r][0]) for r in np.unique(recording)}
    return {
        "acc": float(np.mean(truth == predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=present, average="macro", zero_division=0)),
        "recording_acc": float(np.mean([votes[r] == recording_truth[r] for r in recording_truth])),
        "recall": recall,
        "confusion": confusion,
        "n_segments": len(truth),
        "n_recordings": len(recording_truth),
    }


def routing_counts(truth: np.ndarray, route: np.ndarray, n_classes: int, n_experts: int) -> np.ndarray:
    """``(n_classes, n_experts)`` counts of the segments of each class routed to each expert."""
    counts = np.zeros((n_classes, n_experts), dtype=np.int64)
    np.add.at(counts, (truth, route), 1)
    return counts


def aggregate(per_fold: Mapping[str, Sequence[Mapping[str, Any]]], classes: Sequence[str]) -> dict[str, float]:
    """The run's metrics from each method's per-fold metrics: ``<m>.acc``, ``<m>.macro_f1``, ``<m>.recording_acc``
    (means over folds) each with ``_sd`` (sample SD over folds; 0 with one fold), ``<m>.recall.<class>`` (mean
    over the folds that test the class) and ``<m>.n_folds``."""
    metrics: dict[str, float] = {}
    for method, folds in per_fold.items():
        for key in ("acc", "macro_f1", "recording_acc"):
            values = np.array([f[key] for f in folds], dtype=float)
            metrics[f"{method}.{key}"] = float(values.mean())
            metrics[f"{method}.{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        recalls = np.array([f["recall"] for f in folds], dtype=float)
        for i, name in enumerate(classes):
            column = recalls[:, i]
            column = column[np.isfinite(column)]
            if len(column):
                metrics[f"{method}.recall.{name}"] = float(column.mean())
        metrics[f"{method}.n_folds"] = float(len(folds))
    return metrics
