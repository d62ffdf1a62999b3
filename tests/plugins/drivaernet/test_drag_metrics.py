"""The benchmark's error measures, overall and per body family."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sciconv_drivaernet.drag_metrics import drag_errors, errors_by_family


def test_errors_against_hand_computed_values() -> None:
    true = np.array([0.25, 0.30, 0.28, 0.32])
    predicted = np.array([0.26, 0.29, 0.28, 0.35])
    errors = drag_errors(true, predicted)
    residual = predicted - true
    assert errors["mse"] == pytest.approx(np.mean(residual**2))
    assert errors["mae"] == pytest.approx(np.mean(np.abs(residual)))
    assert errors["max_ae"] == pytest.approx(0.03)
    assert errors["r2"] == pytest.approx(1 - np.sum(residual**2) / np.sum((true - true.mean()) ** 2))
    assert drag_errors(true, true)["r2"] == 1.0
    assert drag_errors(true, np.full(4, true.mean()))["r2"] == pytest.approx(0.0)
    assert math.isnan(drag_errors(np.array([0.3]), np.array([0.31]))["r2"])
    with pytest.raises(ValueError, match="equal non-empty"):
        drag_errors(true, predicted[:3])


def test_errors_by_family_split_the_designs() -> None:
    true = np.array([0.25, 0.30, 0.28, 0.32, 0.27])
    predicted = np.array([0.26, 0.29, 0.28, 0.35, 0.27])
    families = ["fastback", "notchback", "fastback", "notchback", "estateback"]
    by_family = errors_by_family(true, predicted, families)
    assert list(by_family) == ["estateback", "fastback", "notchback"]
    assert by_family["fastback"]["n"] == 2 and by_family["fastback"]["mae"] == pytest.approx(0.005)
    assert by_family["notchback"]["max_ae"] == pytest.approx(0.03)
    assert math.isnan(by_family["estateback"]["r2"])
