"""Recognition metrics: majority vote per recording, macro-F1, recall, confusion, routing, mean ± SD over folds."""

from __future__ import annotations

import numpy as np
import pytest

from sciconv_uatr.recognition_metrics import aggregate, fold_metrics, majority_vote, routing_counts


def test_majority_vote_and_tie_break_by_probability() -> None:
    recording = np.array([0, 0, 0, 1, 1])
    predicted = np.array([2, 2, 1, 0, 1])
    probabilities = np.array([[0, 0, 1], [0, 0, 1], [0, 1, 0], [0.9, 0.1, 0], [0.4, 0.6, 0]], dtype=float)
    assert majority_vote(recording, predicted, probabilities) == {0: 2, 1: 0}  # tie 0/1: class 0 has 1.3 vs 0.7


def test_fold_metrics_by_hand() -> None:
    truth = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    recording = np.array([0, 0, 1, 1, 1, 2])
    m = fold_metrics(truth, predicted, recording, 3)
    assert m["acc"] == pytest.approx(4 / 6)
    np.testing.assert_allclose(m["recall"], [0.5, 2 / 3, 1.0])
    assert m["confusion"].tolist() == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    # F1: class 0 p=1/2 r=1/2 -> 0.5; class 1 p=2/3 r=2/3; class 2 -> 1
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 1.0) / 3)
    # recording 0: tie 0/1 without probabilities -> class 0 (correct); 1 -> class 1; 2 -> class 2
    assert m["recording_acc"] == pytest.approx(1.0)
    assert m["n_recordings"] == 3


def test_routing_counts() -> None:
    counts = routing_counts(np.array([0, 0, 1, 1]), np.array([2, 2, 0, 2]), 2, 3)
    assert counts.tolist() == [[0, 0, 2], [1, 0, 1]]


def test_aggregate_mean_and_sd_over_folds() -> None:
    a = {"acc": 0.5, "macro_f1": 0.4, "recording_acc": 1.0, "recall": np.array([1.0, np.nan])}
    b = {"acc": 0.7, "macro_f1": 0.6, "recording_acc": 0.5, "recall": np.array([0.5, 0.25])}
    m = aggregate({"cmoe": [a, b]}, ["x", "y"])
    assert m["cmoe.acc"] == pytest.approx(0.6) and m["cmoe.acc_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert m["cmoe.recall.x"] == pytest.approx(0.75)
    assert m["cmoe.recall.y"] == pytest.approx(0.25)  # the fold without class y does not count
    assert m["cmoe.n_folds"] == 2
    assert aggregate({"resnet": [a]}, ["x", "y"])["resnet.acc_sd"] == 0.0
