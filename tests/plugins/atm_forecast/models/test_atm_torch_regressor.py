"""TorchRegressor: learning, determinism, validation split, the model factory it builds with, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sciconv_atm_forecast.models.cnn1d import CNN1dForecaster, CNN1dNet
from sciconv_atm_forecast.models.lstm import LSTMNet
from sciconv_atm_forecast.models.torch_regressor import ARCHITECTURES, TorchRegressor

WEEK = np.array([0.7, 0.9, 1.0, 1.1, 1.4, 1.3, 0.6])


def ar_weekly_rows(
    n_series: int, n_days: int, n_lags: int = 7, dow: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One-step rows of x_t = week(t) * (1 + e_t), e_t = 0.6 e_{t-1} + 0.15 noise: X (n, n_lags + 7|0), y (n,)."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for s in range(n_series):
        e = np.zeros(n_days)
        for t in range(1, n_days):
            e[t] = 0.6 * e[t - 1] + 0.15 * rng.normal()
        day = (np.arange(n_days) + s) % 7
        x = WEEK[day] * (1 + e)
        for t in range(n_lags - 1, n_days - 1):
            exog = np.eye(7)[day[t + 1]] if dow else np.empty(0)
            X.append(np.concatenate([x[t - n_lags + 1 : t + 1], exog]))
            y.append(x[t + 1])
    return np.array(X), np.array(y)


@pytest.mark.parametrize("arch", ["cnn1d", "lstm"])
def test_learns_ar1_with_weekly_seasonality_better_than_the_mean(arch: str) -> None:
    X, y = ar_weekly_rows(16, 120, seed=0)
    X_test, y_test = ar_weekly_rows(4, 120, seed=1)
    model = TorchRegressor(arch=arch, epochs=15, batch_size=128, lr=3e-3, seed=0, num_threads=1).fit(X, y)
    mae = np.abs(model.predict(X_test) - y_test).mean()
    assert mae < 0.6 * np.abs(y_test - y.mean()).mean()
    assert model.history_ and "val_loss" in model.history_[0]


@pytest.mark.parametrize("arch", ["cnn1d", "lstm"])
def test_univariate_single_lag_without_day_of_week(arch: str) -> None:
    X, y = ar_weekly_rows(6, 60, n_lags=1, dow=False)
    model = TorchRegressor(arch=arch, n_lags=1, n_exog=0, epochs=2).fit(X, y)
    assert model.predict(X[:9]).shape == (9,)


def test_deterministic_with_a_seed_and_leaves_the_global_rng_alone() -> None:
    X, y = ar_weekly_rows(4, 60)
    state, np_state = torch.get_rng_state(), np.random.get_state()
    a = TorchRegressor(epochs=3, seed=7).fit(X, y).predict(X)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(np.array_equal(u, v) for u, v in zip(np.random.get_state(), np_state, strict=True))
    b = TorchRegressor(epochs=3, seed=7).fit(X, y).predict(X)
    c = TorchRegressor(epochs=3, seed=8).fit(X, y).predict(X)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_explicit_validation_set_and_early_stopping() -> None:
    X, y = ar_weekly_rows(4, 80, seed=0)
    X_val, y_val = ar_weekly_rows(2, 80, seed=1)
    model = TorchRegressor(arch="cnn1d", epochs=40, patience=2, lr=1e-2, loss="mse", seed=0)
    model.fit(X, y, X_val=X_val, y_val=y_val)
    epochs = len(model.history_)
    assert model.best_epoch_ is not None and model.best_epoch_ <= epochs
    best = min(r["val_loss"] for r in model.history_)
    assert model.history_[model.best_epoch_ - 1]["val_loss"] == best


def test_no_validation_runs_every_epoch() -> None:
    X, y = ar_weekly_rows(2, 40)
    model = TorchRegressor(epochs=3, val_fraction=0.0).fit(X, y)
    assert len(model.history_) == 3 and "val_loss" not in model.history_[0]


def test_bad_inputs_are_rejected() -> None:
    X, y = ar_weekly_rows(2, 40)
    with pytest.raises(ValueError, match=r"n_lags \+ n_exog"):
        TorchRegressor(n_lags=5).fit(X, y)
    with pytest.raises(ValueError, match="arch"):
        TorchRegressor(arch="transformer").fit(X, y)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TorchRegressor(epochs=1).fit(bad, y)


def test_clone_and_pickle_keep_the_predictions() -> None:
    X, y = ar_weekly_rows(2, 40)
    model = TorchRegressor(arch="lstm", epochs=1).fit(X, y)
    assert clone(model).get_params() == model.get_params()
    assert np.array_equal(pickle.loads(pickle.dumps(model)).predict(X), model.predict(X))


def test_the_default_factories_are_the_registered_ones() -> None:
    from sciconv.registry import get_registry

    registry = get_registry()
    assert dict(ARCHITECTURES) == {"cnn1d": CNN1dNet, "lstm": LSTMNet}
    assert registry.load("models", "atm-forecast.cnn1d") is CNN1dNet
    assert registry.load("models", "atm-forecast.lstm") is LSTMNet


def test_the_network_comes_from_the_model_factory_with_the_module_params() -> None:
    X, y = ar_weekly_rows(2, 40, n_lags=5)
    calls = []

    def factory(spec, **params):  # a stand-in for a registered factory
        calls.append((spec.input_shape, dict(spec.extra), params))
        return CNN1dNet(spec, **params)

    model = TorchRegressor(n_lags=5, model_factory=factory, module_params={"channels": [4], "hidden": 8}, epochs=1)
    model.fit(X, y)
    assert calls == [((12,), {"n_lags": 5, "n_exog": 7}, {"channels": [4], "hidden": 8})]
    assert isinstance(model.module_, CNN1dForecaster) and model.module_.head[0].in_features == 4 * 5 + 7
    # the default factory with the same parameters gives the same network and the same fit
    default = TorchRegressor(n_lags=5, module_params={"channels": [4], "hidden": 8}, epochs=1).fit(X, y)
    assert np.array_equal(default.predict(X), model.predict(X))


def test_the_validation_rows_are_drawn_from_one_seeded_permutation() -> None:
    """``split_size(val_fraction, n)`` rows first in ``default_rng(seed).permutation(n)`` validate; the scaling is
    computed on the remaining (training) rows."""
    X, y = ar_weekly_rows(2, 40)
    model = TorchRegressor(epochs=1, val_fraction=0.25, seed=3).fit(X, y)
    perm = np.random.default_rng(3).permutation(len(X))
    n_val = max(1, round(0.25 * len(X)))
    train = perm[n_val:]
    assert model.y_mean_ == float(y[train].mean())
    assert model.x_mean_ == float(X[train, :7].mean())
