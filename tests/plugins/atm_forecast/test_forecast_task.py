"""The forecasting task end to end on small simulated files: metrics, forecast.csv, holdout without leakage,
forecasting past the file's end, per-series fits independent of the worker count, and bad input."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import sciconv
from sciconv.errors import ConfigError, DataError
from sciconv.pipeline import RunResult
from sciconv_atm_forecast.atm_simulator import simulate_atm_withdrawals
from sciconv_atm_forecast.nn5_io import read_series_table, write_series_table

H = 14
SMALL = {
    "task.params.horizon": H,
    "task.params.models": ["arima", "rf", "gmdh", "cnn1d"],
    "task.params.model_params": {
        "rf": {"n_estimators": 10, "n_jobs": 1},
        "cnn1d": {"epochs": 2},
        "arima": {"orders": [[1, 0, 0]]},
    },
    "parallel.n_jobs": 1,
    "task.params.plot_series": 2,
}


ONE_ETS = {"ets": {"candidates": [["add", None, False, "add"]]}}  # one ETS form: seconds, not tens of seconds


def _file(tmp_path: Path, n_series: int = 5, n_days: int = 160, seed: int = 3) -> Path:
    table = simulate_atm_withdrawals(n_series=n_series, n_days=n_days, seed=seed)
    return write_series_table(table, tmp_path / f"atm-{seed}" / "nn5_daily_train.csv")


def _run(tmp_path: Path, root: Path, name: str, **overrides: object) -> RunResult:
    return sciconv.run(
        "atm-forecast-nn5",
        overrides={**SMALL, "dataset.params.root": str(root), **overrides},
        run_dir=tmp_path / name,
    )


def test_metrics_forecast_file_report_and_plot(tmp_path: Path) -> None:
    root = _file(tmp_path)
    result = _run(tmp_path, root, "run")
    m = result.metrics
    names = ["arima", "arima_nochaos", "rf", "rf_nochaos", "gmdh", "gmdh_nochaos", "cnn1d", "cnn1d_nochaos"]
    for name in [*names, "snaive", "ets", "ensemble"]:
        assert np.isfinite(m[f"{name}.smape"]) and 0 <= m[f"{name}.smape"] <= 200, name
        assert np.isfinite(m[f"{name}.mase"]) and m[f"{name}.mase"] >= 0, name
        assert np.isfinite(m[f"{name}.val_smape"]), name
    # the chosen model is the best validated one, and its p-value against itself is not reported
    val = {k[: -len(".val_smape")]: v for k, v in m.items() if k.endswith(".val_smape")}
    assert m["best_model"] == min(val, key=lambda k: (val[k], k)) == m["forecast_model"]
    assert f"{m['best_model']}.p_vs_best" not in m and "rf.p_chaos" in m
    assert m["horizon"] == H and m["n_train_days"] == 160 - H
    # forecast.csv: one row per series (the input's ids), one column per held-out day
    table = read_series_table(root)
    forecast = pd.read_csv(result.run_dir / "forecast.csv", index_col="series_id")
    assert list(forecast.index) == table.ids
    assert list(forecast.columns) == [str(d) for d in table.dates[-H:]]
    values = forecast.to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    report = (result.run_dir / "report.md").read_text()
    assert "TBATS" in report and "not this holdout" in report and "Chaos modelling" in report
    assert "With and without chaos features" in report
    assert (result.run_dir / "plots" / "forecasts.png").is_file()


def test_held_out_days_never_reach_the_models(tmp_path: Path) -> None:
    """Changing (or blanking) the held-out days changes the scores but not a single forecast."""
    root = _file(tmp_path)
    table = read_series_table(root)
    changed = table.values.copy()
    changed[:, -H:] *= 3.0
    changed[0, -3:] = np.nan
    other = write_series_table(table.with_values(changed), tmp_path / "changed" / "nn5_daily_train.csv")
    overrides = {"task.params.models": ["rf", "gmdh"], "task.params.forecast_model": "rf"}
    a = _run(tmp_path, root, "a", **overrides)
    b = _run(tmp_path, other, "b", **overrides)
    fa = pd.read_csv(a.run_dir / "forecast.csv", index_col=0)
    fb = pd.read_csv(b.run_dir / "forecast.csv", index_col=0)
    pd.testing.assert_frame_equal(fa, fb)
    assert a.metrics["rf.val_smape"] == b.metrics["rf.val_smape"]
    assert a.metrics["rf.smape"] != b.metrics["rf.smape"]


def test_without_holdout_it_forecasts_the_days_after_the_file(tmp_path: Path) -> None:
    root = _file(tmp_path)
    result = _run(tmp_path, root, "future", **{"task.params.holdout": False, "task.params.models": ["gmdh"]})
    table = read_series_table(root)
    forecast = pd.read_csv(result.run_dir / "forecast.csv", index_col=0)
    first = table.dates[-1] + np.timedelta64(1, "D")
    assert list(forecast.columns) == [str(first + np.timedelta64(k, "D")) for k in range(H)]
    assert result.metrics["n_train_days"] == 160
    assert not any(k.endswith(".smape") for k in result.metrics)  # nothing held out, nothing scored
    assert "gmdh.val_smape" in result.metrics


def test_series_forecasts_do_not_depend_on_the_worker_count(tmp_path: Path) -> None:
    """The per-series fits (ARIMA, ETS, seasonal naive) run as independent jobs: parallel.n_jobs 1 and 2 give the
    same forecasts and scores."""
    root = _file(tmp_path)
    overrides = {"task.params.models": ["arima"], "task.params.variants": ["nochaos"], "task.params.plot_series": 0}
    serial = _run(tmp_path, root, "serial", **overrides)
    parallel = _run(tmp_path, root, "parallel", **{**overrides, "parallel.n_jobs": 2})
    pd.testing.assert_frame_equal(
        pd.read_csv(serial.run_dir / "forecast.csv", index_col=0),
        pd.read_csv(parallel.run_dir / "forecast.csv", index_col=0),
    )
    for name in ("arima_nochaos", "ets", "snaive"):
        for key in ("val_smape", "smape", "mase"):
            assert serial.metrics[f"{name}.{key}"] == parallel.metrics[f"{name}.{key}"], f"{name}.{key}"


def test_too_short_a_file_is_a_clear_error(tmp_path: Path) -> None:
    root = _file(tmp_path, n_days=60)
    with pytest.raises(DataError, match=r"has 60 days but this run needs at least 65"):
        _run(tmp_path, root, "short")
    assert not (tmp_path / "short" / "metrics.json").exists()


def test_too_short_a_file_names_its_days_what_is_needed_and_the_settings_that_lower_it(tmp_path: Path) -> None:
    """A 39-day file under the default 56-day horizon (the user's case): the message gives the file's 39 days
    (never a negative count), the days needed and what they are made of, and the overrides that lower it."""
    root = _file(tmp_path, n_days=39)
    with pytest.raises(DataError) as info:
        _run(tmp_path, root, "short", **{"task.params.horizon": 56})
    message = str(info.value)
    assert "\n" not in message and str(root) in message
    assert not re.search(r"(?<![\w.])-\d", message), message  # no negative count
    assert "the file has 39 days but this run needs at least 191" in message  # 56 held out + 56 validation + 79
    assert "56 held out (task.params.horizon=56)" in message
    assert "56 of validation (task.params.val_days, default the horizon)" in message
    assert "at least 79 before them to fit on" in message
    for key in ("task.params.horizon=", "task.params.val_days=", "task.params.holdout=false"):
        assert key in message
    # the settings it suggests fit this file: horizon 5 (validation 5): 5 + 5 + (5 + 23) = 38 <= 39 days
    assert "task.params.horizon=5" in message


@pytest.mark.parametrize(("holdout", "needed"), [(True, 14 + 7 + 30), (False, 7 + 30)])
def test_the_days_a_run_needs_are_the_days_the_message_gives(tmp_path: Path, holdout: bool, needed: int) -> None:
    """One day fewer than the message's count is refused with that count; exactly that many days run."""
    overrides = {
        "task.params.holdout": holdout,
        "task.params.val_days": 7,
        "task.params.models": ["gmdh"],
        "task.params.variants": ["nochaos"],
        "task.params.plot_series": 0,
        "task.params.model_params": ONE_ETS,
    }
    short = _file(tmp_path, n_series=3, n_days=needed - 1)
    with pytest.raises(DataError, match=rf"has {needed - 1} days but this run needs at least {needed}\b"):
        _run(tmp_path, short, "short", **overrides)
    enough = _file(tmp_path, n_series=3, n_days=needed, seed=4)
    result = _run(tmp_path, enough, "enough", **overrides)
    assert np.isfinite(result.metrics["gmdh_nochaos.val_smape"])


def _sections(report: str) -> dict[str, str]:
    """The report's ``## `` sections by heading."""
    parts = re.split(r"^## (.+)$", report, flags=re.MULTILINE)
    return {parts[k].strip(): parts[k + 1].strip() for k in range(1, len(parts), 2)}


def test_the_report_of_daily_data_claims_no_rate_in_hz(tmp_path: Path) -> None:
    root = _file(tmp_path, n_series=3, n_days=120)
    overrides = {
        "task.params.models": ["gmdh"],
        "task.params.variants": ["nochaos"],
        "task.params.plot_series": 0,
        "task.params.model_params": ONE_ETS,
    }
    report = (_run(tmp_path, root, "daily", **overrides).run_dir / "report.md").read_text()
    data = next(line for line in report.splitlines() if line.startswith("- **Data**"))
    assert "Hz" not in data and "daily" in data, data


def test_the_report_lists_only_the_networks_that_ran_with_their_settings(tmp_path: Path) -> None:
    """Only the MLP runs (task.params.models=[mlp]): the report's networks are the MLP's, with the settings it
    trained with; no CNN (the pipeline's model) is listed as trained."""
    root = _file(tmp_path, n_series=3, n_days=120)
    overrides = {
        "task.params.models": ["mlp"],
        "task.params.plot_series": 0,
        "task.params.model_params": {"mlp": {"max_iter": 20, "learning_rate_init": 0.003}, **ONE_ETS},
    }
    result = _run(tmp_path, root, "mlp", **overrides)
    sections = _sections((result.run_dir / "report.md").read_text())
    networks = sections["Networks trained"]
    rows = [line for line in networks.splitlines() if line.startswith("| ") and not line.startswith("| network")]
    assert [row.split("|")[1].strip() for row in rows] == ["mlp"]
    assert "lr 0.003" in rows[0] and "up to 20 epochs" in rows[0] and "hidden layers (64, 32)" in rows[0]
    assert "mlp, mlp_nochaos" in rows[0]
    # the pipeline's model (the CNN, named by the core's "What ran" lines) is said not to have been built
    assert "`atm-forecast.cnn1d`, was not built" in networks and "train.seed" in networks
    task_sections = {k: v for k, v in sections.items() if k not in ("What ran", "Results", "Files", "Plots")}
    for heading, body in task_sections.items():
        if heading != "Networks trained":
            assert "cnn1d" not in body and "lstm" not in body, heading
    assert "lstm" not in networks


def test_the_report_gives_the_cnns_actual_training_settings(tmp_path: Path) -> None:
    root = _file(tmp_path, n_series=3, n_days=120)
    overrides = {
        "task.params.models": ["cnn1d"],
        "task.params.variants": ["chaos"],
        "task.params.plot_series": 0,
        "task.params.ensemble_size": 0,
        "task.params.model_params": {"cnn1d": {"epochs": 2, "batch_size": 128}, **ONE_ETS},
        "model.params": {"hidden": 16},
    }
    result = _run(tmp_path, root, "cnn", **overrides)
    networks = _sections((result.run_dir / "report.md").read_text())["Networks trained"]
    rows = [line for line in networks.splitlines() if line.startswith("| ") and not line.startswith("| network")]
    assert [row.split("|")[1].strip() for row in rows] == ["cnn1d"]
    row = rows[0]
    assert "atm-forecast.cnn1d" in row and "hidden=16" in row and "channels=[32, 32]" in row
    assert "lr 0.002" in row and "batch 512" not in row and "batch 128" in row and "up to 2 epochs" in row
    assert re.search(r"cnn1d: [12] epochs, [\d,]+ weights", row), row  # at most the 2 epochs asked for
    assert "lstm" not in networks and "mlp" not in networks


def test_a_series_missing_on_every_training_day_is_named(tmp_path: Path) -> None:
    table = simulate_atm_withdrawals(n_series=4, n_days=160, seed=1)
    values = table.values.copy()
    values[2, :-H] = np.nan  # observed only in the held-out days
    root = write_series_table(table.with_values(values), tmp_path / "data" / "nn5_daily_train.csv")
    with pytest.raises(DataError, match=rf"series {table.ids[2]} has no observed day"):
        _run(tmp_path, root, "gappy")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("task.params.models", ["rf", "randomforest"], "unknown family 'randomforest'"),
        ("task.params.variants", ["chaotic"], "chaos and/or nochaos"),
        ("task.params.forecast_model", "svr", "one of this run's models"),
        ("task.params.model_params", {"svm": {"C": 1}}, "unknown model family svm"),
        ("task.params.embedding", {"dimension": 3}, "unknown key"),
        ("task.params.horizon", 0, r"task\.params\.horizon: expected an integer >= 1"),
        ("task.params.horizon", True, r"task\.params\.horizon: expected an integer >= 1 for task .*, got True"),
        ("task.params.val_days", 2.0, r"task\.params\.val_days: expected"),
        ("task.params.ensemble_size", -1, r"task\.params\.ensemble_size: expected an integer >= 0"),
        ("task.params.plot_series", False, r"task\.params\.plot_series: expected an integer >= 0 .*, got False"),
        ("task.params.embedding", {"max_dim": 1}, r"task\.params\.embedding\.max_dim: expected an integer >= 2"),
        ("parallel.n_jobs", 0, r"parallel\.n_jobs"),
        ("task.params.model_params", {"arima": {"n_jobs": 2}}, r"model_params\.arima\.n_jobs: .* parallel\.n_jobs"),
    ],
)
def test_bad_parameters_are_named(tmp_path: Path, key: str, value: object, message: str) -> None:
    root = _file(tmp_path)
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("atm-forecast-nn5", {**SMALL, "dataset.params.root": str(root), key: value})


