"""Phase-space reconstruction of a scalar series: the delay from the ACF, Cao's embedding dimension, delay vectors.

Takens' theorem: the state of a deterministic system can be reconstructed from one observable ``x_t`` as the delay
vector ``(x_{t-(m-1)tau}, ..., x_{t-tau}, x_t)`` for a delay ``tau`` and a large enough dimension ``m``. The ATM
paper (Sarveswararao & Ravi 2020) takes ``tau`` from the autocorrelation function and ``m`` from Cao's method,
and feeds the delay vectors to the regressors.

Delay (:func:`acf_lag`). The rule the paper names is "the lag from the ACF"; the default here is the first zero
crossing of the sample ACF (``rule="first_zero"``): the smallest lag at which successive coordinates are
linearly uncorrelated, the classical ACF criterion. Of the two lags around the crossing the one whose ACF is
closer to zero is taken, so a sine of period P gives P/4. The alternatives are ``"1/e"`` (the first lag where the
ACF falls to 1/e) and ``"first_minimum"`` (the first local minimum). A series whose ACF does not meet the rule
within ``max_lag`` (a trend, a random walk: the ACF decays without crossing) falls back to the next rule of
first zero -> 1/e -> first minimum, and finally to ``tau = 1``; :func:`acf_lag_info` says which rule gave the
lag.

Dimension (:func:`cao_embedding`, Cao 1997, Physica D 110:43-50). With ``y_i(d)`` the delay vectors of
dimension d (``i = 1 .. N - d tau``, so that each has a (d+1)-dimensional extension ``y_i(d+1)``) and
``n(i, d)`` the nearest neighbour of ``y_i(d)`` in maximum norm::

    a(i, d)  = ||y_i(d+1) - y_n(i,d)(d+1)|| / ||y_i(d) - y_n(i,d)(d)||
    E(d)     = mean_i a(i, d)                           E1(d) = E(d+1) / E(d)
    E*(d)    = mean_i |x_{i+d tau} - x_{n(i,d)+d tau}|     E2(d) = E*(d+1) / E*(d)

E1(d) stops changing once d is a sufficient dimension. The chosen dimension is the first d with E1(d) >=
``e1_threshold`` (default 0.9) and a relative change ``|E1(d+1) - E1(d)| / E1(d) <= e1_tolerance``
(default 0.1); this is the saturation test of R's nonlinearTseries (``estimateEmbeddingDim``), with the
threshold lowered from 0.95 to 0.9 because series of a few hundred points (NN5: 735 days) saturate below 0.95.
When no d passes, the dimension is ``max_dim`` and ``saturated`` is False (random data: E1 creeps towards 1
without a knee). E2 tells deterministic from stochastic data: for independent random data the future value is
independent of the past, so E2(d) = 1 for every d; a deterministic series has some d with E2(d) clearly away
from 1. ``deterministic`` is True when ``max_d |E2(d) - 1| > e2_tolerance`` (default 0.15; on white noise of
735 points the largest deviation over d = 1..15 is 0.05-0.10, on 2000 points about 0.03). Correlated noise (an
AR process, a weekly pattern) also pulls E2 below 1 at small d, so the flag is evidence of structure rather than a
proof of chaos.

On the 111 NN5 series (imputed by same-weekday medians, 735 days) the first zero of the ACF is at 2 days for 94
series (1 to 3 days for 102; a few with level shifts or trends reach 10-86 days), and Cao's method gives m = 7 for
81 series (6 for 11, 8 for 18, 10 for 1), as the paper reports. The E1 curve of most series rises gradually like
that of noise, and E2 departs from 1 mainly at d = 1-3 (E2(1) about 0.8).

Nearest neighbours come from :class:`scipy.spatial.cKDTree` with the Chebyshev metric (``p = inf``). The point
itself is excluded, and so are neighbours at distance zero (exact duplicates of ``y_i(d)``, common in series
rounded to a few decimals): as Cao prescribes, the nearest neighbour at non-zero distance is used. Optionally a
Theiler window excludes neighbours close in time (``|i - j| <= theiler``); Cao's method uses none (0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from sciconv.errors import ConfigError, DataError

__all__ = [
    "CaoResult",
    "LagChoice",
    "acf_lag",
    "acf_lag_info",
    "cao_embedding",
    "delay_embedding",
]

LagRule = Literal["first_zero", "first_minimum", "1/e"]
_RULES: tuple[str, ...] = ("first_zero", "1/e", "first_minimum")
_MIN_VECTORS = 10


def _series(x: np.ndarray, name: str = "x", allow_nan: bool = False) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be a 1-D series, got shape {arr.shape}")
    bad = ~np.isfinite(arr) if not allow_nan else np.isinf(arr)
    if bad.any():
        raise DataError(
            f"{name} holds {int(bad.sum())} non-finite value(s) (first at index {int(np.flatnonzero(bad)[0])}); "
            "impute missing days first (nn5_io.impute_same_weekday_median)"
        )
    return arr


# ----------------------------------------------------------------------------------------------------
# Delay from the autocorrelation function


class LagChoice(NamedTuple):
    """The delay chosen by :func:`acf_lag_info`.

    Attributes:
        lag: the delay tau (>= 1, in samples: days for NN5).
        rule: the rule that gave it (``"first_zero"``, ``"1/e"``, ``"first_minimum"``, or ``"fallback"`` for 1).
        acf: ``(max_lag + 1,)`` the sample autocorrelation at lags 0 .. max_lag.
    """

    lag: int
    rule: str
    acf: np.ndarray


def _apply_rule(r: np.ndarray, rule: str) -> int | None:
    """The lag ``rule`` picks from the ACF ``r`` (``r[0] = 1``), or None when it does not apply within ``r``."""
    if rule == "first_zero":
        below = np.flatnonzero(r[1:] <= 0.0)
        if not below.size:
            return None
        k = int(below[0]) + 1
        return k - 1 if k > 1 and abs(r[k - 1]) < abs(r[k]) else k
    if rule == "1/e":
        below = np.flatnonzero(r[1:] <= np.exp(-1.0))
        return int(below[0]) + 1 if below.size else None
    interior = np.flatnonzero((r[1:-1] < r[:-2]) & (r[1:-1] <= r[2:]))  # local minima at lags 1 .. max_lag-1
    return int(interior[0]) + 1 if interior.size else None


def acf_lag_info(x: np.ndarray, max_lag: int | None = None, rule: LagRule = "first_zero") -> LagChoice:
    """The delay tau from the sample ACF of ``x``, with the rule that gave it (see the module docstring).

    Args:
        x: ``(n,)`` the series; NaN values (missing days) are skipped pairwise by the ACF.
        max_lag: the largest lag examined; default ``min(n // 4, 365)``.
        rule: ``"first_zero"`` (default), ``"1/e"`` or ``"first_minimum"``.
    """
    from statsmodels.tsa.stattools import acf

    arr = _series(x, allow_nan=True)
    if rule not in _RULES:
        raise ConfigError(f"rule must be one of {list(_RULES)}, got {rule!r}")
    n_obs = int(np.isfinite(arr).sum())
    if n_obs < 8:
        raise DataError(f"x has {n_obs} observed values; the ACF needs at least 8")
    if max_lag is None:
        max_lag = max(2, min(len(arr) // 4, 365))
    if not isinstance(max_lag, int | np.integer) or not 2 <= max_lag < len(arr):
        raise ConfigError(f"max_lag must be an integer in [2, {len(arr) - 1}], got {max_lag!r}")
    if np.nanstd(arr) == 0:
        raise DataError("x is constant; its autocorrelation is undefined")
    missing = "conservative" if np.isnan(arr).any() else "none"
    r = np.asarray(acf(arr, nlags=int(max_lag), fft=missing == "none", missing=missing), dtype=np.float64)
    for q in _RULES[_RULES.index(rule) :]:
        lag = _apply_rule(r, q)
        if lag is not None and lag >= 1:
            return LagChoice(int(lag), q, r)
    return LagChoice(1, "fallback", r)


def acf_lag(x: np.ndarray, max_lag: int | None = None, rule: LagRule = "first_zero") -> int:
    """The delay tau (>= 1, in samples) from the sample ACF of ``x``: :func:`acf_lag_info`'s lag."""
    return acf_lag_info(x, max_lag=max_lag, rule=rule).lag


# ----------------------------------------------------------------------------------------------------
# Delay vectors


def delay_embedding(x: np.ndarray, dim: int, lag: int) -> np.ndarray:
    """Delay vectors of ``x``, oldest coordinate first.

    Row ``r`` is the vector of time ``t = r + (dim - 1) lag``: ``[x_{t-(dim-1)lag}, ..., x_{t-lag}, x_t]``.

    Shapes:
        x: ``(n,)``. Returns ``(n - (dim - 1) lag, dim)`` (a copy).
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"x must be a 1-D series, got shape {arr.shape}")
    if not isinstance(dim, int | np.integer) or dim < 1:
        raise ConfigError(f"dim must be a positive integer, got {dim!r}")
    if not isinstance(lag, int | np.integer) or lag < 1:
        raise ConfigError(f"lag must be a positive integer, got {lag!r}")
    span = (int(dim) - 1) * int(lag)
    if len(arr) <= span:
        raise DataError(
            f"a series of {len(arr)} values is too short for dim={dim}, lag={lag}: a delay vector spans {span + 1}"
        )
    n_rows = len(arr) - span
    columns = [arr[k * lag : k * lag + n_rows] for k in range(int(dim))]
    return np.stack(columns, axis=1)


# ----------------------------------------------------------------------------------------------------
# Cao's method


@dataclass(frozen=True)
class CaoResult:
    """Cao's E1 and E2 and what they say.

    Attributes:
        dims: ``(max_dim,)`` the dimensions d = 1 .. max_dim.
        e1: ``(max_dim,)`` E1(d) = E(d+1) / E(d).
        e2: ``(max_dim,)`` E2(d) = E*(d+1) / E*(d).
        dimension: the chosen embedding dimension m (first d where E1 saturates, else ``max_dim``).
        saturated: whether E1 saturated within ``max_dim``.
        deterministic: whether some E2(d) departs from 1 by more than the tolerance (False: looks stochastic).
        e2_deviation: ``max_d |E2(d) - 1|``.
        lag: the delay used.
    """

    dims: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    dimension: int
    saturated: bool
    deterministic: bool
    e2_deviation: float
    lag: int


def _nearest(points: np.ndarray, theiler: int) -> tuple[np.ndarray, np.ndarray]:
    """Index and Chebyshev distance of each point's nearest neighbour at non-zero distance outside the window."""
    n = len(points)
    tree = cKDTree(points)
    idx = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    todo = np.arange(n)
    k = min(n, 2 * theiler + 4)
    while todo.size:
        d, j = tree.query(points[todo], k=k, p=np.inf)
        d = d.reshape(len(todo), -1)
        j = j.reshape(len(todo), -1)
        valid = (d > 0) & (np.abs(j - todo[:, None]) > theiler) & (j < n)
        has = valid.any(axis=1)
        first = np.argmax(valid, axis=1)
        rows = np.flatnonzero(has)
        idx[todo[rows]] = j[rows, first[rows]]
        dist[todo[rows]] = d[rows, first[rows]]
        if k >= n:
            break
        todo = todo[~has]
        k = min(n, 4 * k)
    if np.any(idx < 0):
        raise DataError(
            f"{int(np.sum(idx < 0))} delay vector(s) have no neighbour at non-zero distance (a constant series, "
            "or a Theiler window as long as the series)"
        )
    return idx, dist


def cao_embedding(
    x: np.ndarray,
    lag: int,
    max_dim: int = 15,
    *,
    e1_threshold: float = 0.9,
    e1_tolerance: float = 0.1,
    e2_tolerance: float = 0.15,
    theiler: int = 0,
) -> CaoResult:
    """Cao's method: E1(d) and E2(d) for d = 1 .. ``max_dim``, the embedding dimension and a chaos-vs-noise flag.

    Args:
        x: ``(n,)`` the series, finite (impute missing days first).
        lag: the delay tau (e.g. from :func:`acf_lag`).
        max_dim: the largest dimension examined (E(d) and E*(d) are computed up to ``max_dim + 1``); lowered,
            where the series is too short for it at this lag, to the largest d that leaves 10 delay vectors of
            dimension d + 1 (``dims`` then ends there).
        e1_threshold, e1_tolerance: the saturation test (module docstring).
        e2_tolerance: ``deterministic`` when some ``|E2(d) - 1|`` exceeds it.
        theiler: neighbours with ``|i - j| <= theiler`` are excluded (0: only the point itself).

    Returns:
        A :class:`CaoResult`.

    Raises:
        DataError: the series is too short for dimension 2 at this lag (fewer than 10 vectors), or constant.
    """
    arr = _series(x)
    if not isinstance(lag, int | np.integer) or lag < 1:
        raise ConfigError(f"lag must be a positive integer, got {lag!r}")
    if not isinstance(max_dim, int | np.integer) or max_dim < 1:
        raise ConfigError(f"max_dim must be a positive integer, got {max_dim!r}")
    if not isinstance(theiler, int | np.integer) or theiler < 0:
        raise ConfigError(f"theiler must be an integer >= 0, got {theiler!r}")
    lag, max_dim = int(lag), int(max_dim)
    n = len(arr)
    if n - 2 * lag < _MIN_VECTORS:
        raise DataError(
            f"a series of {n} values is too short for Cao's method at lag {lag}: {n - 2 * lag} delay vectors of "
            f"dimension 2 (at least {_MIN_VECTORS} are needed)"
        )
    max_dim = min(max_dim, (n - _MIN_VECTORS) // lag - 1)  # keep >= _MIN_VECTORS vectors at dimension max_dim + 1
    if np.ptp(arr) == 0:
        raise DataError("x is constant; Cao's method needs a varying series")
    e = np.empty(max_dim + 1)
    e_star = np.empty(max_dim + 1)
    for d in range(1, max_dim + 2):
        n_d = n - d * lag  # vectors of dimension d that have a (d+1)-dimensional extension
        points = np.stack([arr[k * lag : k * lag + n_d] for k in range(d)], axis=1)
        nxt = arr[d * lag : d * lag + n_d]  # the coordinate the extension adds, x_{i + d lag}
        j, dist = _nearest(points, theiler)
        ext = np.abs(nxt - nxt[j])
        e[d - 1] = float(np.mean(np.maximum(dist, ext) / dist))
        e_star[d - 1] = float(np.mean(ext))
    e1 = e[1:] / e[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        e2 = np.where(e_star[:-1] > 0, e_star[1:] / e_star[:-1], 1.0)
    dims = np.arange(1, max_dim + 1)
    dimension, saturated = max_dim, False
    for k in range(max_dim - 1):
        if e1[k] >= e1_threshold and abs(e1[k + 1] - e1[k]) <= e1_tolerance * e1[k]:
            dimension, saturated = k + 1, True
            break
    deviation = float(np.max(np.abs(e2 - 1.0)))
    return CaoResult(
        dims=dims,
        e1=e1,
        e2=e2,
        dimension=int(dimension),
        saturated=saturated,
        deterministic=deviation > e2_tolerance,
        e2_deviation=deviation,
        lag=lag,
    )
