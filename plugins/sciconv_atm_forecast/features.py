"""The supervised design of one-step-ahead forecasting: phase-space (delay) features plus the day of the week.

For a series ``x`` with embedding dimension ``dim`` and delay ``lag`` (from :mod:`~sciconv_atm_forecast.phase_space`),
the input of day ``t`` is its delay vector, oldest first, followed (``dow=True``) by the one-hot day of the week of
the day forecast, ``t + 1``; the target is ``x_{t+1}``::

    X[r] = [x_{t-(dim-1)lag}, ..., x_{t-lag}, x_t, dow(t+1)_Mon, ..., dow(t+1)_Sun],   y[r] = x_{t+1}

The paper's "with chaos" variant uses Cao's ``dim`` and the ACF's ``lag``; its "without chaos" variant is the
univariate series, ``dim=1`` (just ``x_t``), with the same day-of-week features. Multi-step forecasts are built
recursively with :func:`next_row`, which forms the same row from a history that ends with the forecaster's own
predictions.

The networks (:mod:`~sciconv_atm_forecast.models`) are sized from a :class:`~sciconv.spec.DataSpec` of one design
row: :func:`row_spec` makes it (``input_shape = (n_lags + n_exog,)``, ``extra`` ``n_lags`` and ``n_exog``) and
:func:`spec_sizes` reads the two sizes back.

Missing values. The design is meant for imputed series
(:func:`~sciconv_atm_forecast.nn5_io.impute_same_weekday_median`); with ``dropna=True`` (default) rows whose inputs
or target hold a NaN are dropped, and ``target_dates`` says which days remain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sciconv.errors import ConfigError, DataError
from sciconv.spec import DataSpec

__all__ = [
    "DAY_NAMES",
    "N_EXOG",
    "Design",
    "day_of_week_onehot",
    "design_columns",
    "make_design",
    "next_row",
    "row_spec",
    "spec_sizes",
]

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
N_EXOG = 7  # one-hot day of week of the target day


def row_spec(n_lags: int, n_exog: int = N_EXOG, units: str | None = None) -> DataSpec:
    """The spec of one design row: ``input_shape = (n_lags + n_exog,)`` (delay vector, then the exogenous
    day-of-week columns), one output, ``task_type="forecasting"``, ``extra`` ``n_lags`` and ``n_exog``."""
    return DataSpec(
        input_shape=(n_lags + n_exog,),
        n_outputs=1,
        task_type="forecasting",
        units=units,
        extra={"n_lags": n_lags, "n_exog": n_exog},
    )


def spec_sizes(spec: DataSpec) -> tuple[int, int]:
    """``(n_lags, n_exog)`` of a design-row spec: ``spec.extra["n_lags"]`` and ``spec.extra["n_exog"]``, by default
    ``input_shape[0] - 7`` lags and 7 exogenous columns. A spec leaving no delay coordinate is a ConfigError."""
    extra = dict(spec.extra or {})
    n_exog = int(extra.get("n_exog", N_EXOG))
    n_lags = int(extra.get("n_lags", spec.input_shape[0] - n_exog))
    if n_lags < 1:
        raise ConfigError(
            f"the model needs at least one delay coordinate; spec input {spec.input_shape}, n_exog {n_exog}"
        )
    return n_lags, n_exog


def _check_embedding(dim: int, lag: int) -> tuple[int, int]:
    if not isinstance(dim, int | np.integer) or dim < 1:
        raise ConfigError(f"dim must be a positive integer, got {dim!r}")
    if not isinstance(lag, int | np.integer) or lag < 1:
        raise ConfigError(f"lag must be a positive integer, got {lag!r}")
    return int(dim), int(lag)


def day_of_week_onehot(dates: np.ndarray) -> np.ndarray:
    """One-hot day of the week, columns Monday .. Sunday.

    Shapes:
        dates: ``(n,)`` (``datetime64`` or anything numpy converts to ``datetime64[D]``); returns ``(n, 7)`` float64.
    """
    days = np.atleast_1d(np.asarray(dates).astype("datetime64[D]"))
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    out = np.zeros((len(days), 7))
    out[np.arange(len(days)), weekday] = 1.0
    return out


def design_columns(dim: int, lag: int, dow: bool = True) -> list[str]:
    """The names of the design's columns: ``x(t-12)``, ..., ``x(t-2)``, ``x(t)`` then ``dow_mon`` .. ``dow_sun``."""
    dim, lag = _check_embedding(dim, lag)
    names = [f"x(t-{(dim - 1 - k) * lag})" if k < dim - 1 else "x(t)" for k in range(dim)]
    return names + ([f"dow_{d}" for d in DAY_NAMES] if dow else [])


