"""The one-step-ahead design: delay columns, day-of-week one-hot, stacking, and the recursive row."""

from __future__ import annotations

import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_atm_forecast.features import day_of_week_onehot, design_columns, make_design, next_row

MONDAY = np.datetime64("1996-03-18")  # NN5's first day


def test_day_of_week_onehot_monday_to_sunday() -> None:
    dates = MONDAY + np.arange(9)
    onehot = day_of_week_onehot(dates)
    assert onehot.shape == (9, 7)
    np.testing.assert_array_equal(onehot.argmax(axis=1), [0, 1, 2, 3, 4, 5, 6, 0, 1])
    np.testing.assert_array_equal(onehot.sum(axis=1), np.ones(9))
    assert day_of_week_onehot(np.array(["2024-12-25"], dtype="datetime64[D]"))[0].argmax() == 2  # a Wednesday


def test_design_by_hand() -> None:
    x = np.arange(10.0)
    dates = MONDAY + np.arange(10)
    d = make_design(x, dates, dim=3, lag=2)
    assert d.X.shape == (10 - 4 - 1, 3 + 7) and d.y.shape == (5,)
    np.testing.assert_array_equal(d.X[0, :3], [0, 2, 4])  # day t = 4
    assert d.y[0] == 5 and d.target_dates[0] == dates[5]
    np.testing.assert_array_equal(d.X[-1, :3], [4, 6, 8])
    assert d.y[-1] == 9
    np.testing.assert_array_equal(d.X[:, 3:], day_of_week_onehot(d.target_dates))  # weekday of the TARGET day
    assert d.n_lags == 3 and d.lag == 2 and d.dow
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert d.columns == ["x(t-4)", "x(t-2)", "x(t)", *[f"dow_{day}" for day in days]]


def test_without_chaos_variant_is_the_univariate_series() -> None:
    x = np.arange(8.0) * 2
    d = make_design(x, MONDAY + np.arange(8), dim=1, lag=3, dow=False)
    np.testing.assert_array_equal(d.X[:, 0], x[:-1])
    np.testing.assert_array_equal(d.y, x[1:])
    assert d.X.shape == (7, 1) and d.columns == ["x(t)"]


def test_stacked_series_and_nan_rows() -> None:
    values = np.array([np.arange(6.0), 100 + np.arange(6.0)])
    values[1, 2] = np.nan
    dates = MONDAY + np.arange(6)
    d = make_design(values, dates, dim=2, lag=1)
    # series 0 gives 4 rows (days t = 1..4); series 1 loses those of t = 1, 2, 3, whose target or inputs hold day 2
    np.testing.assert_array_equal(d.series, [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(d.y, [2, 3, 4, 5, 105])
    np.testing.assert_array_equal(d.X[-1], [103, 104, *day_of_week_onehot(dates[5:])[0]])
    assert d.target_dates[-1] == dates[5]
    kept = make_design(values, dates, dim=2, lag=1, dropna=False)
    assert kept.X.shape[0] == 8 and np.isnan(kept.X).any()


def test_next_row_matches_the_design() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(5, 40, 60)
    dates = MONDAY + np.arange(60)
    for dim, lag, dow in [(7, 2, True), (1, 1, True), (3, 5, False)]:
        design = make_design(x, dates, dim, lag, dow)
        row = next_row(x[:-1], dates[-1], dim, lag, dow)
        np.testing.assert_array_equal(row, design.X[-1])
    batch = next_row(np.stack([x, x + 1]), dates[-1] + 1, 3, 2)
    assert batch.shape == (2, 10)
    np.testing.assert_array_equal(batch[1, :3] - batch[0, :3], [1, 1, 1])
    assert batch[0, 3:].argmax() == day_of_week_onehot(np.array([dates[-1] + 1]))[0].argmax()


def test_recursive_forecast_feeds_predictions_back() -> None:
    # a "model" that predicts x_t + 1 extends an arithmetic sequence exactly
    history = list(np.arange(10.0))
    last = MONDAY + 9
    for step in range(1, 4):
        row = next_row(np.asarray(history), last + step, dim=3, lag=2)
        history.append(row[2] + 1.0)
    np.testing.assert_array_equal(history[-3:], [10, 11, 12])


def test_too_short_and_bad_arguments() -> None:
    dates = MONDAY + np.arange(5)
    with pytest.raises(DataError, match="too short for dim=3, lag=2: a row needs 6 days"):
        make_design(np.arange(5.0), dates, dim=3, lag=2)
    with pytest.raises(DataError, match="too short"):
        next_row(np.arange(4.0), MONDAY, dim=3, lag=2)
    with pytest.raises(DataError, match="dates must have shape"):
        make_design(np.arange(5.0), dates[:4], dim=1, lag=1)
    with pytest.raises(ConfigError):
        make_design(np.arange(5.0), dates, dim=0, lag=1)
    with pytest.raises(ConfigError):
        design_columns(2, 0)