class _Ctx:
    """The parts of a run context ``ForecastTask._params`` reads."""

    def __init__(self, model_name: str, model_params: dict) -> None:
        from types import SimpleNamespace

        self.config = SimpleNamespace(model=SimpleNamespace(name=model_name))
        self.model_params = model_params
        self.device = "cpu"
        self.model_factory = object()  # the pipeline's factory, as the run gives it
        self.named: list[str] = []

    def model_factory_named(self, name: str) -> object:
        from sciconv.registry import get_registry

        self.named.append(name)
        return get_registry().load("models", name)


@pytest.mark.parametrize("pipeline_model", ["atm-forecast.cnn1d", "atm.cnn1d"])
def test_the_networks_come_from_the_pipelines_model_and_the_registered_lstm(pipeline_model: str) -> None:
    from sciconv_atm_forecast.forecast_task import ForecastTask
    from sciconv_atm_forecast.models import LSTMNet

    task = ForecastTask(model_params={"cnn1d": {"epochs": 3, "module_params": {"hidden": 8, "dropout": 0.2}}})
    ctx = _Ctx(pipeline_model, {"hidden": 16})
    cnn = task._params(ctx, "cnn1d")
    assert cnn["model_factory"] is ctx.model_factory  # the pipeline's model: section ...
    assert cnn["module_params"] == {"hidden": 16, "dropout": 0.2}  # ... with its model.params over the task's
    assert cnn["epochs"] == 3 and cnn["device"] == "cpu"
    lstm = task._params(ctx, "lstm")
    assert lstm["model_factory"] is LSTMNet and ctx.named == ["atm-forecast.lstm"]
    assert "module_params" not in lstm
    assert "model_factory" not in task._params(ctx, "rf")


