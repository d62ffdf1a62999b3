"""Wolpaw information transfer rate."""

from __future__ import annotations

import numpy as np
import pytest

from sciconv_bci_ssvep.itr import itr_bits_per_min


def test_hand_computed_benchmark_value() -> None:
    # N = 40, P = 0.8, t = 0.4 s window + 0.5 s gaze shift:
    # log2 40 = 5.321928, 0.8 log2 0.8 = -0.257542, 0.2 log2(0.2 / 39) = -1.521466 -> 3.542920 bits,
    # times 60 / 0.9 -> 236.195 bits/min.
    assert itr_bits_per_min(0.8, 40, 0.9) == pytest.approx(236.1946, abs=1e-3)
    # N = 4, P = 0.9, t = 2 s: 2 - 0.136803 - 0.490689 = 1.372508 bits -> 41.1752 bits/min.
    assert itr_bits_per_min(0.9, 4, 2.0) == pytest.approx(41.1752, abs=1e-3)


def test_perfect_accuracy_is_log2_n() -> None:
    assert itr_bits_per_min(1.0, 40, 0.9) == pytest.approx(np.log2(40) * 60 / 0.9)
    assert itr_bits_per_min(1.0, 2, 1.0) == pytest.approx(60.0)


@pytest.mark.parametrize("p", [0.0, 0.01, 1 / 40, 0.02])
def test_chance_or_below_gives_zero(p: float) -> None:
    assert itr_bits_per_min(p, 40, 0.9) == 0.0


def test_just_above_chance_is_small_and_positive() -> None:
    value = itr_bits_per_min(1 / 40 + 1e-3, 40, 0.9)
    assert 0.0 < value < 0.01


def test_monotonic_in_accuracy() -> None:
    p = np.linspace(1 / 40, 1.0, 500)
    rates = itr_bits_per_min(p, 40, 0.9)
    assert np.all(np.diff(rates) > 0)
    # shorter selections give proportionally higher rates
    np.testing.assert_allclose(itr_bits_per_min(p, 40, 0.45), 2 * rates)


def test_array_input_matches_scalar_calls_and_broadcasts() -> None:
    acc = np.array([[0.1, 0.5], [0.9, 1.0]])
    rates = itr_bits_per_min(acc, 40, 0.9)
    assert isinstance(rates, np.ndarray) and rates.shape == (2, 2)
    expected = [[itr_bits_per_min(float(p), 40, 0.9) for p in row] for row in acc]
    np.testing.assert_allclose(rates, expected)
    # n_classes broadcasts too: the same accuracy carries more bits with more classes
    per_n = itr_bits_per_min(0.9, np.array([4, 12, 40]), 1.0)
    assert per_n.shape == (3,) and np.all(np.diff(per_n) > 0)
    assert isinstance(itr_bits_per_min(0.9, 40, 1.0), float)


@pytest.mark.parametrize(
    ("accuracy", "n_classes", "seconds"),
    [(80.0, 40, 0.9), (-0.1, 40, 0.9), (np.nan, 40, 0.9), (0.8, 1, 0.9), (0.8, 2.5, 0.9), (0.8, 40, 0.0)],
)
def test_bad_input(accuracy: float, n_classes: float, seconds: float) -> None:
    with pytest.raises(ValueError):
        itr_bits_per_min(accuracy, n_classes, seconds)
