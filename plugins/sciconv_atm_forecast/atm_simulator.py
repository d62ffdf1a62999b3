"""A simulator of daily ATM cash withdrawals in the units and layout of NN5.

:func:`simulate_atm_withdrawals` returns a :class:`~sciconv_atm_forecast.nn5_io.SeriesTable`;
:func:`write_simulated_nn5` writes it as ``nn5_daily_train.csv`` in the NN5 wide layout, which
:func:`~sciconv_atm_forecast.nn5_io.read_series_table` reads exactly as it reads the real file.

The model is multiplicative, as cash demand is (a busy ATM's Friday peak is larger in amount than a quiet one's).
Withdrawals of ATM ``i`` on day ``t`` are::

    w_it = L_i * W_i[dow(t)] * Y_i(t) * P_i(t) * H(t) * S_i(t) * exp(e_it),   e_it = phi e_i,t-1 + sigma z_it

rounded to three decimals, with

- ``L_i ~ LogNormal(log(level), level_sd)``: the ATM's typical daily amount. NN5's 111 ATMs have mean daily
  withdrawals from 7.7 to 37.7 (median 18.1) with a log standard deviation of 0.30 across ATMs: the defaults.
- ``W_i``: the weekly profile (Monday .. Sunday, mean 1). NN5's average profile relative to each ATM's mean is
  0.78, 0.82, 1.06, 1.49, 1.31, 0.69, 0.84: low at the start of the week, a peak on Thursday and Friday as
  people draw cash for the weekend, a dip on Saturday. Each ATM scales the log of that profile by a strength
  ``~ U(0.6, 1.4)`` and adds its own ``N(0, 0.1)`` log deviation per weekday; a fraction
  ``weekend_peak_fraction`` of the ATMs (shopping and leisure sites) follow a weekend profile instead, peaking
  on Friday and Saturday.
- ``Y_i(t)``: yearly seasonality, a smooth annual cycle of log amplitude ``yearly_amplitude`` (random phase per
  ATM) plus the shared calendar of cash demand: a rise through December before Christmas (NN5's December mean
  is 10 % above the year's) and a slump in January (9 % below).
- ``P_i(t)``: paydays. Withdrawals rise from the last days of a month into its first two days (monthly salaries)
  and, less, around the 15th; the log effect is ``payday_effect`` times a per-ATM factor ``~ U(0.5, 1.5)``.
- ``H(t)``: fixed-date holidays (month-day, multiplier): by default closures and near-closures on 24, 25, 26
  and 31 December and 1 January (NN5's Christmas Eve and Day run at about a quarter of normal), from
  :data:`DEFAULT_HOLIDAYS`. Moving feasts (Easter) are not modelled. On a holiday whose multiplier is below 0.35
  each ATM is closed (a missing day) with probability ``holiday_closure_prob``.
- ``S_i(t)``: level shifts. Change points arrive as a Poisson process of ``level_shift_rate`` per ATM and year;
  each multiplies the level from that day on by ``LogNormal(0, level_shift_sd)`` (a new office nearby, a
  competitor's ATM, a site refurbished).
- ``e_it``: multiplicative noise, a log AR(1) with coefficient ``noise_ar`` and innovation scale ``noise_sd``
  The defaults (0.3, 0.22) give NN5's autocorrelation: the median over ATMs of the ACF at lags 1, 7 and 14 is
  0.32, 0.57, 0.56 simulated (seed 1) against 0.35, 0.61, 0.54 on the real file.
- Zero days: with probability ``zero_rate`` an ATM records 0 (out of cash or out of order while open; NN5 holds
  381 zeros, 0.5 % of its values).
- Missing days (blanks): each day is missing with probability ``missing_rate``, and outages (a broken or
  emptied machine, a day or a few with no record) arrive at ``outage_rate`` per ATM and year with a length of
  ``1 + Poisson(outage_mean_days - 1)`` days. NN5 misses 2.1 % of its values, mostly in runs of one or two days;
  the defaults give about 2 %.

All randomness comes from ``seed``; each component (levels, weekly profiles, seasonality, paydays, shifts, noise,
zeros, missing days) draws from its own child stream, so changing e.g. the missing rate leaves every value
unchanged. The same arguments give the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from sciconv.errors import ConfigError
from sciconv_atm_forecast.nn5_io import SeriesTable, write_series_table

SIMULATOR_VERSION = 1
"""Part of the simulation cache's key (:func:`sciconv.kit.cached_simulation`): raise it whenever a change here
changes the simulated data for the same parameters, so that cached files written before are not reused."""

__all__ = [
    "DEFAULT_HOLIDAYS",
    "NN5_WEEKLY_PROFILE",
    "WEEKEND_PROFILE",
    "simulate_atm_withdrawals",
    "write_simulated_nn5",
]

#: NN5's mean weekly profile (Monday .. Sunday), each ATM's daily amount over its mean.
NN5_WEEKLY_PROFILE: tuple[float, ...] = (0.78, 0.82, 1.06, 1.49, 1.31, 0.69, 0.84)
#: The profile of shopping and leisure sites: Friday and Saturday peaks.
WEEKEND_PROFILE: tuple[float, ...] = (0.80, 0.80, 0.85, 0.95, 1.30, 1.45, 0.85)
#: Fixed-date holidays, ``"MM-DD"`` -> multiplier of the day's withdrawals.
DEFAULT_HOLIDAYS: Mapping[str, float] = {
    "12-24": 0.30,
    "12-25": 0.25,
    "12-26": 0.85,
    "12-31": 0.40,
    "01-01": 0.80,
}
_YEAR = 365.25


def _check(name: str, value: float, low: float, high: float = np.inf) -> float:
    if not isinstance(value, int | float | np.integer | np.floating) or not low <= float(value) <= high:
        raise ConfigError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def _calendar(start: str | np.datetime64, n_days: int) -> np.ndarray:
    try:
        first = np.datetime64(start, "D")
    except ValueError as e:
        raise ConfigError(f"start must be an ISO date YYYY-MM-DD, got {start!r}") from e
    return first + np.arange(n_days)


def _weekly_profiles(rng: np.random.Generator, n: int, weekend_peak_fraction: float) -> np.ndarray:
    """``(n, 7)`` weekly profiles, Monday .. Sunday, each of mean 1."""
    base = np.where(
        (rng.random(n) < weekend_peak_fraction)[:, None], np.log(WEEKEND_PROFILE), np.log(NN5_WEEKLY_PROFILE)
    )
    strength = rng.uniform(0.6, 1.4, size=(n, 1))
    log_profile = strength * base + rng.normal(0.0, 0.1, size=(n, 7))
    profile = np.exp(log_profile)
    return profile / profile.mean(axis=1, keepdims=True)


def _yearly(rng: np.random.Generator, n: int, dates: np.ndarray, amplitude: float) -> np.ndarray:
    """``(n, n_days)`` log yearly seasonality: an annual cycle per ATM, the December rise and January slump."""
    year_start = dates.astype("datetime64[Y]").astype("datetime64[D]")
    doy = (dates - year_start).astype(np.float64)  # 0 = 1 January
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, 1))
    cycle = amplitude * np.sin(2 * np.pi * doy[None, :] / _YEAR + phase)
    december = 0.18 * np.exp(-0.5 * ((doy - 352.0) / 8.0) ** 2)  # rising to the days before Christmas
    january = -0.10 * np.exp(-0.5 * ((doy - 15.0) / 10.0) ** 2)
    return cycle + december[None, :] + january[None, :]


def _payday(rng: np.random.Generator, n: int, dates: np.ndarray, effect: float) -> np.ndarray:
    """``(n, n_days)`` log payday effect: month end into the first days of the month, and mid-month."""
    month_start = dates.astype("datetime64[M]").astype("datetime64[D]")
    next_month = (dates.astype("datetime64[M]") + 1).astype("datetime64[D]")
    day = (dates - month_start).astype(np.int64)  # 0 = the 1st
    to_end = (next_month - dates).astype(np.int64)  # 1 = the last day of the month
    shape = np.zeros(len(dates))
    shape[to_end <= 3] = np.array([0.6, 0.8, 1.0])[to_end[to_end <= 3] - 1]  # last three days of the month
    shape[day == 0] = 1.0
    shape[day == 1] = 0.6
    shape[day == 2] = 0.3
    shape[(day >= 13) & (day <= 15)] = 0.4
    factor = rng.uniform(0.5, 1.5, size=(n, 1))
    return effect * factor * shape[None, :]


def _holidays(dates: np.ndarray, holidays: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """``(n_days,)`` multipliers and the mask of closure-prone holidays (multiplier below 0.35)."""
    month_day = np.array([str(d)[5:10] for d in dates])
    multiplier = np.ones(len(dates))
    for key, value in holidays.items():
        if not isinstance(key, str) or len(key) != 5 or key[2] != "-":
            raise ConfigError(f"holiday keys must be 'MM-DD' strings, got {key!r}")
        _check(f"holidays[{key!r}]", value, 0.0)
        multiplier[month_day == key] = float(value)
    return multiplier, multiplier < 0.35


def _level_shifts(rng: np.random.Generator, n: int, n_days: int, rate: float, sd: float) -> np.ndarray:
    """``(n, n_days)`` log level: cumulative shifts at Poisson change points."""
    out = np.zeros((n, n_days))
    counts = rng.poisson(rate * n_days / _YEAR, size=n)
    for i in range(n):
        for day, jump in zip(
            rng.integers(1, max(n_days, 2), size=counts[i]), rng.normal(0, sd, counts[i]), strict=True
        ):
            out[i, day:] += jump
    return out


def _ar1(rng: np.random.Generator, n: int, n_days: int, phi: float, sigma: float) -> np.ndarray:
    """``(n, n_days)`` stationary AR(1) noise with innovation scale ``sigma``."""
    z = rng.normal(0.0, sigma, size=(n, n_days))
    e = np.empty_like(z)
    e[:, 0] = z[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, n_days):
        e[:, t] = phi * e[:, t - 1] + z[:, t]
    return e


def _missing(
    rng: np.random.Generator, n: int, n_days: int, rate: float, outage_rate: float, outage_mean: float
) -> np.ndarray:
    """``(n, n_days)`` bool: random blanks and outages of a few days."""
    mask = rng.random((n, n_days)) < rate
    counts = rng.poisson(outage_rate * n_days / _YEAR, size=n)
    for i in range(n):
        starts = rng.integers(0, n_days, size=counts[i])
        lengths = 1 + rng.poisson(max(outage_mean - 1.0, 0.0), size=counts[i])
        for s, length in zip(starts, lengths, strict=True):
            mask[i, s : s + length] = True
    return mask


def simulate_atm_withdrawals(
    n_series: int = 111,
    start: str | np.datetime64 = "1996-03-18",
    n_days: int = 735,
    seed: int = 0,
    *,
    level: float = 17.0,
    level_sd: float = 0.3,
    weekend_peak_fraction: float = 0.15,
    yearly_amplitude: float = 0.05,
    payday_effect: float = 0.12,
    holidays: Mapping[str, float] | None = None,
    holiday_closure_prob: float = 0.1,
    level_shift_rate: float = 0.5,
    level_shift_sd: float = 0.2,
    noise_sd: float = 0.22,
    noise_ar: float = 0.3,
    zero_rate: float = 0.004,
    missing_rate: float = 0.01,
    outage_rate: float = 1.5,
    outage_mean_days: float = 2.0,
    id_prefix: str = "N",
    first_id: int = 101,
) -> SeriesTable:
    """Simulate daily ATM withdrawals (see the module docstring for the model).

    Args:
        n_series: number of ATMs.
        start: the first day (ISO date; NN5 starts on Monday 1996-03-18).
        n_days: number of days (NN5's training part: 735; add the 56-day horizon to simulate a held-out part).
        seed: seed of every random draw.
        level, level_sd: median and log standard deviation across ATMs of the typical daily amount (NN5 units).
        weekend_peak_fraction: fraction of ATMs with a Friday-Saturday profile.
        yearly_amplitude: log amplitude of each ATM's annual cycle.
        payday_effect: log rise of withdrawals on paydays (month end and start).
        holidays: ``"MM-DD"`` -> multiplier; None for :data:`DEFAULT_HOLIDAYS`, ``{}`` for none.
        holiday_closure_prob: probability that an ATM is closed (missing) on a deep holiday.
        level_shift_rate, level_shift_sd: change points per ATM and year, and the log size of each shift.
        noise_sd, noise_ar: innovation scale and coefficient of the log AR(1) noise.
        zero_rate: probability of a day recorded as 0.
        missing_rate: probability of a day left blank.
        outage_rate, outage_mean_days: outages per ATM and year, and their mean length in days.
        id_prefix, first_id: series ids are ``f"{id_prefix}{first_id + k}"`` (``N101`` .. ``N211`` by default).

    Returns:
        A :class:`SeriesTable`: ``values`` ``(n_series, n_days)`` float64 >= 0 with three decimals, NaN where missing.
    """
    if not isinstance(n_series, int | np.integer) or n_series < 1:
        raise ConfigError(f"n_series must be a positive integer, got {n_series!r}")
    if not isinstance(n_days, int | np.integer) or n_days < 1:
        raise ConfigError(f"n_days must be a positive integer, got {n_days!r}")
    level = _check("level", level, 1e-9)
    for name, value, high in (
        ("level_sd", level_sd, 3.0),
        ("weekend_peak_fraction", weekend_peak_fraction, 1.0),
        ("yearly_amplitude", yearly_amplitude, 2.0),
        ("payday_effect", payday_effect, 2.0),
        ("holiday_closure_prob", holiday_closure_prob, 1.0),
        ("level_shift_rate", level_shift_rate, 365.0),
        ("level_shift_sd", level_shift_sd, 3.0),
        ("noise_sd", noise_sd, 3.0),
        ("zero_rate", zero_rate, 1.0),
        ("missing_rate", missing_rate, 1.0),
        ("outage_rate", outage_rate, 365.0),
    ):
        _check(name, value, 0.0, high)
    _check("noise_ar", noise_ar, 0.0, 0.99)
    _check("outage_mean_days", outage_mean_days, 1.0, 365.0)
    dates = _calendar(start, int(n_days))
    n, t = int(n_series), int(n_days)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]

    log_level = np.log(level) + streams[0].normal(0.0, level_sd, size=(n, 1))
    weekday = (dates.astype(np.int64) + 3) % 7  # Monday = 0
    weekly = _weekly_profiles(streams[1], n, weekend_peak_fraction)[:, weekday]
    yearly = _yearly(streams[2], n, dates, yearly_amplitude)
    payday = _payday(streams[3], n, dates, payday_effect)
    holiday, closure_prone = _holidays(dates, DEFAULT_HOLIDAYS if holidays is None else holidays)
    shifts = _level_shifts(streams[4], n, t, level_shift_rate, level_shift_sd)
    noise = _ar1(streams[5], n, t, noise_ar, noise_sd)
    values = np.exp(log_level + yearly + payday + shifts + noise) * weekly * holiday[None, :]
    values[streams[6].random((n, t)) < zero_rate] = 0.0
    missing = _missing(streams[7], n, t, missing_rate, outage_rate, outage_mean_days)
    missing |= closure_prone[None, :] & (streams[8].random((n, t)) < holiday_closure_prob)
    values = np.round(values, 3)
    values[missing] = np.nan
    # every series keeps observed values (an all-missing series is an error for the reader)
    for i in np.flatnonzero(missing.all(axis=1)):
        values[i, 0] = np.round(np.exp(log_level[i, 0]) * weekly[i, 0], 3)
    ids = [f"{id_prefix}{first_id + k}" for k in range(n)]
    return SeriesTable(ids, dates, values, source=f"simulate_atm_withdrawals(seed={seed})")


def write_simulated_nn5(root: str | Path, **kwargs: object) -> Path:
    """Simulate with :func:`simulate_atm_withdrawals` (``kwargs`` passed on) and write ``root/nn5_daily_train.csv``
    in the NN5 wide layout (``;``-separated, ``Date`` column, three decimals, blanks for missing days).

    Returns the path of the file written.
    """
    table = simulate_atm_withdrawals(**kwargs)  # type: ignore[arg-type]
    return write_series_table(table, Path(root) / "nn5_daily_train.csv", layout="wide", decimals=3)
