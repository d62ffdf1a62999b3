"""The plugin's models: the two networks (one per file, each with its registered factory), the wrapper that
trains them like scikit-learn estimators, and the zoo of the paper's model families by name.

- :mod:`~sciconv_atm_forecast.models.cnn1d`: :class:`CNN1dForecaster`, factory :func:`CNN1dNet`
  (``atm-forecast.cnn1d``);
- :mod:`~sciconv_atm_forecast.models.lstm`: :class:`LSTMForecaster`, factory :func:`LSTMNet`
  (``atm-forecast.lstm``);
- :mod:`~sciconv_atm_forecast.models.torch_regressor`: :class:`TorchRegressor`, ``fit(X, y)`` / ``predict(X)``
  on design rows ``(n_rows, n_lags + n_exog)``, trained by the core's :class:`~sciconv.context.Trainer`;
- :mod:`~sciconv_atm_forecast.models.zoo`: :data:`MODEL_FAMILIES` (``rf``, ``svr``, ``mlp``, ``gmdh``, ``grnn``,
  ``lstm``, ``cnn1d``, ``arima``, ``ets``, ``snaive``) and :func:`make_model`; the classical learners themselves
  are the field's baselines in :mod:`~sciconv_atm_forecast.regressors` and
  :mod:`~sciconv_atm_forecast.statistical`.
"""

from __future__ import annotations

from sciconv_atm_forecast.models.cnn1d import CNN1dForecaster, CNN1dNet
from sciconv_atm_forecast.models.lstm import LSTMForecaster, LSTMNet
from sciconv_atm_forecast.models.torch_regressor import ARCHITECTURES, TorchRegressor
from sciconv_atm_forecast.models.zoo import (
    MODEL_FAMILIES,
    POOLED_FAMILIES,
    SERIES_FAMILIES,
    SeriesForecaster,
    family_kind,
    make_model,
)

__all__ = [
    "ARCHITECTURES",
    "MODEL_FAMILIES",
    "POOLED_FAMILIES",
    "SERIES_FAMILIES",
    "CNN1dForecaster",
    "CNN1dNet",
    "LSTMForecaster",
    "LSTMNet",
    "SeriesForecaster",
    "TorchRegressor",
    "family_kind",
    "make_model",
]
