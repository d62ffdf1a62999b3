"""Forecast accuracy on NN5: sMAPE and MASE, per series and overall, and a paired test between two models.

sMAPE (the NN5 and M3 definition, in percent)::

    sMAPE = 100 / h * sum_t 2 |F_t - A_t| / (|A_t| + |F_t|)

A day whose actual and forecast are both 0 counts as a perfect forecast (0, not 0/0): NN5 holds days with 0
withdrawals and forecasting 0 for them is right. A forecast of 0 (or any value) for a non-zero actual, or a
non-zero forecast for a 0 actual, counts 200, the bound of the measure.

MASE (Hyndman & Koehler 2006) with seasonality ``m`` (7 for daily data with a weekly cycle)::

    MASE = mean_t |F_t - A_t| / scale,   scale = mean_{s > m} |y_s - y_{s-m}| over the in-sample series y

The scale is the in-sample mean absolute error of the seasonal naive forecast, pairs with a missing value ignored.
A series whose scale is 0 (constant with period m in sample) or undefined (fewer than m + 1 days, or no complete
pair) has MASE NaN.

Missing actuals (NaN: blank days of a held-out NN5 part) are left out of both measures; a forecast must be finite
where the actual is present. The overall score of several series is the mean of the per-series scores (as in the
M3/M4 competitions and the Monash archive's NN5 numbers), NaN series (no actual left) excluded.

Paired test. :func:`paired_test` compares two models' per-series errors over the same series: the paired t-test
(``scipy.stats.ttest_rel``, the test the paper uses) by default, or the Wilcoxon signed-rank test
(``scipy.stats.wilcoxon``), which does not assume normally distributed differences and resists the few series
with very large errors that sMAPE produces: prefer it when the two disagree.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from sciconv.errors import ConfigError, DataError

__all__ = [
    "PairedTestResult",
    "mase",
    "mase_per_series",
    "paired_test",
    "seasonal_scale",
    "smape",
    "smape_per_series",
]


def _pair(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(n_series, h)`` float64 views of actual and forecast, and whether the input was 1-D."""
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape:
        raise DataError(f"actual {a.shape} and forecast {f.shape} must have the same shape")
    if a.ndim not in (1, 2):
        raise DataError(f"expected (h,) or (n_series, h) arrays, got shape {a.shape}")
    bad = np.isfinite(a) & ~np.isfinite(f)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(np.atleast_2d(bad))[0])
        raise DataError(
            f"the forecast is not finite where the actual is known ({int(bad.sum())} value(s), first {where})"
        )
    return np.atleast_2d(a), np.atleast_2d(f), a.ndim == 1


