"""The plugin's pipelines: registration (and the deprecated old names), the NN5 pipeline's defaults, the tiny
smoke overrides, and the conformance of every component."""

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
from sciconv_atm_forecast.models import CNN1dNet, LSTMNet
from sciconv_atm_forecast.plugin import TINY_ATM_FORECAST, TINY_ATM_FORECAST_NN5

NN5 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nn5"


def test_pipelines_and_components_are_registered(tmp_path: Path) -> None:
    registry = get_registry()
    for name, tiny in (("atm-forecast", TINY_ATM_FORECAST), ("atm-forecast-nn5", TINY_ATM_FORECAST_NN5)):
        assert registry.entry("pipelines", name).plugin == "atm-forecast"
        assert dict(registry.entry("pipelines", name).tiny) == tiny
        assert resolve_pipeline_file(name).name == f"{name}.yaml"
    for kind, name in (
        ("datasets", "atm-forecast.nn5"),
        ("datasets", "atm-forecast.simulated"),
        ("models", "atm-forecast.cnn1d"),
        ("models", "atm-forecast.lstm"),
        ("tasks", "atm-forecast.forecast"),
    ):
        assert registry.entry(kind, name).plugin == "atm-forecast"
    root = write_simulated_nn5(tmp_path, n_series=3, n_days=200)
    for name in ("atm-forecast", "atm-forecast-nn5"):
        config = sciconv.load_pipeline(name, {"dataset.params.root": str(root)} if name.endswith("nn5") else {}).config
        assert config.task.name == "atm-forecast.forecast" and config.model.name == "atm-forecast.cnn1d"


@pytest.mark.parametrize(
    ("kind", "old", "new"),
    [
        ("datasets", "atm.nn5", "atm-forecast.nn5"),
        ("datasets", "atm.simulated", "atm-forecast.simulated"),
        ("models", "atm.cnn1d", "atm-forecast.cnn1d"),
        ("models", "atm.lstm", "atm-forecast.lstm"),
        ("tasks", "atm.forecast", "atm-forecast.forecast"),
    ],
)
def test_the_old_names_still_resolve_with_a_deprecation_warning(kind: str, old: str, new: str) -> None:
    registry = get_registry()
    with pytest.warns(FutureWarning, match=rf"'{old}' is deprecated; use '{new}'"):
        entry = registry.entry(kind, old)
    assert entry is registry.entry(kind, new)
    assert old not in registry.names(kind)
    if kind == "models":
        assert entry.load() is {"atm-forecast.cnn1d": CNN1dNet, "atm-forecast.lstm": LSTMNet}[new]


def test_the_nn5_pipeline_needs_a_root_and_defaults_to_a_56_day_holdout(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.params\.root"):
        sciconv.load_pipeline("atm-forecast-nn5")
    root = write_simulated_nn5(tmp_path, n_series=3, n_days=200)
    params = sciconv.load_pipeline("atm-forecast-nn5", {"dataset.params.root": str(root)}).config.task.params
    assert params["horizon"] == 56 and params["holdout"] is True
    assert params["models"] == ["arima", "rf", "svr", "mlp", "gmdh", "grnn", "lstm", "cnn1d"]


def test_conformance_of_every_component_and_pipeline(tmp_path: Path) -> None:
    # The tiny runs read a small simulated NN5-layout file (the real file is read in test_nn5_io.py and
    # test_atm_datasets.py; a run on its 111 series takes minutes). check_plugin runs each pipeline twice and
    # compares the metrics, leaving out wall-clock timings (<model>.fit_s).
    root = write_simulated_nn5(tmp_path, n_series=3, n_days=120)
    report = check_plugin(
        "atm-forecast",
        pipeline_overrides={"atm-forecast-nn5": {"dataset.params.root": str(root)}},
        extra_models={
            "atm-forecast.lstm": (DataSpec((5 + 7,), 1, "forecasting", extra={"n_lags": 5, "n_exog": 7}), {})
        },
    )
    assert sorted(report.pipelines) == ["atm-forecast", "atm-forecast-nn5"]
    assert sorted(report.datasets) == ["atm-forecast.nn5", "atm-forecast.simulated"]
    assert sorted(report.models) == ["atm-forecast.cnn1d", "atm-forecast.lstm"]
    assert report.tasks == ["atm-forecast.forecast"]
    for name, families in (("atm-forecast", ("rf", "gmdh", "cnn1d", "lstm")), ("atm-forecast-nn5", ("rf", "cnn1d"))):
        metrics = report.runs[name]
        assert metrics["horizon"] == 14, name
        for family in (*families, "ets", "snaive"):
            assert f"{family}.smape" in metrics, (name, family)
