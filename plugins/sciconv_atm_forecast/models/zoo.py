"""The paper's model families by name, so the task can loop over them: :data:`MODEL_FAMILIES`.

Two kinds share one factory signature ``factory(n_lags, n_exog, seed=0, **params)``:

- *pooled* (:data:`POOLED_FAMILIES`: ``rf``, ``svr``, ``mlp``, ``gmdh``, ``grnn``, ``lstm``, ``cnn1d``) return
  a scikit-learn-style regressor, trained once on the one-step-ahead rows of all series: ``fit(X, y)`` with
  X (n_rows, n_lags + n_exog), y (n_rows,) (``lstm``/``cnn1d`` also take ``X_val, y_val``), ``predict(X)``;
- *series* (:data:`SERIES_FAMILIES`: ``arima``, ``ets``, ``snaive``) return a :class:`SeriesForecaster`
  fitted per series on its history, producing the horizon natively: ``forecast(history, h) -> (h,)``
  (``n_lags``/``n_exog`` are ignored).

``params`` override the defaults below (keyword arguments of the estimator; for ``svr`` also
``max_train_rows``; for ``lstm``/``cnn1d`` those of
:class:`~sciconv_atm_forecast.models.torch_regressor.TorchRegressor`, among them ``model_factory``, the registered
network factory the task takes from its run context).
Defaults are for inputs scaled to about 1 (each series divided by its training mean). The paper does not
publish its hyperparameters; these are ours, and the reasons are given per factory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from sciconv.errors import ConfigError, did_you_mean


def _rf(n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
    """Random forest (Breiman 2001): 300 trees (accuracy saturates well before on ~15 features), one third
    of the features per split and leaves of at least 5 rows (Breiman's regression defaults, which also keep
    the ~80,000-row forest small and fast), all cores."""
    from sklearn.ensemble import RandomForestRegressor

    defaults = {"n_estimators": 300, "max_features": 1 / 3, "min_samples_leaf": 5, "n_jobs": -1}
    return RandomForestRegressor(**{**defaults, **params, "random_state": seed})


def _svr(n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
    """Epsilon-SVR with an RBF kernel, fitted on at most ``max_train_rows`` = 10,000 random rows (libsvm is
    O(n^2) or worse: hours on all ~80,000 pooled rows, seconds on 10,000). ``C = 1`` (targets are about 1),
    ``epsilon = 0.05`` (5% of a series' mean, well below the day-to-day noise), ``gamma = "scale"``
    (1 / (n_features var(X))), a 500 MB kernel cache."""
    from sklearn.svm import SVR

    from sciconv_atm_forecast.regressors import SubsampledRegressor

    cap = params.pop("max_train_rows", 10_000)
    defaults = {"kernel": "rbf", "C": 1.0, "epsilon": 0.05, "gamma": "scale", "cache_size": 500}
    return SubsampledRegressor(SVR(**{**defaults, **params}), max_train_rows=cap, random_state=seed)


def _mlp(n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
    """Multilayer perceptron, two ReLU hidden layers of 64 and 32 units, Adam with mini-batches of 256 and
    early stopping on a 10% validation split (patience 10 epochs, at most 200)."""
    from sklearn.neural_network import MLPRegressor

    defaults = {
        "hidden_layer_sizes": (64, 32),
        "alpha": 1e-4,
        "batch_size": 256,
        "learning_rate_init": 1e-3,
        "max_iter": 200,
        "early_stopping": True,
        "validation_fraction": 0.1,
        "n_iter_no_change": 10,
    }
    return MLPRegressor(**{**defaults, **params, "random_state": seed})


def _gmdh(n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
    """Multilayer GMDH (:class:`~sciconv_atm_forecast.regressors.GMDH`): up to 5 layers of 8 neurons, 30% of
    the rows as the selection part."""
    from sciconv_atm_forecast.regressors import GMDH

    return GMDH(**{**params, "random_state": seed})


def _grnn(n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
    """GRNN (:class:`~sciconv_atm_forecast.regressors.GRNN`): 20,000 stored patterns, sigma by leave-one-out."""
    from sciconv_atm_forecast.regressors import GRNN

    return GRNN(**{**params, "random_state": seed})


def _torch(arch: str) -> Callable[..., Any]:
    def factory(n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
        from sciconv_atm_forecast.models.torch_regressor import TorchRegressor

        return TorchRegressor(arch=arch, n_lags=n_lags, n_exog=n_exog, **{**params, "seed": seed})

    factory.__doc__ = (
        f"{arch} (:class:`~sciconv_atm_forecast.models.torch_regressor.TorchRegressor` with ``arch={arch!r}``)."
    )
    return factory


@dataclass
class SeriesForecaster:
    """A per-series statistical method (``"arima"``, ``"ets"`` or ``"snaive"``) and its parameters.

    ``forecast(history, h)`` fits it on one history (n,) and returns (h,); ``forecast_many(histories, h)``
    does all series in parallel (``n_jobs`` processes) and returns a
    :class:`~sciconv_atm_forecast.statistical.BatchForecast` (values (n_series, h), chosen specs, fallbacks).
    """

    method: str
    m: int = 7
    n_jobs: int | None = 1
    params: dict[str, Any] = field(default_factory=dict)

    def forecast(self, history: Any, h: int) -> np.ndarray:
        """history (n,) -> (h,) forecasts; a seasonal-naive fallback is warned (FallbackWarning)."""
        from sciconv_atm_forecast import statistical

        if self.method == "snaive":
            return statistical.seasonal_naive(history, h, self.m)
        if self.method == "ets":
            return statistical.ets_forecast(history, h, self.m, **self.params)
        return statistical.arima_forecast(history, h, self.m, **self.params)

    def forecast_many(self, histories: Sequence[Any], h: int) -> Any:
        """All series at once: a :class:`~sciconv_atm_forecast.statistical.BatchForecast`."""
        from sciconv_atm_forecast.statistical import forecast_many

        return forecast_many(self.method, histories, h, m=self.m, n_jobs=self.n_jobs, **self.params)


def _series(method: str) -> Callable[..., SeriesForecaster]:
    def factory(n_lags: int = 0, n_exog: int = 0, seed: int = 0, **params: Any) -> SeriesForecaster:
        m = int(params.pop("m", 7))
        n_jobs = params.pop("n_jobs", 1)
        if method == "snaive" and params:
            raise ConfigError(f"snaive takes no parameters besides m and n_jobs; got {sorted(params)}")
        return SeriesForecaster(method=method, m=m, n_jobs=n_jobs, params=params)

    factory.__doc__ = f"Per-series {method} (:class:`SeriesForecaster`); ``m`` (season, 7), ``n_jobs``."
    return factory


POOLED_FAMILIES: tuple[str, ...] = ("rf", "svr", "mlp", "gmdh", "grnn", "lstm", "cnn1d")
SERIES_FAMILIES: tuple[str, ...] = ("arima", "ets", "snaive")

MODEL_FAMILIES: dict[str, Callable[..., Any]] = {
    "rf": _rf,
    "svr": _svr,
    "mlp": _mlp,
    "gmdh": _gmdh,
    "grnn": _grnn,
    "lstm": _torch("lstm"),
    "cnn1d": _torch("cnn1d"),
    "arima": _series("arima"),
    "ets": _series("ets"),
    "snaive": _series("snaive"),
}
"""Family name -> ``factory(n_lags, n_exog, seed=0, **params)``."""


def family_kind(name: str) -> Literal["pooled", "series"]:
    """``"pooled"`` (fit/predict on rows of all series) or ``"series"`` (forecast per history)."""
    _check_name(name)
    return "pooled" if name in POOLED_FAMILIES else "series"


def make_model(name: str, n_lags: int, n_exog: int, seed: int = 0, **params: Any) -> Any:
    """Build family ``name``; an unknown name is a :class:`~sciconv.errors.ConfigError` with a did-you-mean."""
    _check_name(name)
    return MODEL_FAMILIES[name](n_lags, n_exog, seed, **params)


def _check_name(name: str) -> None:
    if name not in MODEL_FAMILIES:
        raise ConfigError(
            f"unknown model family {name!r}{did_you_mean(name, MODEL_FAMILIES)}; known: {', '.join(MODEL_FAMILIES)}"
        )


__all__ = [
    "MODEL_FAMILIES",
    "POOLED_FAMILIES",
    "SERIES_FAMILIES",
    "SeriesForecaster",
    "family_kind",
    "make_model",
]
