"""sMAPE, MASE and the paired test, against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sciconv.errors import ConfigError, DataError
from sciconv_atm_forecast.metrics import (
    mase,
    mase_per_series,
    paired_test,
    seasonal_scale,
    smape,
    smape_per_series,
)


def test_smape_by_hand() -> None:
    # 2*10/210 = 0.0952381, 2*20/380 = 0.1052632 -> mean 0.1002506 -> 10.02506 %
    assert smape([100, 200], [110, 180]) == pytest.approx(10.025063, rel=1e-6)
    assert smape([5, 5], [5, 5]) == 0.0
    assert smape([10], [0]) == pytest.approx(200.0)  # the bound of the measure


def test_smape_zero_over_zero_and_missing_actuals() -> None:
    assert smape([0, 10], [0, 10]) == 0.0  # 0/0 counts as a perfect forecast
    assert smape([0, 10], [5, 10]) == pytest.approx(100.0)  # (200 + 0) / 2
    assert smape([np.nan, 100], [3, 110]) == pytest.approx(100 * 20 / 210)  # the NaN day is left out
    assert np.isnan(smape([np.nan], [1.0]))


def test_smape_per_series_and_overall_mean() -> None:
    actual = np.array([[100, 200], [10, np.nan]])
    forecast = np.array([[110, 180], [10, 7]])
    per = smape_per_series(actual, forecast)
    np.testing.assert_allclose(per, [10.025063, 0.0], rtol=1e-6)
    assert smape(actual, forecast) == pytest.approx(per.mean())


def test_forecast_must_be_finite_where_actual_is_known() -> None:
    with pytest.raises(DataError, match="not finite"):
        smape([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(DataError, match="same shape"):
        smape([1.0, 2.0], [1.0])


def test_mase_by_hand() -> None:
    insample = np.arange(1.0, 15.0)  # differences at lag 7 are all 7
    assert seasonal_scale(insample, m=7)[0] == 7.0
    assert mase([20, 30], [27, 16], insample, m=7) == pytest.approx((7 + 14) / 2 / 7)
    assert mase([20, 30], [21, 31], insample, m=1) == pytest.approx(1.0)  # lag-1 differences are 1


def test_mase_scale_ignores_missing_pairs() -> None:
    insample = np.array([1, 2, np.nan, 4, 10, 2, 6.0])
    # lag-2 pairs: (1, nan) no, (2, 4) 2, (nan, 10) no, (4, 2) 2, (10, 6) 4 -> scale 8 / 3
    assert seasonal_scale(insample, m=2)[0] == pytest.approx(8 / 3)
    assert mase([5.0], [7.0], insample, m=2) == pytest.approx(2 / (8 / 3))


def test_mase_per_series_and_degenerate_scale() -> None:
    insample = np.array([np.arange(1.0, 15.0), np.full(14, 3.0)])  # the second series is constant: scale 0
    actual = np.array([[20.0, 30.0], [3.0, 3.0]])
    forecast = np.array([[27.0, 16.0], [4.0, 3.0]])
    per = mase_per_series(actual, forecast, insample)
    assert per[0] == pytest.approx(1.5) and np.isnan(per[1])
    assert mase(actual, forecast, insample) == pytest.approx(1.5)  # the NaN series is left out
    assert np.isnan(seasonal_scale(np.arange(5.0), m=7)[0])  # too short for a seasonal pair
    with pytest.raises(DataError, match="insample holds 1 series"):
        mase_per_series(actual, forecast, insample[0])
    with pytest.raises(ConfigError):
        seasonal_scale(insample, m=0)


def test_paired_t_test_by_hand() -> None:
    a = np.array([3.0, 4.0, 5.0, 8.0])
    b = np.array([1.0, 2.0, 2.0, 3.0])
    # differences 2, 2, 3, 5: mean 3, sample sd sqrt(2), t = 3 / (sqrt(2) / 2) = 4.2426
    res = paired_test(a, b)
    statistic, p_value = res[:2]
    assert statistic == pytest.approx(3 / (np.sqrt(2) / 2))
    assert p_value == pytest.approx(2 * stats.t.sf(statistic, df=3))
    assert res.n == 4 and res.mean_difference == 3.0 and res.method == "t"


def test_wilcoxon_and_missing_pairs() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(10, 30, 40)
    b = a - rng.normal(1.0, 1.0, 40)
    a_nan = np.append(a, np.nan)
    b_nan = np.append(b, 5.0)
    res = paired_test(a_nan, b_nan, method="wilcoxon")
    ref = stats.wilcoxon(a, b)
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)
    assert res.n == 40 and res.p_value < 0.001


def test_paired_test_degenerate_cases() -> None:
    same = np.array([1.0, 2.0, 3.0])
    assert paired_test(same, same)[:2] == (0.0, 1.0)
    assert paired_test(same, same, method="wilcoxon")[:2] == (0.0, 1.0)
    res = paired_test(same + 1, same)  # a constant difference
    assert res.statistic == np.inf and res.p_value == 0.0
    with pytest.raises(DataError, match="at least 2"):
        paired_test([1.0, np.nan], [2.0, 1.0])
    with pytest.raises(DataError, match="same shape"):
        paired_test([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ConfigError):
        paired_test(same, same + 1, method="z")  # type: ignore[arg-type]