def test_a_pipeline_whose_model_is_the_lstm_builds_the_cnn_from_its_registered_model() -> None:
    from sciconv_atm_forecast.forecast_task import ForecastTask
    from sciconv_atm_forecast.models import CNN1dNet

    ctx = _Ctx("atm-forecast.lstm", {"hidden_size": 8})
    task = ForecastTask()
    lstm = task._params(ctx, "lstm")
    assert lstm["model_factory"] is ctx.model_factory and lstm["module_params"] == {"hidden_size": 8}
    assert task._params(ctx, "cnn1d")["model_factory"] is CNN1dNet and ctx.named == ["atm-forecast.cnn1d"]


def test_the_lstm_trains_through_the_registered_model(tmp_path: Path) -> None:
    """A run with the LSTM as the pipeline's model: its model.params reach the LSTM family's network."""
    root = _file(tmp_path, n_series=3)
    overrides = {
        "task.params.models": ["lstm"],
        "task.params.variants": ["chaos"],
        "task.params.model_params": {"lstm": {"epochs": 1}, "ets": {"candidates": [["add", None, False, "add"]]}},
        "task.params.ensemble_size": 0,
        "task.params.plot_series": 0,
        "model.name": "atm-forecast.lstm",
    }
    small = _run(tmp_path, root, "small", **overrides, **{"model.params": {"hidden_size": 4, "head_hidden": 4}})
    wide = _run(tmp_path, root, "wide", **overrides, **{"model.params": {"hidden_size": 5, "head_hidden": 4}})
    assert np.isfinite(small.metrics["lstm.smape"]) and np.isfinite(wide.metrics["lstm.smape"])
    assert small.metrics["lstm.val_smape"] != wide.metrics["lstm.val_smape"]
    assert small.metrics["ets.val_smape"] == wide.metrics["ets.val_smape"]


