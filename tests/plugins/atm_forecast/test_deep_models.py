"""CNN1dForecaster, LSTMForecaster and TorchRegressor: shapes, conv routing, learning, determinism."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

import sciconv.conv
from sciconv_atm_forecast.deep_models import CNN1dForecaster, LSTMForecaster, TorchRegressor

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


@pytest.mark.parametrize("module_cls", [CNN1dForecaster, LSTMForecaster])
@pytest.mark.parametrize(("n_lags", "n_exog"), [(1, 7), (7, 7), (14, 0), (1, 0)])
def test_forward_and_backward_shapes(module_cls, n_lags: int, n_exog: int) -> None:
    model = module_cls(n_lags, n_exog)
    x = torch.randn(5, n_lags + n_exog, requires_grad=True)
    out = model(x)
    assert out.shape == (5,)
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    model.reset_parameters()


def test_cnn_convolutions_run_through_sciconv_conv() -> None:
    model = CNN1dForecaster(7, 7, channels=(8, 16, 4)).eval()
    x = torch.randn(3, 14)
    with sciconv.conv.record_calls() as calls:
        reference = model(x)
    assert len(calls) == 3
    with sciconv.conv.use_backend("fft"):
        assert torch.allclose(model(x), reference, atol=1e-4)
    assert all(isinstance(m, sciconv.conv.Conv1d) for m in model.modules() if isinstance(m, torch.nn.Conv1d))


def test_cnn_rejects_even_kernels() -> None:
    with pytest.raises(ValueError, match="odd"):
        CNN1dForecaster(7, 7, kernel_size=4)


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
    state = torch.get_rng_state()
    a = TorchRegressor(epochs=3, seed=7).fit(X, y).predict(X)
    assert torch.equal(torch.get_rng_state(), state)
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
