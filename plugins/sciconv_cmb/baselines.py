"""The classical CMB inpainting baselines: diffusive inpainting, the Wiener filter, constrained realisations.

Three ways cosmologists fill the masked pixels of a CMB temperature map, against which the network is judged.
Every function takes a HEALPix map ``m`` (a 1-D array of ``12 * nside**2`` pixels, µK, RING order unless
``nest=True``) and ``observed``, a boolean array of the same length (``True`` = pixel observed). What masked
pixels hold in ``m`` (``healpy.UNSEEN``, NaN, the truth) is never read.

* :func:`diffusive_inpaint` repeatedly replaces every masked pixel by the mean of its (up to 8) HEALPix
  neighbours, a Jacobi iteration towards the discrete harmonic (Laplace) fill of the holes.
* :func:`wiener_filter` is the conditional mean of a Gaussian signal with spectrum ``cl_sky`` given the
  observed pixels and white noise, solved by preconditioned conjugate gradients in harmonic space::

      (S^-1 + Y^† M N^-1 M Y) a = Y^† M N^-1 d,        signal = Y a,

  ``S = diag(C_l)``, ``N = noise² I``, ``M`` the observed-pixel selection, ``Y`` healpy's synthesis
  (``alm2map``) and ``Y^†`` its exact adjoint, ``(npix / 4π) map2alm(·, iter=0)``. healpy stores a real
  field's ``a_lm`` for ``m >= 0`` only; the adjoint is exact under the inner product
  ``<a, b> = Σ_l [a_l0 b_l0 + 2 Re Σ_{m>0} conj(a_lm) b_lm]``, which is the one conjugate gradients uses.
* :func:`constrained_realisation` (Hoffman & Ribak 1991) returns a sample of the full-sky signal from the
  same Gaussian posterior, ``s' + WF(d - s' - n')``: its masked pixels have the statistics of the sky, where
  the Wiener filter is smooth.

:func:`fill_masked` puts any of these estimates into the masked pixels of the data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import healpy as hp
import numpy as np
import scipy.sparse as sp

from sciconv.errors import ConfigError, DataError
from sciconv_cmb.sky_simulator import few_healpy_threads, gaussian_alm

__all__ = ["WienerSolution", "constrained_realisation", "diffusive_inpaint", "fill_masked", "wiener_filter"]


# --------------------------------------------------------------------------------------------------- checks
def _check_map(m: np.ndarray, what: str = "m") -> tuple[np.ndarray, int]:
    """``m`` as a float64 1-D array and its Nside, or a one-line :class:`DataError`."""
    arr = np.asarray(m)
    if arr.ndim != 1:
        raise DataError(f"{what}: a map of shape {arr.shape}; expected a 1-D HEALPix map of 12*nside**2 pixels")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{what}: dtype {arr.dtype}; expected a real-valued map (µK)")
    if not hp.isnpixok(arr.size):
        raise DataError(
            f"{what}: {arr.size} pixels is not a HEALPix map; expected 12*nside**2 pixels (192, 768, 3072, ...)"
        )
    return arr.astype(np.float64, copy=False), hp.npix2nside(arr.size)


def _check_observed(observed: np.ndarray, npix: int) -> np.ndarray:
    """``observed`` as a boolean array of ``npix`` entries with at least one ``True``."""
    obs = np.asarray(observed)
    if obs.shape != (npix,):
        raise DataError(f"observed: shape {obs.shape}; expected ({npix},), one entry per pixel of the map")
    if obs.dtype != np.bool_:
        if not (np.issubdtype(obs.dtype, np.number) and np.all((obs == 0) | (obs == 1))):
            raise DataError(f"observed: dtype {obs.dtype} with values other than 0/1; expected a boolean mask")
        obs = obs.astype(bool)
    if not obs.any():
        raise DataError("observed: no observed pixel; expected at least one True entry")
    return obs


def _check_inputs(m: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The checked map, mask and Nside; observed pixels must be finite and not ``healpy.UNSEEN``."""
    arr, nside = _check_map(m)
    obs = _check_observed(observed, arr.size)
    values = arr[obs]
    bad = ~np.isfinite(values) | (values == hp.UNSEEN)
    if bad.any():
        raise DataError(
            f"m: {int(bad.sum())} observed pixels are NaN, infinite or healpy.UNSEEN; expected finite values "
            f"wherever observed is True"
        )
    return arr, obs, nside


