"""``predict`` of atm-forecast: the run keeps its chosen model and embedding, and predict forecasts the days after
a given file with them; on the run's own held-out horizon it reproduces the run's test metrics exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sciconv
from sciconv.errors import DataError
from sciconv.predicting import predict as predict_run
from sciconv_atm_forecast.atm_simulator import write_simulated_nn5
from sciconv_atm_forecast.models.zoo import make_model
from sciconv_atm_forecast.persist import decode_estimator, encode_estimator
from sciconv_atm_forecast.plugin import TINY_ATM_FORECAST, TINY_ATM_FORECAST_NN5


def _quiet(message: str) -> None:
    return None


def _run(run_dir: Path, **overrides: Any) -> dict[str, Any]:
    sciconv.run("atm-forecast", {**TINY_ATM_FORECAST, **overrides}, run_dir=run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The tiny atm-forecast run (its chosen model: the ensemble of its three best validated models)."""
    run_dir = tmp_path_factory.mktemp("atm-predict") / "run"
    return run_dir, _run(run_dir)


def _check_reproduces(run_dir: Path, metrics: dict[str, Any], out: Path) -> dict[str, Any]:
    prediction = sciconv.load_run(run_dir).predict(split="test", out=out, log=_quiet)
    chosen = metrics["forecast_model"]
    assert {f"{chosen}.smape", f"{chosen}.mase"} <= set(prediction.metrics)
    for key, value in prediction.metrics.items():
        assert value == metrics[key], key
    # the forecast file is the run's own (the held-out horizon, from the training part)
    assert (out / "forecast.csv").read_text() == (run_dir / "forecast.csv").read_text()
    return prediction.metrics


