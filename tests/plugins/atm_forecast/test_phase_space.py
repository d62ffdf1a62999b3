"""Delay from the ACF, Cao's method and delay vectors, on systems whose answers are known."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from sciconv.errors import ConfigError, DataError
from sciconv_atm_forecast.nn5_io import impute_same_weekday_median, read_series_table
from sciconv_atm_forecast.phase_space import acf_lag, acf_lag_info, cao_embedding, delay_embedding

NN5 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nn5" / "nn5_daily_train.csv"


def henon(n: int, a: float = 1.4, b: float = 0.3) -> np.ndarray:
    """The x-component of the Hénon map, transient dropped."""
    x = np.empty(n + 500)
    u, v = 0.1, 0.0
    for i in range(len(x)):
        u, v = 1.0 - a * u * u + v, b * u
        x[i] = u
    return x[500:]


def lorenz_x(n: int, dt: float) -> np.ndarray:
    """The x-component of the Lorenz system (sigma 10, rho 28, beta 8/3) sampled every ``dt``."""

    def f(_t: float, s: np.ndarray) -> list[float]:
        return [10.0 * (s[1] - s[0]), s[0] * (28.0 - s[2]) - s[1], s[0] * s[1] - 8.0 / 3.0 * s[2]]

    t = np.arange(n + 500) * dt
    sol = solve_ivp(f, (0.0, t[-1]), [1.0, 1.0, 1.0], t_eval=t, rtol=1e-8, atol=1e-8)
    return sol.y[0, 500:]


@pytest.fixture(scope="module")
def lorenz() -> np.ndarray:
    return lorenz_x(2000, 0.02)


# ----------------------------------------------------------------------------------------------------
# Delay vectors


def test_delay_embedding_rows_oldest_first() -> None:
    x = np.arange(10.0)
    emb = delay_embedding(x, dim=3, lag=2)
    assert emb.shape == (10 - 4, 3)
    np.testing.assert_array_equal(emb[0], [0, 2, 4])  # the vector of t = 4
    np.testing.assert_array_equal(emb[-1], [5, 7, 9])  # the vector of t = 9: [x_{t-4}, x_{t-2}, x_t]
    np.testing.assert_array_equal(delay_embedding(x, 1, 5), x[:, None])
    with pytest.raises(DataError, match="too short"):
        delay_embedding(np.arange(4.0), dim=3, lag=2)
    with pytest.raises(ConfigError):
        delay_embedding(x, dim=0, lag=1)


# ----------------------------------------------------------------------------------------------------
# Delay from the ACF


def test_sine_lag_is_a_quarter_period() -> None:
    x = np.sin(2 * np.pi * np.arange(1000) / 40)
    assert acf_lag(x) == 10
    info = acf_lag_info(x, rule="first_minimum")
    assert info.rule == "first_minimum" and info.lag in (19, 20, 21)  # half a period
    assert info.acf.shape == (251,) and info.acf[0] == pytest.approx(1.0)


def test_one_over_e_rule_on_an_ar1() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros(20000)
    for t in range(1, len(x)):
        x[t] = 0.8 * x[t - 1] + rng.normal()
    # rho(k) = 0.8**k falls to 1/e at k = 1 / -ln(0.8) = 4.5: rho(4) = 0.41, rho(5) = 0.33
    assert acf_lag(x, max_lag=60, rule="1/e") == 5


def test_fallbacks_when_the_acf_never_crosses() -> None:
    trend = np.arange(300.0)  # the ACF decays slowly, monotonically
    info = acf_lag_info(trend, max_lag=10)
    assert (info.lag, info.rule) == (1, "fallback")
    slow = np.cos(2 * np.pi * np.arange(2000) / 400)  # first zero at lag 100, beyond max_lag
    info = acf_lag_info(slow, max_lag=80)
    assert info.rule == "1/e" and 70 <= info.lag <= 80  # cos(2 pi k / 400) = 1/e at k = 76


def test_acf_lag_skips_missing_values_and_rejects_bad_input() -> None:
    x = np.sin(2 * np.pi * np.arange(400) / 28)
    x[[5, 50, 100]] = np.nan
    assert acf_lag(x) == 7
    with pytest.raises(DataError, match="constant"):
        acf_lag(np.ones(50))
    with pytest.raises(ConfigError, match="rule"):
        acf_lag(x, rule="zero")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_lag"):
        acf_lag(x, max_lag=1000)


# ----------------------------------------------------------------------------------------------------
# Cao's method


def test_henon_has_dimension_two() -> None:
    res = cao_embedding(henon(1000), lag=1, max_dim=8)
    assert res.dimension == 2 and res.saturated
    assert res.e1[0] < 0.5 and np.all(np.abs(res.e1[1:] - 1.0) < 0.1)
    assert res.deterministic  # E2(1) is far below 1
    assert res.e2[0] < 0.5
    np.testing.assert_array_equal(res.dims, np.arange(1, 9))


def test_lorenz_has_dimension_three(lorenz: np.ndarray) -> None:
    # lag 8 samples = 0.16 time units, about the first minimum of Lorenz's mutual information
    res = cao_embedding(lorenz, lag=8, max_dim=10)
    assert res.dimension == 3 and res.saturated and res.deterministic
    assert res.e1[1] < 0.6 and res.e1[2] > 0.9


@pytest.mark.parametrize("lag", [4, 6, 12])
def test_lorenz_dimension_is_stable_over_lags(lorenz: np.ndarray, lag: int) -> None:
    assert cao_embedding(lorenz, lag=lag, max_dim=10).dimension in (3, 4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_white_noise_is_stochastic(seed: int) -> None:
    x = np.random.default_rng(seed).normal(size=735)
    res = cao_embedding(x, lag=acf_lag(x), max_dim=15)
    assert not res.deterministic
    assert np.all(np.abs(res.e2 - 1.0) < 0.15)  # E2 ~ 1 for every d
    # E1 has no knee: it creeps up towards 1 over many dimensions instead of jumping there
    assert np.all(res.e1[:5] < 0.9) and np.all(np.diff(res.e1[:6]) > 0)
    assert res.dimension >= 6  # on finite noise E1 drifts above the threshold only at high d


def test_duplicate_vectors_and_theiler_window() -> None:
    x = np.round(henon(800), 1)  # coarse rounding: many exact duplicates of the delay vectors
    res = cao_embedding(x, lag=1, max_dim=6)
    assert np.all(np.isfinite(res.e1)) and np.all(np.isfinite(res.e2))
    res_w = cao_embedding(henon(800), lag=1, max_dim=6, theiler=5)
    assert res_w.dimension == 2


def test_cao_bad_input() -> None:
    with pytest.raises(DataError, match="non-finite"):
        cao_embedding(np.array([1.0, np.nan] * 50), lag=1)
    with pytest.raises(DataError, match="constant"):
        cao_embedding(np.ones(100), lag=1)
    with pytest.raises(DataError, match="too short"):
        cao_embedding(np.arange(20.0), lag=8)
    res = cao_embedding(henon(200), lag=20, max_dim=15)  # max_dim lowered to what 200 points allow at lag 20
    assert len(res.e1) == (200 - 10) // 20 - 1 == len(res.dims)
    with pytest.raises(ConfigError):
        cao_embedding(henon(200), lag=0)


# ----------------------------------------------------------------------------------------------------
# Real NN5 series


@pytest.mark.skipif(not NN5.is_file(), reason=f"the real NN5 file is not available at {NN5}")
def test_real_nn5_series() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = read_series_table(NN5)
    values, _ = impute_same_weekday_median(table.values[:12], table.dates)
    lags = [acf_lag(x) for x in values]
    dims = [cao_embedding(x, lag, max_dim=15).dimension for x, lag in zip(values, lags, strict=True)]
    assert np.median(lags) == 2  # the first zero of the ACF, two days for most ATMs
    assert 6 <= np.median(dims) <= 8  # the issue: m = 7 for most NN5 series