def smape_per_series(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """sMAPE in percent of each series (module docstring).

    Shapes:
        actual, forecast: ``(n_series, h)`` or ``(h,)``; returns ``(n_series,)`` (``(1,)`` for 1-D input), NaN for
        a series with no known actual.
    """
    a, f, _ = _pair(actual, forecast)
    known = np.isfinite(a)
    num = 2.0 * np.abs(f - a)
    den = np.abs(a) + np.abs(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(den > 0, num / den, 0.0)
    terms = np.where(known, terms, 0.0)
    counts = known.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, 100.0 * terms.sum(axis=1) / counts, np.nan)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sMAPE in percent: of one series, or the mean over series of :func:`smape_per_series`."""
    per = smape_per_series(actual, forecast)
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")


def seasonal_scale(insample: np.ndarray, m: int = 7) -> np.ndarray:
    """MASE's scale: the in-sample mean absolute seasonal difference ``|y_s - y_{s-m}|``, NaN pairs ignored.

    Shapes:
        insample: ``(n_series, n)`` or ``(n,)``; returns ``(n_series,)`` (``(1,)`` for 1-D), NaN where no pair.
    """
    if not isinstance(m, int | np.integer) or m < 1:
        raise ConfigError(f"m must be a positive integer, got {m!r}")
    y = np.atleast_2d(np.asarray(insample, dtype=np.float64))
    if y.ndim != 2:
        raise DataError(f"insample must be (n,) or (n_series, n), got shape {np.shape(insample)}")
    if y.shape[1] <= m:
        return np.full(y.shape[0], np.nan)
    diff = np.abs(y[:, m:] - y[:, :-m])
    counts = np.isfinite(diff).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, np.nansum(diff, axis=1) / counts, np.nan)


def mase_per_series(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, m: int = 7) -> np.ndarray:
    """MASE of each series (module docstring).

    Shapes:
        actual, forecast: ``(n_series, h)`` or ``(h,)``; insample: ``(n_series, n)`` or ``(n,)`` (the series before
        the horizon); returns ``(n_series,)``.
    """
    a, f, _ = _pair(actual, forecast)
    scale = seasonal_scale(insample, m)
    if scale.shape[0] != a.shape[0]:
        raise DataError(f"insample holds {scale.shape[0]} series but actual holds {a.shape[0]}")
    known = np.isfinite(a)
    counts = known.sum(axis=1)
    abs_err = np.where(known, np.abs(f - a), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mae = np.where(counts > 0, abs_err.sum(axis=1) / counts, np.nan)
        return np.where(np.isfinite(scale) & (scale > 0), mae / scale, np.nan)


def mase(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, m: int = 7) -> float:
    """MASE: of one series, or the mean over series of :func:`mase_per_series` (NaN series excluded)."""
    per = mase_per_series(actual, forecast, insample, m)
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")


class PairedTestResult(NamedTuple):
    """A paired test's statistic and two-sided p-value (unpacks as ``statistic, p_value``).

    Attributes:
        statistic: t (``"t"``: positive when model a's errors are larger) or Wilcoxon's W (the smaller rank sum).
        p_value: the two-sided p-value.
        n: the number of series compared.
        mean_difference: ``mean(errors_a - errors_b)``.
        method: ``"t"`` or ``"wilcoxon"``.
    """

    statistic: float
    p_value: float
    n: int = 0
    mean_difference: float = 0.0
    method: str = "t"


def paired_test(errors_a: np.ndarray, errors_b: np.ndarray, method: Literal["t", "wilcoxon"] = "t") -> PairedTestResult:
    """Do two models' errors differ across series? A paired two-sided test on per-series errors.

    Args:
        errors_a, errors_b: ``(n_series,)`` per-series errors of two models on the same series (e.g.
            :func:`smape_per_series`); pairs holding a NaN are left out.
        method: ``"t"`` (paired t-test, ``scipy.stats.ttest_rel``) or ``"wilcoxon"`` (signed-rank test).

    Returns:
        A :class:`PairedTestResult` ``(statistic, p_value, n, mean_difference, method)``. When every difference is
        0 the models are indistinguishable: statistic 0 and p-value 1.

    Raises:
        DataError: shapes differ, or fewer than 2 complete pairs remain.
    """
    from scipy import stats

    a = np.asarray(errors_a, dtype=np.float64).reshape(-1)
    b = np.asarray(errors_b, dtype=np.float64).reshape(-1)
    if np.shape(errors_a) != np.shape(errors_b):
        raise DataError(f"errors_a {np.shape(errors_a)} and errors_b {np.shape(errors_b)} must have the same shape")
    if method not in ("t", "wilcoxon"):
        raise ConfigError(f"method must be 't' or 'wilcoxon', got {method!r}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2:
        raise DataError(f"a paired test needs at least 2 series with both errors known, got {len(a)}")
    diff = a - b
    mean_diff = float(np.mean(diff))
    if np.all(diff == 0):
        return PairedTestResult(0.0, 1.0, len(a), 0.0, method)
    if method == "t":
        if np.ptp(diff) == 0:  # a constant non-zero difference: t is infinite, the difference certain
            return PairedTestResult(float(np.sign(mean_diff) * np.inf), 0.0, len(a), mean_diff, method)
        res = stats.ttest_rel(a, b)
    else:
        res = stats.wilcoxon(a, b)
    return PairedTestResult(float(res.statistic), float(res.pvalue), len(a), mean_diff, method)
