"""ATM withdrawal simulator: determinism, NN5 scale and layout, and the statistics of ATM demand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from statsmodels.tsa.stattools import acf

from sciconv.errors import ConfigError
from sciconv_atm_forecast.atm_simulator import simulate_atm_withdrawals, write_simulated_nn5
from sciconv_atm_forecast.nn5_io import read_series_table


@pytest.fixture(scope="module")
def table():
    return simulate_atm_withdrawals(n_series=60, seed=3)


def _weekday(dates: np.ndarray) -> np.ndarray:
    return (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7


def test_shape_ids_and_calendar(table) -> None:
    assert table.n_series == 60 and table.n_days == 735
    assert table.ids[0] == "N101" and table.ids[-1] == "N160"
    assert table.dates[0] == np.datetime64("1996-03-18") and table.dates[-1] == np.datetime64("1998-03-22")
    assert _weekday(table.dates[:1])[0] == 0  # NN5 starts on a Monday


def test_deterministic_given_the_seed() -> None:
    a = simulate_atm_withdrawals(n_series=5, n_days=100, seed=7)
    b = simulate_atm_withdrawals(n_series=5, n_days=100, seed=7)
    c = simulate_atm_withdrawals(n_series=5, n_days=100, seed=8)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values, equal_nan=True)


def test_missing_pattern_does_not_change_the_values() -> None:
    a = simulate_atm_withdrawals(n_series=8, n_days=200, seed=1)
    b = simulate_atm_withdrawals(n_series=8, n_days=200, seed=1, missing_rate=0.0, outage_rate=0.0)
    observed = ~np.isnan(a.values)
    np.testing.assert_array_equal(a.values[observed], b.values[observed])
    assert b.missing_fraction < a.missing_fraction


def test_nn5_scale_and_positivity(table) -> None:
    v = table.values
    observed = v[~np.isnan(v)]
    assert observed.min() >= 0.0
    np.testing.assert_array_equal(observed, np.round(observed, 3))  # three decimals
    levels = np.nanmean(v, axis=1)
    assert 12 < np.median(levels) < 25  # NN5: median 18.1 of per-ATM means, 7.7 .. 37.7
    assert 0.15 < np.std(np.log(levels)) < 0.5  # NN5: 0.30
    assert 0.001 < np.mean(observed == 0) < 0.01  # a few zero days, as NN5's 0.5 %


def test_missing_fraction_and_outages(table) -> None:
    assert 0.01 < table.missing_fraction < 0.04  # NN5: 2.1 %
    runs = []
    for row in table.missing_mask:
        edges = np.diff(np.concatenate([[0], row.astype(int), [0]]))
        runs.extend(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    runs = np.asarray(runs)
    assert np.mean(runs == 1) > 0.5 and runs.max() >= 3  # mostly single blanks, some multi-day outages


def test_weekly_periodicity(table) -> None:
    lags = np.array([acf(x, nlags=14, missing="conservative") for x in table.values])
    median = np.median(lags, axis=0)
    assert median[7] > 0.4 and median[14] > 0.4  # NN5: 0.61 and 0.54
    assert median[7] > median[3] + 0.3 and median[7] > median[1]
    rel = table.values / np.nanmean(table.values, axis=1, keepdims=True)
    profile = np.array([np.nanmean(rel[:, _weekday(table.dates) == d]) for d in range(7)])
    assert profile.argmax() in (3, 4)  # Thursday or Friday peak
    assert profile[5] < 1.0 and profile[0] < 1.0  # Saturday and Monday below average


def test_christmas_and_paydays(table) -> None:
    rel = table.values / np.nanmean(table.values, axis=1, keepdims=True)
    md = np.array([str(d)[5:] for d in table.dates])
    day = np.array([int(str(d)[8:]) for d in table.dates])
    assert np.nanmean(rel[:, md == "12-25"]) < 0.5
    december = np.array([m.startswith("12-") and "12-10" <= m <= "12-22" for m in md])
    assert np.nanmean(rel[:, december]) > np.nanmean(rel)
    assert np.nanmean(rel[:, day == 1]) > np.nanmean(rel[:, (day >= 6) & (day <= 11)])


def test_level_shifts_move_the_level() -> None:
    flat = simulate_atm_withdrawals(n_series=30, seed=2, level_shift_rate=0.0, noise_sd=0.05, yearly_amplitude=0)
    shifted = simulate_atm_withdrawals(
        n_series=30, seed=2, level_shift_rate=3.0, level_shift_sd=0.4, noise_sd=0.05, yearly_amplitude=0
    )

    def halves(t):  # log ratio of the second year's mean to the first's, per ATM
        return np.abs(np.log(np.nanmean(t.values[:, 367:], axis=1) / np.nanmean(t.values[:, :367], axis=1)))

    assert np.median(halves(shifted)) > 2 * np.median(halves(flat))


def test_writes_the_nn5_layout_the_reader_reads(tmp_path: Path) -> None:
    path = write_simulated_nn5(tmp_path / "sim", n_series=4, n_days=30, seed=5)
    assert path.name == "nn5_daily_train.csv"
    assert path.read_bytes().startswith(b"Date;N101;N102;N103;N104;\r\n1996-03-18;")
    back = read_series_table(path)
    expected = simulate_atm_withdrawals(n_series=4, n_days=30, seed=5)
    assert back.ids == expected.ids
    np.testing.assert_array_equal(back.values, expected.values)


@pytest.mark.parametrize(
    "kwargs",
    [{"n_series": 0}, {"n_days": -1}, {"missing_rate": 1.5}, {"start": "March"}, {"holidays": {"1225": 0.5}}],
)
def test_bad_parameters(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        simulate_atm_withdrawals(**kwargs)
