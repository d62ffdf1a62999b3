"""Hook module of the ATM cash demand forecasting plugin: names and lazy references only (no torch or numpy)."""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("atm.nn5", "sciconv_atm_forecast.datasets:NN5Dataset")
    register("atm.simulated", "sciconv_atm_forecast.datasets:SimulatedATMDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("atm.cnn1d", "sciconv_atm_forecast.forecast_task:CNN1dNet")
    register("atm.lstm", "sciconv_atm_forecast.forecast_task:LSTMNet")


@hookimpl
def register_tasks(register: Register) -> None:
    register("atm.forecast", "sciconv_atm_forecast.forecast_task:ForecastTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("atm-forecast", "sciconv.pipelines:atm-forecast.yaml")
    register("atm-forecast-nn5", "sciconv.pipelines:atm-forecast-nn5.yaml")