def _quiet(message: str) -> None:
    return None


class TinyNet(torch.nn.Module):
    """A network of the user's own (``pipe.model = TinyNet``): one hidden layer over the design row.

    Shapes: (N, n_lags + n_exog) -> (N,)."""

    def __init__(self, spec: object, width: int = 4, slope: float = 0.1) -> None:
        super().__init__()
        from sciconv_atm_forecast.features import spec_sizes

        n_lags, n_exog = spec_sizes(spec)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(n_lags + n_exog, width), torch.nn.LeakyReLU(slope), torch.nn.Linear(width, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(-1)


def test_a_run_of_the_users_own_network_is_applied_to_new_data_and_reported_as_it(tmp_path: Path) -> None:
    """``pipe.model = TinyNet`` trains the CNN family's network (the pipeline's model: names atm-forecast.cnn1d);
    config.yaml names it python:...:TinyNet, and predict with the same factory rebuilds that network (not the
    registered CNN) and reproduces the run's test metrics exactly. The report names TinyNet and its own settings."""
    import json

    from sciconv_atm_forecast.plugin import TINY_ATM_FORECAST

    overrides = {
        **TINY_ATM_FORECAST,
        "task.params.models": ["cnn1d"],
        "task.params.variants": ["chaos"],
        "task.params.forecast_model": "cnn1d",
        "task.params.ensemble_size": 0,
        "task.params.plot_series": 0,
    }
    pipe = sciconv.load_pipeline("atm-forecast", overrides)
    pipe.model = TinyNet
    pipe.config.model.params = {"width": 6}  # TinyNet's, not the registered CNN's
    result = pipe.run(run_dir=tmp_path / "run")
    run_dir = result.run_dir
    assert re.search(r"name: python:\S+:TinyNet\n", (run_dir / "config.yaml").read_text())
    recorded = json.loads((run_dir / "trained" / "forecast.json").read_text())["pipeline_model"]
    assert recorded["family"] == "cnn1d" and recorded["own"] and recorded["name"].endswith(":TinyNet")

    prediction = sciconv.load_run(run_dir).predict(split="test", out=tmp_path / "out", model=TinyNet, log=_quiet)
    assert prediction.metrics == {k: result.metrics[k] for k in ("cnn1d.smape", "cnn1d.mase")}
    assert (tmp_path / "out" / "forecast.csv").read_text() == (run_dir / "forecast.csv").read_text()
    # the factory was given its model.params: another width does not fit the saved weights
    with pytest.raises(sciconv.CheckpointError, match=r"model-cnn1d\.safetensors"):
        sciconv.load_run(run_dir).predict(split="test", model=lambda spec, width: TinyNet(spec, width + 1))

    networks = _sections((run_dir / "report.md").read_text())["Networks trained"]
    row = next(line for line in networks.splitlines() if line.startswith("| cnn1d"))
    assert "`TinyNet` (the pipeline's own model, python:" in row and ":TinyNet, model.params)" in row
    assert "| width=6, slope=0.1 |" in row  # its own settings, none of the registered CNN's
    assert "atm-forecast.cnn1d" not in row and "channels" not in row and "kernel_size" not in row


def test_predict_builds_the_family_the_run_recorded_with_the_given_factory() -> None:
    """A run whose pipeline model (named atm-forecast.lstm in the pipeline) was the user's own factory records the
    lstm family; predict, whose config names python:...:MyNet, builds the LSTM with the given factory and the CNN
    with its registered model. A run that recorded nothing: a python: reference stands in for the CNN."""
    from sciconv_atm_forecast.forecast_task import ForecastTask, PipelineModel
    from sciconv_atm_forecast.models import CNN1dNet

    task = ForecastTask(model_params={"lstm": {"module_params": {"width": 3}}})
    ctx = _Ctx("python:__main__:MyNet", {"width": 5})
    recorded = {"pipeline_model": {"family": "lstm", "name": "python:__main__:MyNet", "own": True}}
    pipeline = PipelineModel.of_trained(ctx, recorded)
    assert pipeline == PipelineModel("lstm", "python:__main__:MyNet", own=True) and pipeline.label == "MyNet"
    lstm = task._params(ctx, "lstm", pipeline)
    assert lstm["model_factory"] is ctx.model_factory and lstm["module_params"] == {"width": 5}
    assert task._params(ctx, "cnn1d", pipeline)["model_factory"] is CNN1dNet
    assert ctx.named == ["atm-forecast.cnn1d"]
    older = PipelineModel.of_trained(ctx, {})
    assert older.family == "cnn1d" and older.own
    assert task._params(ctx, "cnn1d", older)["model_factory"] is ctx.model_factory
    # a registered name builds its own family; any other name neither
    assert PipelineModel.by_name("atm.lstm") == PipelineModel("lstm", "atm.lstm")
    assert PipelineModel.by_name("some.other-model").family is None


def test_the_report_says_when_the_users_own_network_was_not_built() -> None:
    from sciconv_atm_forecast.forecast_task import ForecastTask, PipelineModel, Round

    task = ForecastTask(models=["rf"])
    text = task._networks_section(Round(), ["rf", "snaive", "ets"], PipelineModel("cnn1d", "python:m:MyNet", True))
    assert "No neural network was trained" in text
    assert "`python:m:MyNet`, was not built: it stands in for the cnn1d network, and cnn1d is not among" in text
