"""Hook module of the ATM cash demand forecasting plugin: names and lazy references only (no torch or numpy).

Components are named ``atm-forecast.<kebab-case>``; the names before issue 16 (``atm.forecast``, ``atm.nn5``,
``atm.simulated``, ``atm.cnn1d``, ``atm.lstm``) still resolve, as deprecated aliases.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

# Smoke-test overrides (dotted keys -> values) that run each pipeline end to end in seconds (the conformance kit
# runs each twice). The metrics ``<model>.fit_s`` are wall-clock seconds and differ between any two runs.
TINY_ATM_FORECAST: dict[str, Any] = {
    "dataset.params.n_series": 3,
    "dataset.params.n_days": 120,
    "task.params.horizon": 14,
    "task.params.models": ["rf", "gmdh", "cnn1d", "lstm"],
    "task.params.model_params": {
        "rf": {"n_estimators": 10, "n_jobs": 1},
        "cnn1d": {"epochs": 1},
        "lstm": {"epochs": 1},
        "ets": {"candidates": [["add", None, False, "add"]]},
    },
    "task.params.plot_series": 1,
    "parallel.n_jobs": 1,
}
# atm-forecast-nn5 reads a file given as dataset.params.root: only the schedule is made small here.
TINY_ATM_FORECAST_NN5: dict[str, Any] = {
    "task.params.horizon": 14,
    "task.params.models": ["rf", "cnn1d"],
    "task.params.model_params": {
        "rf": {"n_estimators": 10, "n_jobs": 1},
        "cnn1d": {"epochs": 1},
        "ets": {"candidates": [["add", None, False, "add"]]},
    },
    "task.params.plot_series": 1,
    "parallel.n_jobs": 1,
}


@hookimpl
def register_datasets(register: Register) -> None:
    register("atm-forecast.nn5", "sciconv_atm_forecast.datasets:NN5Dataset", aliases=("atm.nn5",))
    register("atm-forecast.simulated", "sciconv_atm_forecast.datasets:SimulatedATMDataset", aliases=("atm.simulated",))


@hookimpl
def register_models(register: Register) -> None:
    register("atm-forecast.cnn1d", "sciconv_atm_forecast.models.cnn1d:CNN1dNet", aliases=("atm.cnn1d",))
    register("atm-forecast.lstm", "sciconv_atm_forecast.models.lstm:LSTMNet", aliases=("atm.lstm",))


@hookimpl
def register_tasks(register: Register) -> None:
    register("atm-forecast.forecast", "sciconv_atm_forecast.forecast_task:ForecastTask", aliases=("atm.forecast",))


@hookimpl
def register_pipelines(register: Register) -> None:
    register("atm-forecast", "sciconv.pipelines:atm-forecast.yaml", tiny=TINY_ATM_FORECAST)
    register("atm-forecast-nn5", "sciconv.pipelines:atm-forecast-nn5.yaml", tiny=TINY_ATM_FORECAST_NN5)
