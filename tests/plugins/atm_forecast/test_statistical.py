"""Seasonal naive, ETS and seasonal ARIMA forecasts, their fallbacks and the many-series runner."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sciconv_atm_forecast.statistical import (
    STATISTICAL_METHODS,
    FallbackWarning,
    arima_forecast,
    ets_forecast,
    forecast_many,
    seasonal_naive,
)

WEEK = np.array([0.7, 0.9, 1.0, 1.1, 1.4, 1.3, 0.6])


def noisy_week(n_days: int, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """A weekly pattern (about 1) with multiplicative white noise, (n_days,)."""
    rng = np.random.default_rng(seed)
    return WEEK[np.arange(n_days) % 7] * (1 + noise * rng.normal(size=n_days))


def test_seasonal_naive_repeats_the_last_week_exactly() -> None:
    history = np.arange(20.0)
    assert np.array_equal(seasonal_naive(history, 10), [13, 14, 15, 16, 17, 18, 19, 13, 14, 15])
    assert np.array_equal(seasonal_naive(history, 3, m=1), [19, 19, 19])
    assert np.array_equal(seasonal_naive([1.0, 2.0], 5), [1, 2, 1, 2, 1])  # shorter than a season


@pytest.mark.parametrize("forecaster", [ets_forecast, arima_forecast], ids=["ets", "arima"])
def test_recovers_a_clean_weekly_pattern_better_than_seasonal_naive(forecaster) -> None:
    n, h = 210, 28
    history = noisy_week(n)
    truth = WEEK[np.arange(n, n + h) % 7]  # the noise-free expectation of the next four weeks
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        forecast = forecaster(history, h)
    assert forecast.shape == (h,)
    mae = np.abs(forecast - truth).mean()
    assert mae < 0.6 * np.abs(seasonal_naive(history, h) - truth).mean()
    assert mae < 0.05


def test_ets_skips_multiplicative_candidates_on_non_positive_histories() -> None:
    history = noisy_week(140) - 0.8  # crosses zero
    batch = forecast_many("ets", [history], 7)
    assert batch.specs[0].startswith("ETS(A,") and batch.n_fallback == 0


@pytest.mark.parametrize("forecaster", [ets_forecast, arima_forecast], ids=["ets", "arima"])
def test_too_short_history_falls_back_to_seasonal_naive_with_a_warning(forecaster) -> None:
    history = noisy_week(10)
    with pytest.warns(FallbackWarning, match="too short"):
        forecast = forecaster(history, 9)
    assert np.array_equal(forecast, seasonal_naive(history, 9))


def test_failing_candidates_fall_back_and_are_reported() -> None:
    history = noisy_week(70)
    with pytest.warns(FallbackWarning, match="ARIMA"):
        forecast = arima_forecast(history, 7, orders=((-1, 0, 0),))  # an invalid order: statsmodels raises
    assert np.array_equal(forecast, seasonal_naive(history, 7))


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        ets_forecast(np.array([1.0, np.nan, 2.0] * 10), 7)
    with pytest.raises(ValueError, match="empty"):
        seasonal_naive([], 7)
    with pytest.raises(ValueError, match="h must be"):
        seasonal_naive([1.0], 0)
    with pytest.raises(ValueError, match="unknown statistical method"):
        forecast_many("tbats", [np.ones(30)], 7)


def test_forecast_many_matches_the_single_series_functions_in_parallel() -> None:
    histories = [noisy_week(98, seed=s) for s in range(3)] + [noisy_week(9, seed=9)]
    batch = forecast_many("arima", histories, 14, n_jobs=2)
    assert batch.values.shape == (4, 14)
    assert np.allclose(batch.values[0], arima_forecast(histories[0], 14))
    assert batch.fallbacks.keys() == {3} and "too short" in batch.fallbacks[3]
    assert batch.specs[3] == "snaive" and batch.specs[0].startswith("ARIMA(")
    assert np.array_equal(forecast_many("snaive", histories, 14).values[1], seasonal_naive(histories[1], 14))
    assert set(STATISTICAL_METHODS) == {"snaive", "ets", "arima"}
