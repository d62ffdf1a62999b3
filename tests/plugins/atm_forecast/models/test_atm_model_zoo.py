"""Every registered model family builds, fits and forecasts with the plugin's input design."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from sciconv.errors import ConfigError
from sciconv_atm_forecast.models.zoo import (
    MODEL_FAMILIES,
    POOLED_FAMILIES,
    SERIES_FAMILIES,
    SeriesForecaster,
    family_kind,
    make_model,
)

# Small settings so the sweep stays fast; every pooled family must appear here.
QUICK = {
    "rf": {"n_estimators": 10, "n_jobs": 1},
    "svr": {"max_train_rows": 200},
    "mlp": {},
    "gmdh": {"max_layers": 2},
    "grnn": {"max_train_rows": 300},
    "lstm": {"epochs": 2, "num_threads": 1},
    "cnn1d": {"epochs": 2, "num_threads": 1},
}


def rows(n_lags: int, n_exog: int, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic one-step rows: lags about 1, a one-hot day of week, y = last lag with a weekday effect."""
    rng = np.random.default_rng(seed)
    lags = 1 + 0.2 * rng.normal(size=(n, n_lags))
    day = rng.integers(0, 7, n)
    exog = np.eye(7)[day][:, :n_exog]
    y = 0.5 * lags[:, -1] + 0.5 * (0.7 + 0.1 * day) + 0.05 * rng.normal(size=n)
    return np.hstack([lags, exog]), y


def test_the_registry_holds_the_papers_families_and_the_baselines() -> None:
    assert set(MODEL_FAMILIES) == set(POOLED_FAMILIES) | set(SERIES_FAMILIES)
    assert set(POOLED_FAMILIES) == set(QUICK)
    assert {"rf", "svr", "mlp", "gmdh", "grnn", "lstm", "cnn1d", "arima"} <= set(MODEL_FAMILIES)
    assert {"ets", "snaive"} <= set(SERIES_FAMILIES)


@pytest.mark.parametrize("name", POOLED_FAMILIES)
@pytest.mark.parametrize(("n_lags", "n_exog"), [(7, 7), (1, 0)])
def test_pooled_family_fits_and_predicts(name: str, n_lags: int, n_exog: int) -> None:
    X, y = rows(n_lags, n_exog)
    model = make_model(name, n_lags, n_exog, seed=3, **QUICK[name])
    assert family_kind(name) == "pooled"
    clone(model)  # a scikit-learn estimator: parameters only in __init__
    model.fit(X[:300], y[:300])
    pred = model.predict(X[300:])
    assert pred.shape == (100,) and np.all(np.isfinite(pred))
    assert np.abs(pred - y[300:]).mean() < np.abs(y[300:] - y[:300].mean()).mean() * 1.05


@pytest.mark.parametrize("name", POOLED_FAMILIES)
def test_the_seed_reaches_the_estimator(name: str) -> None:
    params = make_model(name, 7, 7, seed=11, **QUICK[name]).get_params()
    seeds = {v for k, v in params.items() if k in ("random_state", "seed")}
    assert seeds == {11}


def test_defaults_cap_the_quadratic_learners() -> None:
    assert make_model("svr", 7, 7).max_train_rows == 10_000
    assert make_model("grnn", 7, 7).max_train_rows == 20_000


@pytest.mark.parametrize("name", SERIES_FAMILIES)
def test_series_family_forecasts_the_horizon(name: str) -> None:
    history = np.tile([0.7, 0.9, 1.0, 1.1, 1.4, 1.3, 0.6], 12) * (1 + 0.05 * np.random.default_rng(0).normal(size=84))
    model = make_model(name, 7, 7)
    assert isinstance(model, SeriesForecaster) and family_kind(name) == "series"
    forecast = model.forecast(history, 10)
    assert forecast.shape == (10,) and np.all(np.isfinite(forecast))
    batch = model.forecast_many([history, history[:70]], 10)
    assert batch.values.shape == (2, 10) and np.allclose(batch.values[0], forecast)


def test_unknown_names_and_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'grnn'"):
        make_model("grn", 7, 7)
    with pytest.raises(ConfigError, match="snaive takes no parameters"):
        make_model("snaive", 7, 7, orders=((1, 0, 0),))
    with pytest.raises(ConfigError):
        family_kind("tbats")
