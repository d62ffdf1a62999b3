"""The dataset components: the real NN5 file, the simulated cohort through the real reader, and bad roots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sciconv
from sciconv.errors import ConfigError, DataError
from sciconv.testing import check_dataset
from sciconv_atm_forecast.datasets import NN5Dataset, SimulatedATMDataset
from sciconv_atm_forecast.nn5_io import read_series_table

NN5 = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nn5"


def test_the_real_nn5_file_through_the_dataset() -> None:
    if not NN5.is_dir():
        pytest.skip(f"the real NN5 sample is not at {NN5}")
    with pytest.warns(UserWarning, match="line 2"):  # the published file's stray 112th value
        bundle = NN5Dataset(root=str(NN5)).load()
    table = bundle.info["table"]
    assert (table.n_series, table.n_days) == (111, 735)
    assert table.ids[0] == "N101" and table.ids[-1] == "N211"
    assert str(table.dates[0]) == "1996-03-18" and str(table.dates[-1]) == "1998-03-22"
    assert bundle.spec.input_shape == (1, 735) and bundle.spec.task_type == "forecasting"
    x, i = bundle.train[5]
    assert x.shape == (1, 735) and int(i) == 5 and np.isfinite(x.numpy()).all()  # imputed for generic tools
    assert 0.0 < bundle.info["missing_fraction"] < 0.05


def test_simulated_cohort_is_read_back_by_the_real_reader(tmp_path: Path) -> None:
    bundle = check_dataset(SimulatedATMDataset, {"n_series": 6, "n_days": 120, "seed": 4, "cache_dir": str(tmp_path)})
    table = bundle.info["table"]
    assert (table.n_series, table.n_days) == (6, 120)
    files = list(tmp_path.glob("atm-*/nn5_daily_train.csv"))
    assert len(files) == 1  # written once in the NN5 layout, and the table is what the reader gives
    again = read_series_table(files[0])
    np.testing.assert_array_equal(np.isnan(again.values), np.isnan(table.values))
    # a second load reads the cached file
    stamp = files[0].stat().st_mtime_ns
    SimulatedATMDataset(n_series=6, n_days=120, seed=4, cache_dir=str(tmp_path)).load()
    assert files[0].stat().st_mtime_ns == stamp


def test_the_default_cache_is_used_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    monkeypatch.setenv("SCICONV_CACHE_DIR", str(tmp_path))
    first = SimulatedATMDataset(n_series=3, n_days=60, seed=2).load().info["table"]
    folders = list((tmp_path / "simulations").glob("atm-*"))
    assert len(folders) == 1 and (folders[0] / "simulation.json").is_file()
    assert (folders[0] / "nn5_daily_train.csv").is_file()
    capfd.readouterr()
    again = SimulatedATMDataset(n_series=3, n_days=60, seed=2).load().info["table"]
    assert "reusing the cached simulation" in capfd.readouterr().err
    np.testing.assert_array_equal(again.values, first.values)
    SimulatedATMDataset(n_series=3, n_days=60, seed=3).load()  # other parameters: another folder
    assert len(list((tmp_path / "simulations").glob("atm-*"))) == 2


def test_bad_roots_and_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"dataset\.params\.root: atm-forecast\.nn5 reads an NN5-layout file"):
        NN5Dataset().validate()
    with pytest.raises(DataError, match=r"dataset\.params\.root: .*nowhere does not exist"):
        NN5Dataset(root=str(tmp_path / "nowhere")).validate()
    with pytest.raises(DataError, match=r"nn5_daily_train\.csv does not exist \(expected the folder given to hold"):
        NN5Dataset(root=str(tmp_path)).validate()
    with pytest.raises(ConfigError, match="layout"):
        NN5Dataset(root=str(tmp_path), layout="tall").validate()
    with pytest.raises(ConfigError, match="unknown setting"):
        SimulatedATMDataset(simulator={"noise": 0.1}).validate()
    for key, value in (("n_series", 0), ("n_days", True), ("n_series", 2.5)):
        with pytest.raises(ConfigError, match=rf"dataset\.params\.{key}: expected"):
            sciconv.load_pipeline("atm-forecast", {f"dataset.params.{key}": value})
    bad = tmp_path / "bad.csv"
    bad.write_text("Date;N1\n1996-03-18;1.0\n1996-03-18;2.0\n")
    with pytest.raises(DataError, match=r"bad\.csv"):
        NN5Dataset(root=str(bad)).load()


def test_the_spec_of_daily_series_has_no_rate_in_hz_and_says_daily(tmp_path: Path) -> None:
    bundle = SimulatedATMDataset(n_series=2, n_days=30, seed=1, cache_dir=str(tmp_path)).load()
    assert bundle.spec.sfreq is None  # one value a day is not a sampling rate in Hz worth reporting
    assert bundle.spec.units is not None and "daily" in bundle.spec.units
