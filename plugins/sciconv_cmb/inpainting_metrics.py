"""How a filled (inpainted) CMB temperature map is judged against the true sky.

Maps are 1-D numpy HEALPix arrays of 12*Nside**2 temperatures in µK, RING ordered unless ``nest=True``;
``observed`` is a boolean array of the same length, True where the sky was observed. The pixel metrics are
computed on the MASKED pixels (``~observed``), the ones the method had to fill:

* :func:`masked_errors`: RMS error (µK and as a fraction of the sky's standard deviation) and R².
* :func:`masked_ssim`: the structural similarity (SSIM, Wang et al. 2004) averaged over the masked pixels,
  computed on the exact NESTED face images (:mod:`sciconv_cmb.healpix_faces`) padded with their true
  neighbours, so that every masked pixel, face edges included, gets a full window centred on it.

The power-spectrum metrics compare the full-sky angular power spectra C_l of the filled map and of the truth:

* :func:`cl_band_ratios`: the ratio of band powers Σ(2l+1)C_l in the bands of :data:`CL_BANDS`, each with the
  cosmic-variance 1-sigma of a band power measured on the observed fraction of the sky.
* :func:`cl_ratio_per_ell` and :func:`cosmic_variance`: the same per multipole, for plots.

Every map must be complete (finite, no ``healpy.UNSEEN``): the estimate is the filled map, the truth the
simulated sky. Bad data raise :class:`~sciconv.errors.DataError`, bad parameter values
:class:`~sciconv.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import healpy as hp
import numpy as np
import torch
from monai.metrics.regression import compute_ssim_and_cs

from sciconv.errors import ConfigError, DataError
from sciconv_cmb.healpix_faces import face_index, padded_index

__all__ = [
    "CL_BANDS",
    "BandRatio",
    "cl_band_ratios",
    "cl_ratio_per_ell",
    "cosmic_variance",
    "masked_errors",
    "masked_ssim",
]

#: Multipole bands (lo, hi) of :func:`cl_band_ratios`: l from lo to hi - 1; hi None runs to lmax inclusive.
CL_BANDS: tuple[tuple[int, int | None], ...] = ((2, 10), (10, 30), (30, 100), (100, None))

#: Standard deviation of the Gaussian SSIM window, in pixels (Wang et al. 2004).
SSIM_SIGMA = 1.5


def _as_map(values: np.ndarray, name: str) -> np.ndarray:
    """A complete 1-D float64 map, or a DataError naming ``name``."""
    m = np.asarray(values)
    if m.ndim != 1 or m.size == 0:
        raise DataError(f"{name} has shape {m.shape}; expected a 1-D HEALPix map of 12*Nside**2 pixels")
    if not np.issubdtype(m.dtype, np.number) or np.issubdtype(m.dtype, np.complexfloating):
        raise DataError(f"{name} has dtype {m.dtype}; expected real temperatures in µK")
    m = m.astype(np.float64)
    bad = ~np.isfinite(m) | (m == hp.UNSEEN)
    if bad.any():
        raise DataError(
            f"{name} has {int(bad.sum())} NaN, infinite or UNSEEN pixels; expected a complete map (fill it first)"
        )
    return m


def _as_observed(observed: np.ndarray, size: int) -> np.ndarray:
    """``observed`` as a boolean array of ``size`` pixels, or a DataError."""
    obs = np.asarray(observed)
    if obs.shape != (size,):
        raise DataError(f"observed has shape {obs.shape}; expected ({size},) like the maps")
    if obs.dtype != np.bool_:
        if not np.issubdtype(obs.dtype, np.number) or not np.isin(obs, (0, 1)).all():
            raise DataError(
                f"observed has dtype {obs.dtype} with values other than 0 and 1; expected a boolean array "
                f"(True = observed), e.g. mask > 0.5 for an apodised mask"
            )
        obs = obs.astype(bool)
    if obs.all():
        raise DataError("observed is True everywhere; expected at least one masked pixel to judge the filling on")
    return obs


def _pair(estimate: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    est = _as_map(estimate, "estimate")
    tru = _as_map(truth, "truth")
    if est.size != tru.size:
        raise DataError(f"estimate has {est.size} pixels but truth has {tru.size}; expected maps of the same length")
    return est, tru


def _nside(npix: int) -> int:
    nside = round(float(np.sqrt(npix / 12)))
    if nside < 1 or 12 * nside * nside != npix or (nside & (nside - 1)) != 0:
        raise DataError(f"maps have {npix} pixels; expected a HEALPix map of 12*Nside**2 pixels, Nside a power of 2")
    return nside


def masked_errors(estimate: np.ndarray, truth: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """Pixel errors of ``estimate`` against ``truth`` on the masked pixels (``~observed``).

    Args:
        estimate, truth: (Npix,) complete maps in µK, same ordering (any: no HEALPix structure is used).
        observed: (Npix,) bool, True = observed.

    Returns ``{'rms_uK': sqrt(mean((est - truth)²)) over the masked pixels (µK), 'rms_frac': rms_uK / std(truth)
    with the standard deviation over ALL pixels, 'r2': 1 - Σ(est - truth)² / Σ(truth - mean(truth))²`` with
    both sums and the mean over the masked pixels ``}``. R² is 1 for a perfect fill and 0 for filling with the
    mean of the masked truth. DataError if the lengths differ, no pixel is masked, or the truth is constant
    (over all pixels, or over the masked ones, where R² is undefined).
    """
    est, tru = _pair(estimate, truth)
    hole = ~_as_observed(observed, est.size)
    sky_std = float(tru.std())
    if sky_std == 0.0:
        raise DataError("truth is constant over the sky; rms_frac (RMS error / std of the truth) is undefined")
    diff = est[hole] - tru[hole]
    spread = float(((tru[hole] - tru[hole].mean()) ** 2).sum())
    if spread == 0.0:
        raise DataError("truth is constant over the masked pixels; R² (error relative to its spread) is undefined")
    sq = float((diff**2).sum())
    rms = float(np.sqrt(sq / diff.size))
    return {"rms_uK": rms, "rms_frac": rms / sky_std, "r2": 1.0 - sq / spread}


def masked_ssim(
    estimate: np.ndarray,
    truth: np.ndarray,
    observed: np.ndarray,
    *,
    nest: bool = False,
    win_size: int = 7,
    data_range: float | None = None,
) -> float:
    """Mean SSIM of ``estimate`` against ``truth`` over the masked pixels (``~observed``).

    The maps are taken to NESTED ordering and cut into their 12 exact Nside x Nside face images, each padded
    with ``win_size // 2`` pixels of its neighbouring faces (:func:`~sciconv_cmb.healpix_faces.padded_index`).
    MONAI's :func:`~monai.metrics.regression.compute_ssim_and_cs` (Gaussian window ``win_size`` x ``win_size``,
    sigma 1.5 pixels, K1 = 0.01, K2 = 0.03) convolves without padding ('valid'), so a padded face of
    Nside + 2*(win_size // 2) pixels gives an Nside x Nside SSIM map aligned with the face: one SSIM value per
    HEALPix pixel, each from a full window centred on it. Those values are averaged over the masked pixels.

    Args:
        estimate, truth: (12*Nside**2,) complete maps in µK, RING ordered (NESTED if ``nest``).
        observed: (12*Nside**2,) bool, True = observed, same ordering.
        win_size: odd window width in pixels, >= 3, with ``win_size // 2 <= Nside``.
        data_range: the dynamic range L of the SSIM constants (C1 = (0.01 L)², C2 = (0.03 L)²) in µK; default
            max - min of the truth over all pixels.

    Returns a float, 1 for a perfect estimate. The SSIM is computed in float32 (MONAI's choice).
    """
    est, tru = _pair(estimate, truth)
    obs = _as_observed(observed, est.size)
    nside = _nside(est.size)
    if int(win_size) != win_size or win_size < 3 or win_size % 2 == 0:
        raise ConfigError(f"win_size {win_size}: expected an odd integer >= 3 (the SSIM window is centred on a pixel)")
    pad = int(win_size) // 2
    if pad > nside:
        raise ConfigError(
            f"win_size {win_size} needs a face padding of {pad} pixels, more than Nside {nside}; "
            f"use win_size <= {2 * nside + 1}"
        )
    if data_range is None:
        data_range = float(tru.max() - tru.min())
        if data_range == 0.0:
            raise DataError("truth is constant over the sky; give data_range explicitly for the SSIM constants")
    elif not np.isfinite(data_range) or data_range <= 0:
        raise ConfigError(f"data_range {data_range}: expected a positive number of µK")
    if not nest:
        ring_of_nested = hp.nest2ring(nside, np.arange(est.size))
        est, tru, obs = est[ring_of_nested], tru[ring_of_nested], obs[ring_of_nested]
    index = padded_index(nside, pad)  # (12, N + 2p, N + 2p) NESTED pixels
    y_pred = torch.from_numpy(est[index]).unsqueeze(1)  # (12, 1, N + 2p, N + 2p)
    y = torch.from_numpy(tru[index]).unsqueeze(1)
    ssim, _ = compute_ssim_and_cs(
        y_pred,
        y,
        spatial_dims=2,
        kernel_size=[int(win_size)] * 2,
        kernel_sigma=[SSIM_SIGMA] * 2,
        data_range=float(data_range),
    )
    ssim_faces = ssim[:, 0].double().numpy()  # (12, N, N), aligned with face_index(nside)
    if ssim_faces.shape != (12, nside, nside):  # pragma: no cover - guards MONAI's 'valid' convolution
        raise AssertionError(f"SSIM map has shape {ssim_faces.shape}; expected (12, {nside}, {nside})")
    ssim_nested = np.empty(est.size)
    ssim_nested[face_index(nside)] = ssim_faces
    return float(ssim_nested[~obs].mean())


@dataclass(frozen=True)
class BandRatio:
    """The band-power ratio of an estimate to the truth in one multipole band.

    ``lo``, ``hi``: the multipoles used, inclusive (a band cut by lmax stops at lmax); ``label``: the band's
    name from its definition ('2-10', '10-30', '30-100', '100-lmax'), the same at every Nside;
    ``ratio``: Σ(2l+1)C_l(estimate) / Σ(2l+1)C_l(truth) over the band; ``sigma``: the fractional cosmic
    variance of that band power, sqrt(2 / (fsky Σ(2l+1))); ``within``: |ratio - 1| <= sigma.
    """

    lo: int
    hi: int
    label: str
    ratio: float
    sigma: float
    within: bool


def _check_fsky(fsky: float) -> float:
    if not np.isfinite(fsky) or not 0 < fsky <= 1:
        raise ConfigError(f"fsky {fsky}: expected the observed sky fraction, 0 < fsky <= 1")
    return float(fsky)


def _spectra(
    estimate: np.ndarray, truth: np.ndarray, nest: bool, lmax: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Full-sky C_l (µK²) of both maps, l = 0..lmax, after removing each map's monopole and dipole."""
    est, tru = _pair(estimate, truth)
    nside = _nside(est.size)
    top = 3 * nside - 1
    if lmax is None:
        lmax = top
    elif int(lmax) != lmax or not 2 <= lmax <= top:
        raise ConfigError(f"lmax {lmax}: expected an integer 2 <= lmax <= 3*Nside - 1 = {top}")
    lmax = int(lmax)
    cls = []
    for m in (est, tru):
        if nest:
            m = hp.reorder(m, n2r=True)
        m = np.asarray(hp.remove_dipole(m, nest=False, copy=True), dtype=np.float64)
        cls.append(np.asarray(hp.anafast(m, lmax=lmax), dtype=np.float64))
    return cls[0], cls[1], lmax


def cl_band_ratios(
    estimate: np.ndarray,
    truth: np.ndarray,
    fsky: float,
    *,
    nest: bool = False,
    lmax: int | None = None,
    bands: Sequence[tuple[int, int | None]] = CL_BANDS,
) -> list[BandRatio]:
    """Band-power ratios of the estimate's angular power spectrum to the truth's, with cosmic variance.

    Both maps' full-sky C_l come from ``healpy.anafast`` (lmax 3*Nside - 1 by default) after removing each
    map's monopole and dipole (``healpy.remove_dipole``). The bands start at l = 2, so on an exact full-sky
    transform removing them changes nothing; it is done so that a large offset of a filled map cannot leak
    into l >= 2 through the quadrature error of the pixelised transform.

    A band (lo, hi) uses l = lo .. hi - 1; the last, (lo, None), l = lo .. lmax. A band partly above lmax is
    cut at lmax (its label unchanged); a band wholly above lmax (e.g. 100-lmax at Nside 16, lmax 47) is left
    out of the list.

    ``fsky`` is the observed fraction of the sky: the band's ``sigma`` is the cosmic variance of a band power
    measured on the sky that was actually observed, sqrt(2 / (fsky Σ(2l+1))). A filled map whose power agrees
    with the truth within it cannot be told apart from the truth by the data the method had. (The full-sky
    cosmic variance, fsky = 1, is the smaller, stricter yardstick.)

    Args:
        estimate, truth: (12*Nside**2,) complete maps in µK, RING ordered (NESTED if ``nest``).
        fsky: 0 < fsky <= 1.
        bands: (lo, hi) pairs with 2 <= lo < hi, hi None only for the last.

    Returns a list of :class:`BandRatio`, in the order of ``bands``.
    """
    fsky = _check_fsky(fsky)
    bands = _check_bands(bands)
    cl_est, cl_true, lmax = _spectra(estimate, truth, nest, lmax)
    out = []
    for lo, hi in bands:
        label = f"{lo}-{'lmax' if hi is None else hi}"
        last = lmax if hi is None else min(hi - 1, lmax)
        if lo > last:
            continue
        ells = np.arange(lo, last + 1)
        weight = 2 * ells + 1
        power_true = float((weight * cl_true[lo : last + 1]).sum())
        if power_true <= 0:
            raise DataError(f"truth has no power in the band {label} (l = {lo}..{last}); the ratio is undefined")
        ratio = float((weight * cl_est[lo : last + 1]).sum()) / power_true
        sigma = float(np.sqrt(2.0 / (fsky * weight.sum())))
        out.append(BandRatio(lo=lo, hi=last, label=label, ratio=ratio, sigma=sigma, within=abs(ratio - 1) <= sigma))
    return out


def _check_bands(bands: Sequence[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    checked: list[tuple[int, int | None]] = []
    for i, band in enumerate(bands):
        try:
            lo, hi = band
        except (TypeError, ValueError):
            raise ConfigError(f"band {band!r}: expected a pair (lo, hi) of multipoles, hi None for 'to lmax'") from None
        ok_lo = isinstance(lo, (int, np.integer)) and lo >= 2
        ok_hi = (hi is None and i == len(bands) - 1) or (isinstance(hi, (int, np.integer)) and ok_lo and hi > lo)
        if not (ok_lo and ok_hi):
            raise ConfigError(
                f"band {band!r}: expected integers 2 <= lo < hi (hi None only for the last band, meaning lmax)"
            )
        checked.append((int(lo), None if hi is None else int(hi)))
    if not checked:
        raise ConfigError("bands is empty; expected at least one (lo, hi) multipole band")
    return checked


def cl_ratio_per_ell(
    estimate: np.ndarray, truth: np.ndarray, *, nest: bool = False, lmax: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(ells, ratio)``: ells = 2..lmax (int) and C_l(estimate) / C_l(truth) at each, for plots.

    Spectra as in :func:`cl_band_ratios` (full sky, monopole and dipole removed, lmax 3*Nside - 1 by default).
    DataError if the truth has no power at some l.
    """
    cl_est, cl_true, lmax = _spectra(estimate, truth, nest, lmax)
    ells = np.arange(2, lmax + 1)
    denominator = cl_true[2:]
    if (denominator <= 0).any():
        first = int(ells[np.argmax(denominator <= 0)])
        raise DataError(f"truth has no power at l = {first}; the ratio C_l(estimate) / C_l(truth) is undefined")
    return ells, cl_est[2:] / denominator


def cosmic_variance(ells: np.ndarray, fsky: float) -> np.ndarray:
    """sqrt(2 / ((2l + 1) fsky)): the fractional 1-sigma cosmic variance of C_l at each l of ``ells``.

    ``ells`` any shape of multipoles >= 0; returns float64 of the same shape.
    """
    fsky = _check_fsky(fsky)
    ells = np.asarray(ells)
    if not np.issubdtype(ells.dtype, np.number) or (ells < 0).any():
        raise DataError("ells: expected multipoles >= 0")
    return np.sqrt(2.0 / ((2.0 * ells.astype(np.float64) + 1.0) * fsky))