def test_predict_on_the_held_out_horizon_reproduces_the_run_exactly(
    tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    run_dir, metrics = tiny_run
    saved = json.loads((run_dir / "trained" / "forecast.json").read_text())
    assert saved["chosen"] == metrics["forecast_model"]
    assert (
        saved["embedding"]["dim"] == metrics["embedding_dim"] and saved["embedding"]["lag"] == metrics["embedding_lag"]
    )
    reported = _check_reproduces(run_dir, metrics, tmp_path / "out")
    if metrics["forecast_model"] == "ensemble":  # each member is reported too
        assert len(reported) == 2 * (1 + len(saved["members"]))
    table = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert list(table.columns) == ["series_id", "date", "model", "forecast", "actual"]
    assert len(table) == metrics["n_series"] * metrics["horizon"]
    assert "forecast.csv" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("chosen", ["cnn1d", "lstm_nochaos", "mlp", "svr_nochaos", "grnn", "ets"])
def test_every_kind_of_chosen_model_is_kept_and_reproduced(chosen: str, tmp_path: Path) -> None:
    family = chosen.removesuffix("_nochaos")
    run_dir = tmp_path / "run"
    metrics = _run(
        run_dir,
        **{
            "task.params.models": [family],
            "task.params.forecast_model": chosen,
            "task.params.ensemble_size": 0,
            "task.params.plot_series": 0,
        },
    )
    assert metrics["forecast_model"] == chosen
    assert set(_check_reproduces(run_dir, metrics, tmp_path / "out")) == {f"{chosen}.smape", f"{chosen}.mase"}


def test_predict_forecasts_the_days_after_a_new_file_of_another_length(
    tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    run_dir, metrics = tiny_run
    new = {"dataset.params.seed": 7, "dataset.params.n_days": 90, "dataset.params.cache_dir": str(tmp_path / "c")}
    prediction = sciconv.load_run(run_dir).predict(new, out=tmp_path / "out", log=_quiet)
    assert prediction.metrics == {}  # the days forecast are after the file: nothing to score
    table = prediction.tables["predictions"]
    h, n = int(metrics["horizon"]), int(metrics["n_series"])
    assert list(table.columns) == ["series_id", "date", "model", "forecast"] and len(table) == n * h
    assert (table["model"] == metrics["forecast_model"]).all()
    assert np.isfinite(table["forecast"]).all() and (table["forecast"] >= 0).all()
    # the file runs 90 days from 1996-03-18: the forecast starts the day after its end
    first = np.datetime64("1996-03-18") + np.timedelta64(90, "D")
    assert table["date"].iloc[0] == str(first) and table["date"].iloc[h - 1] == str(first + np.timedelta64(h - 1, "D"))
    wide = pd.read_csv(tmp_path / "out" / "forecast.csv", index_col="series_id")
    assert wide.shape == (n, h) and wide.columns[0] == str(first)
    np.testing.assert_allclose(wide.to_numpy().reshape(-1), table["forecast"].to_numpy(), atol=5e-4)
    assert prediction.files == [tmp_path / "out" / "forecast.csv"]


def test_new_data_with_another_number_of_series_is_refused_and_nothing_is_written(
    tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    run_dir, _ = tiny_run
    new = {"dataset.params.n_series": 4, "dataset.params.cache_dir": str(tmp_path / "c")}
    with pytest.raises(DataError) as info:
        sciconv.load_run(run_dir).predict(new, write=True, out=tmp_path / "out", log=_quiet)
    message = str(info.value)
    assert "the run trained on 3 series sampled every 1 day" in message
    assert "these data have 4 series sampled every 1 day" in message and "different n_series" in message
    assert "\n" not in message
    assert not (tmp_path / "out").exists()


def test_a_file_too_short_to_forecast_from_is_refused(tiny_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    run_dir, _ = tiny_run
    new = {"dataset.params.n_days": 10, "dataset.params.cache_dir": str(tmp_path / "c")}
    with pytest.raises(DataError, match=r"10 days of history, but the run's models .* need at least 14"):
        sciconv.load_run(run_dir).predict(new, write=True, out=tmp_path / "out", log=_quiet)
    assert not (tmp_path / "out").exists()


def test_the_nn5_pipeline_predicts_a_new_file(tmp_path: Path) -> None:
    train = write_simulated_nn5(tmp_path / "train", n_series=3, n_days=120, seed=1)
    new = write_simulated_nn5(tmp_path / "new", n_series=3, n_days=150, seed=2)
    run_dir = tmp_path / "run"
    sciconv.run("atm-forecast-nn5", {**TINY_ATM_FORECAST_NN5, "dataset.params.root": str(train)}, run_dir=run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    _check_reproduces(run_dir, metrics, tmp_path / "test")
    prediction = predict_run(run_dir, [f"dataset.params.root={new}"], out=tmp_path / "out")
    wide = pd.read_csv(tmp_path / "out" / "forecast.csv", index_col="series_id")
    assert wide.shape == (3, 14) and len(prediction.tables["predictions"]) == 3 * 14
    assert wide.columns[0] == str(np.datetime64("1996-03-18") + np.timedelta64(150, "D"))
    # an empty folder, or a folder that does not exist, is refused naming it, and nothing is written
    (tmp_path / "empty").mkdir()
    for root in (tmp_path / "empty", tmp_path / "absent"):
        with pytest.raises(DataError, match=str(root)):
            predict_run(run_dir, [f"dataset.params.root={root}"], out=tmp_path / "refused")
        assert not (tmp_path / "refused").exists()


@pytest.mark.parametrize("family", ["rf", "svr", "mlp", "gmdh", "grnn"])
def test_fitted_estimators_are_kept_without_pickle_and_predict_the_same(family: str) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.random((300, 10)), rng.random(300)
    params = {"n_estimators": 3, "n_jobs": 1} if family == "rf" else {}
    model = make_model(family, 3, 7, 0, **params).fit(X, y)
    state, arrays = encode_estimator(model)
    state = json.loads(json.dumps(state, allow_nan=False))
    rebuilt = decode_estimator(state, {k: v.copy() for k, v in arrays.items()})
    X_new = rng.random((40, 10))
    assert np.array_equal(rebuilt.predict(X_new), model.predict(X_new))


def test_a_state_naming_another_class_is_refused() -> None:
    state = {"estimator": {"__estimator__": "os:system", "attrs": {}}}
    with pytest.raises(ValueError, match="refusing to build 'os:system'"):
        decode_estimator(state, {})