@dataclass(frozen=True)
class Design:
    """Inputs and targets of one-step-ahead forecasting.

    Attributes:
        X: ``(n_rows, dim + 7 * dow)`` float64: delay vector of day t (oldest first), then one-hot weekday of t+1.
        y: ``(n_rows,)`` float64, the value on day t+1.
        target_dates: ``(n_rows,)`` ``datetime64[D]``, the day t+1 of each row.
        series: ``(n_rows,)`` int64, the row (series) of ``values`` each design row comes from (0 for 1-D input).
        n_lags: the number of delay columns, ``dim``.
        lag: the delay.
        dow: whether the day-of-week columns are present.
        columns: the column names (:func:`design_columns`).
    """

    X: np.ndarray
    y: np.ndarray
    target_dates: np.ndarray
    series: np.ndarray
    n_lags: int
    lag: int
    dow: bool
    columns: list[str]


def make_design(
    values: np.ndarray, dates: np.ndarray, dim: int, lag: int, dow: bool = True, *, dropna: bool = True
) -> Design:
    """The one-step-ahead design of one series, or of several stacked (see the module docstring).

    Args:
        values: ``(n_days,)`` one series, or ``(n_series, n_days)`` series sharing ``dates`` (rows stacked series by
            series, in time order within each).
        dates: ``(n_days,)`` consecutive days.
        dim: embedding dimension (number of delay columns); 1 for the "without chaos" variant.
        lag: delay in days.
        dow: append the one-hot weekday of the target day.
        dropna: drop rows holding a NaN (else keep them).

    Returns:
        A :class:`Design` of ``(n_days - (dim - 1) lag - 1)`` rows per series (fewer if rows were dropped).

    Raises:
        DataError: the series is too short for the embedding (no row), or ``dates`` does not match ``values``.
    """
    dim, lag = _check_embedding(dim, lag)
    x = np.asarray(values, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise DataError(f"values must be (n_days,) or (n_series, n_days), got shape {x.shape}")
    x2 = np.atleast_2d(x)
    days = np.asarray(dates).astype("datetime64[D]")
    if days.shape != (x2.shape[1],):
        raise DataError(f"dates must have shape ({x2.shape[1]},) to match values {x.shape}, got {days.shape}")
    span = (dim - 1) * lag
    n_rows = x2.shape[1] - span - 1
    if n_rows < 1:
        raise DataError(
            f"a series of {x2.shape[1]} days is too short for dim={dim}, lag={lag}: a row needs {span + 2} days "
            f"(a delay vector spanning {span + 1} days and the next day as target)"
        )
    # delay column k of row r is x[r + k lag]; the row's day t is r + span, its target t + 1
    delays = np.stack([x2[:, k * lag : k * lag + n_rows] for k in range(dim)], axis=2)  # (n_series, n_rows, dim)
    targets = x2[:, span + 1 :]
    target_dates = days[span + 1 :]
    parts = [delays]
    if dow:
        parts.append(np.broadcast_to(day_of_week_onehot(target_dates), (x2.shape[0], n_rows, 7)))
    features = np.concatenate(parts, axis=2).reshape(-1, dim + 7 * int(dow))
    y = targets.reshape(-1)
    series = np.repeat(np.arange(x2.shape[0], dtype=np.int64), n_rows)
    stacked_dates = np.tile(target_dates, x2.shape[0])
    if dropna:
        keep = np.isfinite(features).all(axis=1) & np.isfinite(y)
        features, y, series, stacked_dates = features[keep], y[keep], series[keep], stacked_dates[keep]
    return Design(
        X=np.ascontiguousarray(features),
        y=y.copy(),
        target_dates=stacked_dates,
        series=series,
        n_lags=dim,
        lag=lag,
        dow=bool(dow),
        columns=design_columns(dim, lag, dow),
    )


def next_row(history: np.ndarray, next_date: np.datetime64 | str, dim: int, lag: int, dow: bool = True) -> np.ndarray:
    """The input row that forecasts the day after ``history``: the row :func:`make_design` would build.

    ``history`` ends with the last known (or already forecast) day t; the row holds
    ``[history[-1 - (dim-1) lag], ..., history[-1 - lag], history[-1]]`` then the one-hot weekday of ``next_date``
    (the day t + 1). Feeding each forecast back into ``history`` gives a recursive multi-step forecast.

    Shapes:
        history: ``(n,)`` or ``(n_series, n)`` with ``n >= (dim - 1) lag + 1``; returns ``(dim + 7 * dow,)`` or
        ``(n_series, dim + 7 * dow)``.
    """
    dim, lag = _check_embedding(dim, lag)
    h = np.asarray(history, dtype=np.float64)
    if h.ndim not in (1, 2):
        raise DataError(f"history must be (n,) or (n_series, n), got shape {h.shape}")
    span = (dim - 1) * lag
    if h.shape[-1] < span + 1:
        raise DataError(f"a history of {h.shape[-1]} days is too short for dim={dim}, lag={lag}: {span + 1} needed")
    idx = h.shape[-1] - 1 - span + lag * np.arange(dim)
    row = h[..., idx]
    if dow:
        onehot = day_of_week_onehot(np.asarray([next_date]))[0]
        row = np.concatenate([row, np.broadcast_to(onehot, (*row.shape[:-1], 7))], axis=-1)
    return np.array(row)