def _check_cl(cl_sky: np.ndarray, nside: int) -> np.ndarray:
    """``cl_sky`` as float64 ``C_l`` (µK²), l = 0 .. lmax, with 2 <= lmax <= 4 nside - 1."""
    cl = np.asarray(cl_sky, dtype=np.float64)
    if cl.ndim != 1 or not 3 <= cl.size <= 4 * nside:
        raise ConfigError(
            f"cl_sky: shape {cl.shape}; expected a 1-D spectrum C_l for l = 0 .. lmax with 3 <= len <= 4*nside "
            f"= {4 * nside} (lmax = len - 1)"
        )
    if not np.all(np.isfinite(cl)) or np.any(cl < 0):
        raise ConfigError("cl_sky: negative or non-finite values; expected a power spectrum C_l >= 0 (µK²)")
    if not np.any(cl > 0):
        raise ConfigError("cl_sky: all zero; expected a spectrum with at least one C_l > 0 (µK²)")
    return cl


def _check_positive(value: float, what: str, unit: str = "") -> float:
    """A finite, strictly positive float, or a one-line :class:`ConfigError`."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what}: {value!r}; expected a positive number{unit}") from None
    if not np.isfinite(number) or number <= 0:
        raise ConfigError(f"{what}: {value!r}; expected a positive number{unit}")
    return number


def _check_count(value: int, what: str, minimum: int) -> int:
    """An integer >= ``minimum``, or a one-line :class:`ConfigError`."""
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ConfigError(f"{what}: {value!r}; expected an integer >= {minimum}")
    return int(value)


def fill_masked(m: np.ndarray, observed: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """The inpainted map: ``m`` where observed, ``estimate`` elsewhere.

    Shapes: ``m``, ``observed`` and ``estimate`` are all ``(npix,)`` in the same ordering; returns a new
    float64 ``(npix,)`` map (µK).
    """
    arr, _ = _check_map(m)
    obs = _check_observed(observed, arr.size)
    est, _ = _check_map(estimate, "estimate")
    if est.size != arr.size:
        raise DataError(f"estimate: {est.size} pixels; expected {arr.size}, the number of pixels of m")
    return np.where(obs, arr, est)


# ------------------------------------------------------------------------------------------------ diffusion
def diffusive_inpaint(
    m: np.ndarray,
    observed: np.ndarray,
    *,
    nest: bool = False,
    n_iter: int = 3000,
    tol_uK: float | None = None,
) -> np.ndarray:
    """Fill the masked pixels by iterative neighbour-mean diffusion.

    Masked pixels start at the mean of the observed ones; each iteration then sets every masked pixel, all at
    once (Jacobi), to the mean of its up to 8 neighbours (``healpy.get_all_neighbours``; ``-1`` = none).
    Observed pixels never change. This converges to the discrete harmonic fill of every hole, so the filled
    values lie between the minimum and the maximum of the observed ones.

    Args:
        m: ``(npix,)`` map, µK; masked pixels are not read.
        observed: ``(npix,)`` bool, ``True`` = observed.
        nest: ``True`` if ``m`` and ``observed`` are in NESTED order (RING otherwise).
        n_iter: the most iterations (0 gives the mean fill).
        tol_uK: stop earlier once the largest change of a masked pixel in one iteration is below this (µK);
            ``None`` always runs ``n_iter`` iterations.

    Returns:
        ``(npix,)`` float64 filled map, µK; observed pixels identical to ``m``.
    """
    arr, obs, nside = _check_inputs(m, observed)
    n_iter = _check_count(n_iter, "n_iter", 0)
    tol = None if tol_uK is None else _check_positive(tol_uK, "tol_uK", " (µK) or None")

    out = arr.copy()
    masked = np.flatnonzero(~obs)
    if masked.size == 0:
        return out
    out[masked] = arr[obs].mean()
    if n_iter == 0:
        return out

    neighbours = hp.get_all_neighbours(nside, masked, nest=nest)  # (8, n_masked)
    valid = neighbours >= 0
    weight = 1.0 / valid.sum(axis=0)  # every pixel has 7 or 8 neighbours
    rows = np.broadcast_to(np.arange(masked.size), neighbours.shape)[valid]
    cols = neighbours[valid]
    vals = np.broadcast_to(weight, neighbours.shape)[valid]
    # Split the averaging operator into its masked -> masked part and the constant pull of observed pixels.
    position = np.full(arr.size, -1, dtype=np.int64)
    position[masked] = np.arange(masked.size)
    to_masked = position[cols] >= 0
    w_mm = sp.csr_matrix(
        (vals[to_masked], (rows[to_masked], position[cols[to_masked]])), shape=(masked.size, masked.size)
    )
    pull = np.bincount(rows[~to_masked], weights=vals[~to_masked] * arr[cols[~to_masked]], minlength=masked.size)

    x = out[masked]
    for _ in range(n_iter):
        new = w_mm @ x + pull
        if tol is not None and np.max(np.abs(new - x)) < tol:
            x = new
            break
        x = new
    out[masked] = x
    return out


# ------------------------------------------------------------------------------------------- Wiener filter
@dataclass(frozen=True)
class WienerSolution:
    """The Wiener filter of a masked map.

    Attributes:
        signal: ``(npix,)`` the Wiener-filtered signal map ``Y a_WF`` in the input's ordering, µK, everywhere
            (smooth; on observed pixels too, where it differs from the data by the filtered-out noise).
        alm: healpy ``a_lm`` (complex128, ``lmax = mmax = len(cl_sky) - 1``), µK.
        n_iter: conjugate-gradient iterations used.
        residual: final relative residual ``||r|| / ||b||`` of the harmonic system.
    """

    signal: np.ndarray
    alm: np.ndarray
    n_iter: int
    residual: float


class _HarmonicSystem:
    """The Wiener-filter system ``(S^-1 + Y^† M N^-1 M Y) a = b`` on healpy ``a_lm``, RING maps inside."""

    def __init__(self, nside: int, obs_ring: np.ndarray, cl: np.ndarray, noise_uK: float) -> None:
        self.nside = nside
        self.npix = 12 * nside * nside
        self.lmax = cl.size - 1
        ell, em = hp.Alm.getlm(self.lmax)
        self.ell = ell
        self.cl_of_index = cl[ell]
        self.active = self.cl_of_index > 0  # modes with C_l == 0 are held at zero
        self.weight = np.where(em == 0, 1.0, 2.0)  # healpy's m >= 0 storage of a real field
        self.inv_s = np.zeros(ell.size)
        self.inv_s[self.active] = 1.0 / self.cl_of_index[self.active]
        self.inv_noise_var = 1.0 / noise_uK**2
        self.obs_ring = obs_ring
        fsky = float(obs_ring.mean())
        self.precond = np.zeros(ell.size)
        self.precond[self.active] = 1.0 / (self.inv_s[self.active] + fsky * self.npix / (4 * np.pi) / noise_uK**2)

    def dot(self, a: np.ndarray, b: np.ndarray) -> float:
        """``Σ_l [a_l0 b_l0 + 2 Re Σ_{m>0} conj(a_lm) b_lm]``, the inner product of real fields."""
        return float(np.sum(self.weight * (a.real * b.real + a.imag * b.imag)))

    def synthesis(self, alm: np.ndarray) -> np.ndarray:
        """``Y a``: a RING map (npix,) from ``a_lm``."""
        return hp.alm2map(alm, self.nside, lmax=self.lmax, mmax=self.lmax, pixwin=False, pol=False)

    def adjoint(self, ring_map: np.ndarray) -> np.ndarray:
        """``Y^† x = (npix / 4π) map2alm(x, iter=0)``: the exact adjoint of :meth:`synthesis`."""
        alm = hp.map2alm(ring_map, lmax=self.lmax, mmax=self.lmax, iter=0, pol=False, use_weights=False)
        alm *= self.npix / (4 * np.pi)
        alm[~self.active] = 0
        return alm

    def rhs(self, data_ring: np.ndarray) -> np.ndarray:
        """``b = Y^† M N^-1 d`` (masked pixels of ``data_ring`` are not read)."""
        return self.adjoint(np.where(self.obs_ring, data_ring, 0.0) * self.inv_noise_var)

    def apply(self, alm: np.ndarray) -> np.ndarray:
        """``(S^-1 + Y^† M N^-1 M Y) a``."""
        pixels = self.synthesis(alm)
        pixels *= self.obs_ring * self.inv_noise_var
        return self.inv_s * alm + self.adjoint(pixels)

    def solve(self, b: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, int, float]:
        """Preconditioned conjugate gradients from ``a = 0``: the solution, iterations and ``||r|| / ||b||``."""
        x = np.zeros_like(b)
        b_norm = np.sqrt(self.dot(b, b))
        if b_norm == 0:
            return x, 0, 0.0
        r = b.copy()
        z = self.precond * r
        p = z.copy()
        rz = self.dot(r, z)
        residual = 1.0
        n = 0
        while n < max_iter:
            q = self.apply(p)
            alpha = rz / self.dot(p, q)
            x += alpha * p
            r -= alpha * q
            n += 1
            residual = np.sqrt(self.dot(r, r)) / b_norm
            if residual < tol:
                break
            z = self.precond * r
            rz_new = self.dot(r, z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        if residual >= tol:
            warnings.warn(
                f"wiener_filter: conjugate gradients stopped after max_iter={max_iter} iterations at relative "
                f"residual {residual:.2e} > tol={tol:.1e}",
                RuntimeWarning,
                stacklevel=3,
            )
        return x, n, float(residual)


def _setup(
    m: np.ndarray, observed: np.ndarray, cl_sky: np.ndarray, noise_uK: float, nest: bool, tol: float, max_iter: int
) -> tuple[_HarmonicSystem, np.ndarray, float, int]:
    """Checks everything and builds the harmonic system; returns it, the data in RING order, tol, max_iter."""
    arr, obs, nside = _check_inputs(m, observed)
    cl = _check_cl(cl_sky, nside)
    noise = _check_positive(noise_uK, "noise_uK", " (µK per pixel; the system is singular without noise)")
    tol = _check_positive(tol, "tol")
    max_iter = _check_count(max_iter, "max_iter", 1)
    if nest:
        arr = hp.reorder(arr, n2r=True)
        obs = hp.reorder(obs.astype(np.float64), n2r=True) > 0.5
    data = np.where(obs, arr, 0.0)
    return _HarmonicSystem(nside, obs, cl, noise), data, tol, max_iter


def wiener_filter(
    m: np.ndarray,
    observed: np.ndarray,
    cl_sky: np.ndarray,
    noise_uK: float,
    *,
    nest: bool = False,
    tol: float = 1e-6,
    max_iter: int = 3000,
) -> WienerSolution:
    """The Wiener filter: the conditional mean of a Gaussian signal given the observed pixels.

    Solves ``(S^-1 + Y^† M N^-1 M Y) a = Y^† M N^-1 d`` by conjugate gradients with the diagonal
    preconditioner ``1 / (1/C_l + fsky npix / (4π noise²))``, starting from ``a = 0``.

    Args:
        m: ``(npix,)`` data ``d``, µK; masked pixels are not read.
        observed: ``(npix,)`` bool, ``True`` = observed (``M``).
        cl_sky: ``(lmax + 1,)`` ``C_l`` of the signal as the map sees it (beam and pixel window included), µK²;
            ``3 <= len <= 4 nside``; modes with ``C_l == 0`` (typically l = 0, 1) are held at zero.
        noise_uK: white-noise standard deviation per pixel, µK, > 0 (choose a small floor for noiseless data).
        nest: ``True`` if ``m``, ``observed`` and the returned signal are in NESTED order.
        tol: stop once the relative residual ``||r|| / ||b||`` is below this.
        max_iter: the most CG iterations (a :class:`RuntimeWarning` if reached before ``tol``).

    Returns:
        A :class:`WienerSolution`: the filtered signal map (µK), its ``a_lm``, iterations, final residual.
    """
    system, data, tol, max_iter = _setup(m, observed, cl_sky, noise_uK, nest, tol, max_iter)
    with few_healpy_threads(system.nside):
        alm, n, residual = system.solve(system.rhs(data), tol, max_iter)
        signal = system.synthesis(alm)
    if nest:
        signal = hp.reorder(signal, r2n=True)
    return WienerSolution(signal=signal, alm=alm, n_iter=n, residual=residual)


def constrained_realisation(
    m: np.ndarray,
    observed: np.ndarray,
    cl_sky: np.ndarray,
    noise_uK: float,
    *,
    seed: int | np.random.Generator = 0,
    nest: bool = False,
    tol: float = 1e-6,
    max_iter: int = 3000,
) -> np.ndarray:
    """A constrained realisation (Hoffman & Ribak 1991): a full-sky signal sample from the Gaussian posterior.

    Draws a band-limited signal ``s' = Y a'`` with ``a' ~ N(0, S)`` and white noise ``n' ~ N(0, noise²)`` from
    ``seed`` (numpy's global state is not used), and returns ``s' + WF(d - s' - n')``: the Wiener filter plus
    a fluctuation with the posterior covariance, so masked pixels have the statistics of the sky (not the
    smoothness of the Wiener filter). One conjugate-gradient solve. Arguments as :func:`wiener_filter`.

    Returns:
        ``(npix,)`` float64 signal sample, µK, in the input's ordering (observed pixels hold the sample too,
        not the data; :func:`fill_masked` combines them).
    """
    system, data, tol, max_iter = _setup(m, observed, cl_sky, noise_uK, nest, tol, max_iter)
    rng = np.random.default_rng(seed)
    alm_prior = gaussian_alm(np.asarray(cl_sky, dtype=np.float64), rng)
    alm_prior[~system.active] = 0
    noise = rng.standard_normal(system.npix) / np.sqrt(system.inv_noise_var)
    with few_healpy_threads(system.nside):
        s_prior = system.synthesis(alm_prior)
        alm, _, _ = system.solve(system.rhs(data - s_prior - noise), tol, max_iter)
        sample = system.synthesis(alm_prior + alm)
    if nest:
        sample = hp.reorder(sample, r2n=True)
    return sample
