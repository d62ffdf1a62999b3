"""The plugin's pipelines: registration, the NN5 pipeline's defaults, and the conformance of every component."""

from __future__ import annotations

from pathlib import Path

import pytest

import sciconv
from sciconv import DataSpec
from sciconv.errors import ConfigError
from sciconv.pipeline import resolve_pipeline_file
from sciconv.registry import get_registry
from sciconv.testing import check_plugin
from sciconv_atm_forecast.atm_simulator import write_simulated_nn5

NN5 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nn5"


def test_pipelines_and_components_are_registered() -> None:
    registry = get_registry()
    for name in ("atm-forecast", "atm-forecast-nn5"):
        assert registry.entry("pipelines", name).plugin == "atm-forecast"
        assert resolve_pipeline_file(name).name == f"{name}.yaml"
    for kind, name in (("datasets", "atm.nn5"), ("datasets", "atm.simulated"), ("models", "atm.cnn1d")):
        assert registry.entry(kind, name).plugin == "atm-forecast"
    assert registry.entry("tasks", "atm.forecast").plugin == "atm-forecast"


def test_the_nn5_pipeline_needs_a_root_and_defaults_to_a_56_day_holdout(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.params\.root"):
        sciconv.load_pipeline("atm-forecast-nn5")
    root = write_simulated_nn5(tmp_path, n_series=3, n_days=200)
    params = sciconv.load_pipeline("atm-forecast-nn5", {"dataset.params.root": str(root)}).config.task.params
    assert params["horizon"] == 56 and params["holdout"] is True
    assert params["models"] == ["arima", "rf", "svr", "mlp", "gmdh", "grnn", "lstm", "cnn1d"]


def test_conformance_of_every_component_and_pipeline(tmp_path: Path) -> None:
    root = write_simulated_nn5(tmp_path, n_series=3, n_days=200)
    report = check_plugin(
        "atm-forecast",
        pipeline_overrides={
            "atm-forecast": {"dataset.params.n_series": 3},
            "atm-forecast-nn5": {"dataset.params.root": str(NN5 if NN5.is_dir() else root)},
        },
        extra_models={"atm.lstm": (DataSpec((5 + 7,), 1, "forecasting", extra={"n_lags": 5, "n_exog": 7}), {})},
    )
    assert sorted(report.pipelines) == ["atm-forecast", "atm-forecast-nn5"]
    assert sorted(report.datasets) == ["atm.nn5", "atm.simulated"]
    assert sorted(report.models) == ["atm.cnn1d", "atm.lstm"] and report.tasks == ["atm.forecast"]
