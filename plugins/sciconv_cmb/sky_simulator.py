"""Simulated CMB temperature skies and masks, written as HEALPix FITS files in the layout real data has.

The sky is a Gaussian realisation of the lensed TT spectrum of the Planck 2018 cosmology (from camb, or healpy's
shipped ``totcls.dat``), band-limited at ``lmax = 3 * Nside - 1``, seen through a Gaussian beam and the HEALPix
pixel window, plus white pixel noise and, optionally, a simple Galactic foreground. Masks (1 = observed,
0 = masked) cut a Galactic region with an irregular edge and discs around point sources, and may be apodised.
Maps are in Galactic coordinates, RING order, temperatures in µK (K_CMB).

Every random draw comes from a :class:`numpy.random.Generator` built from the seed, never from numpy's global
state, so a sky or mask is reproducible from its seed wherever it is drawn. :func:`simulate_dataset` writes a
folder of maps and masks that :func:`sciconv_cmb.healpix_io.read_sky_map` and
:func:`sciconv_cmb.healpix_io.read_mask` read back, as they would read real data::

    folder/spectrum.txt            ell and C_l^TT in µK² (the theory: no beam, no pixel window)
    folder/maps/sky_0000.fits      full-sky map, RING, column TEMPERATURE, TUNIT 'uK_CMB', FWHM, NOISE, COORDSYS 'G'
    folder/masks/mask_0000.fits    its mask, RING, column MASK (0/1, or in [0, 1] when apodised)
    folder/sky_simulation.json     every setting, SIMULATOR_VERSION, and per map its seed and observed fraction
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import healpy as hp
import numpy as np
from scipy.special import eval_legendre

from sciconv.errors import ConfigError, DataError
from sciconv.kit import atomic_write_text, cached_simulation, derive_seed
from sciconv_cmb.healpix_io import write_sky_map

__all__ = [
    "PLANCK2018",
    "SIMULATOR_VERSION",
    "SPECTRUM_SOURCES",
    "apodise",
    "galactic_mask",
    "gaussian_alm",
    "observed_cl",
    "pixel_window",
    "point_source_mask",
    "simulate_dataset",
    "simulate_sky",
    "theory_cl",
    "unresolved_variance",
]

#: Raise whenever a code change alters what the simulator writes (it is part of every cache key).
SIMULATOR_VERSION: int = 1

#: The Planck 2018 base-ΛCDM parameters (TT,TE,EE+lowE+lensing), as camb parameter names; camb's defaults
#: supply the rest (one massive neutrino of 0.06 eV, no tensors).
PLANCK2018: dict[str, float] = {
    "H0": 67.36,
    "ombh2": 0.02237,
    "omch2": 0.12,
    "tau": 0.0544,
    "As": 2.1e-9,
    "ns": 0.9649,
}

#: Where :func:`theory_cl` takes the spectrum from.
SPECTRUM_SOURCES = ("camb", "healpy")

#: camb is run to at least this multipole, so that every lmax up to it shares one cached spectrum.
_CAMB_MIN_LMAX = 2000
#: The largest multipole :func:`theory_cl` asks camb for.
_CAMB_MAX_LMAX = 6000
#: camb's ``lens_potential_accuracy`` (1: its setting for Planck-level lensed spectra).
_CAMB_LENS_ACCURACY = 1
#: The e-folding scale of the foreground in Galactic latitude, degrees.
_FOREGROUND_SCALE_DEG = 10.0
#: The standard deviation of the log of the foreground's modulation (log-normal, mean 1).
_FOREGROUND_LOG_SIGMA = 0.5
#: The smooth random fields (mask edge, foreground modulation) hold multipoles 1 .. this, with C_l ∝ l^-2.
_FIELD_LMAX = 19

_SKY_UNIT = "uK_CMB"


# ----------------------------------------------------------------------------------------------- checks


def _check_nside(nside: int, name: str = "nside") -> int:
    if isinstance(nside, bool) or not isinstance(nside, int | np.integer) or not hp.isnsideok(int(nside), nest=True):
        raise ConfigError(f"{name}: {nside!r} is not a HEALPix Nside (expected a power of 2: 1, 2, 4, 8, ...)")
    return int(nside)


def _check_number(value: float, name: str, *, positive: bool = False) -> float:
    """A finite number >= 0 (> 0 when ``positive``), or a ConfigError naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        expected = "a finite number > 0" if positive else "a finite number >= 0"
        raise ConfigError(f"{name}: {value!r} is not {expected}")
    return number


def _check_count(value: int, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name}: {value!r} is not an integer >= {minimum}")
    return int(value)


def _rng(seed: int | np.random.Generator, name: str = "seed") -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"{name}: {seed!r} is not an integer >= 0 or a numpy Generator")
    return np.random.default_rng(int(seed))


def _check_cl(cl: np.ndarray, lmax: int) -> np.ndarray:
    """``cl[: lmax + 1]`` as float64, checked: one dimension, long enough, finite, non-negative."""
    array = np.asarray(cl, dtype=np.float64)
    if array.ndim != 1 or array.size < lmax + 1:
        raise ConfigError(f"cl: shape {array.shape} is too short; expected C_l for l = 0..{lmax} at least")
    array = array[: lmax + 1]
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ConfigError(f"cl: the spectrum for l = 0..{lmax} holds negative or non-finite values (µK², >= 0)")
    return array


def _check_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    array = np.asarray(mask, dtype=np.float64)
    if array.ndim != 1 or not hp.isnpixok(array.size):
        raise DataError(f"{name}: shape {array.shape} is not one HEALPix map (expected 12 * Nside^2 pixels)")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise DataError(f"{name}: values must be finite and in [0, 1] (1 = observed, 0 = masked)")
    return array


# ---------------------------------------------------------------------------------------------- spectra


def _camb_tt(lmax: int) -> np.ndarray:
    """The lensed total TT C_l of :data:`PLANCK2018` from camb, µK², l = 0..lmax (takes a few seconds)."""
    import camb

    params = camb.set_params(**PLANCK2018, lmax=lmax, lens_potential_accuracy=_CAMB_LENS_ACCURACY)
    results = camb.get_results(params)
    powers = results.get_cmb_power_spectra(params, CMB_unit="muK", raw_cl=True, spectra=["total"])
    return np.array(powers["total"][: lmax + 1, 0], dtype=np.float64)


def _healpy_tt() -> np.ndarray:
    """C_l^TT in µK², l = 0..2000, from healpy's ``data/totcls.dat``.

    The file holds five columns, ``l TT EE BB TE``, each as D_l = l(l+1) C_l / 2π in µK² (its TT peaks at
    D_220 ≈ 5744 µK²; C_0 = C_1 = 0), so C_l = 2π D_l / (l(l+1)).
    """
    path = Path(hp.__file__).resolve().parent / "data" / "totcls.dat"
    table = np.loadtxt(path)
    ell = table[:, 0].astype(np.int64)
    if not np.array_equal(ell, np.arange(ell.size)):
        raise DataError(f"{path}: expected rows for l = 0, 1, 2, ... in the first column")
    d_ell = table[:, 1]
    cl = np.zeros_like(d_ell)
    cl[2:] = 2 * np.pi * d_ell[2:] / (ell[2:] * (ell[2:] + 1))
    return cl


def theory_cl(lmax: int, source: str = "camb", *, cache_dir: str | Path | None = None) -> np.ndarray:
    """The theory TT spectrum C_l in µK² (K_CMB), shape ``(lmax + 1,)``, with C_0 = C_1 = 0.

    ``source="camb"``: the lensed total C_l^TT of :data:`PLANCK2018` from camb (``CMB_unit='muK'``,
    ``raw_cl=True``, ``lens_potential_accuracy=1``), lmax up to 6000. camb runs once, to ``max(2000, lmax
    rounded up to a thousand)``, and its result is cached on disk with :func:`sciconv.kit.cached_simulation`
    (kind ``"cmb-spectrum"``, in ``cache_dir`` or the default cache), so later calls read ``cl_tt.npy``.

    ``source="healpy"``: healpy's shipped ``healpy/data/totcls.dat``, whose TT column is
    D_l = l(l+1) C_l / 2π in µK² (columns l, TT, EE, BB, TE), converted to C_l; lmax up to 2000. No camb, no
    cache. Another ΛCDM model than Planck 2018: its first peak matches camb's (D_220 ≈ 5744 against 5732 µK²)
    but it has ~1.5x more power at l < 30 and differs by up to 10 % past l ~ 600 (measured).

    Raises :class:`~sciconv.errors.ConfigError` on an unknown source or an lmax beyond what it has.
    """
    if source not in SPECTRUM_SOURCES:
        raise ConfigError(f"source: unknown spectrum source {source!r} (expected one of {', '.join(SPECTRUM_SOURCES)})")
    lmax = _check_count(lmax, "lmax")
    if source == "healpy":
        cl = _healpy_tt()
        if lmax >= cl.size:
            raise ConfigError(f"lmax: {lmax} is beyond healpy's totcls.dat, which stops at l = {cl.size - 1}")
        return cl[: lmax + 1].copy()

    if lmax > _CAMB_MAX_LMAX:
        raise ConfigError(f"lmax: {lmax} is beyond the camb spectra this simulator computes (l <= {_CAMB_MAX_LMAX})")
    import camb

    run_lmax = max(_CAMB_MIN_LMAX, -(-lmax // 1000) * 1000)
    params = {
        "source": "camb",
        "camb_version": camb.__version__,
        "lmax": run_lmax,
        "lens_potential_accuracy": _CAMB_LENS_ACCURACY,
        **PLANCK2018,
    }

    def write(folder: Path) -> None:
        np.save(folder / "cl_tt.npy", _camb_tt(run_lmax))

    folder = cached_simulation("cmb-spectrum", params, write, version=SIMULATOR_VERSION, cache_dir=cache_dir)
    cl = np.load(folder / "cl_tt.npy")
    if cl.ndim != 1 or cl.size < lmax + 1:
        raise DataError(f"{folder / 'cl_tt.npy'}: a cached spectrum of shape {cl.shape}; delete the folder")
    cl = np.array(cl[: lmax + 1], dtype=np.float64)
    cl[:2] = 0.0
    return cl


def observed_cl(cl: np.ndarray, nside: int, fwhm_arcmin: float, *, pixwin: bool = True) -> np.ndarray:
    """The spectrum of the sky as a map sees it, C_l b_l² p_l² in µK², shape ``(3 * nside,)`` (l = 0..3 Nside-1).

    ``cl``: the theory C_l in µK² (at least 3 Nside values); b_l: the Gaussian beam of ``fwhm_arcmin``
    (:func:`healpy.gauss_beam`); p_l: the HEALPix pixel window of ``nside`` (:func:`pixel_window`), or 1 when
    ``pixwin`` is False. Noise is not included: white noise of σ µK per pixel adds σ² 4π / (12 Nside²).
    """
    nside = _check_nside(nside)
    fwhm = _check_number(fwhm_arcmin, "fwhm_arcmin")
    lmax = 3 * nside - 1
    return _check_cl(cl, lmax) * _transfer(nside, fwhm, pixwin) ** 2


def _transfer(nside: int, fwhm_arcmin: float, pixwin: bool = True) -> np.ndarray:
    """b_l p_l for l = 0..3 Nside-1: the Gaussian beam times (when ``pixwin``) the pixel window."""
    lmax = 3 * nside - 1
    window = np.asarray(hp.gauss_beam(np.radians(fwhm_arcmin / 60.0), lmax=lmax), dtype=np.float64)
    if pixwin:
        window = window * pixel_window(nside)
    return window


def pixel_window(nside: int) -> np.ndarray:
    """The HEALPix temperature pixel window p_l of ``nside`` for l = 0..3 Nside-1, shape ``(3 * nside,)``.

    What :func:`healpy.pixwin` returns, computed here because healpy (since 1.16) downloads its window files
    at run time, which fails on a machine without internet. By its definition, p_l² is the pixel-averaged
    window of one pixel, p_l² = < (1/Ω²) ∫_p ∫_p P_l(n·n') dn dn' >_p (Ω = 4π / 12 Nside² the pixel area;
    P_l the Legendre polynomial, :func:`scipy.special.eval_legendre`). The double integral is a mean over the
    pairs of its NESTED sub-pixel centres at 2, 4 and 8 times the resolution, extrapolated to infinite
    resolution (Richardson, twice: the error is a power series in the sub-pixel area), averaged over one pixel
    of each shape (the HEALPix grid is symmetric under rotations by 90° about the pole and under north-south
    reflection, and the pixels of an equatorial ring are all alike). It agrees with healpy's window files to
    2e-5 (measured at Nside 2 to 64) and takes ~1.5 s at Nside 64 (cached per Nside in the process; the cost
    grows as Nside²).
    """
    nside = _check_nside(nside)
    return _pixel_window_cached(nside).copy()


@lru_cache(maxsize=16)
def _pixel_window_cached(nside: int) -> np.ndarray:
    pixels, weights = _pixel_shapes(nside)
    by_2, by_4, by_8 = (_mean_pair_legendre(nside, refine, pixels, weights) for refine in (2, 4, 8))
    # the error is a / refine^2 + b / refine^4 + ...: eliminate both terms
    first_4, first_8 = (4 * by_4 - by_2) / 3, (4 * by_8 - by_4) / 3
    squared = np.clip((16 * first_8 - first_4) / 15, 0.0, None)
    window = np.sqrt(squared)
    window.setflags(write=False)
    return window


def _pixel_shapes(nside: int) -> tuple[np.ndarray, np.ndarray]:
    """RING indices of one pixel of each shape of the northern hemisphere and the count each stands for.

    Rings 1..Nside (4i pixels, repeating every 90°): the first quarter, i pixels, each standing for 4 x 2
    (north and south). Rings Nside+1..2Nside-1 (equatorial, all 4 Nside pixels alike): one pixel standing for
    8 Nside. The equator, ring 2 Nside: one pixel standing for 4 Nside. The counts add up to 12 Nside².
    """
    pixels: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for ring in range(1, nside + 1):
        first = 2 * ring * (ring - 1)
        pixels.append(np.arange(first, first + ring))
        weights.append(np.full(ring, 8.0))
    for ring in range(nside + 1, 2 * nside + 1):
        pixels.append(np.array([2 * nside * (nside - 1) + (ring - nside) * 4 * nside]))
        weights.append(np.array([8.0 * nside if ring < 2 * nside else 4.0 * nside]))
    return np.concatenate(pixels), np.concatenate(weights)


def _mean_pair_legendre(nside: int, refine: int, pixels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """< mean over the sub-pixel pairs (i, j) of P_l(n_i·n_j) >_pixels, weighted, for l = 0..3 Nside-1.

    Each pixel is split into ``refine``² NESTED sub-pixels; the pairs' 1 - n_i·n_j (computed as |n_i - n_j|²/2,
    without cancellation) are binned finely and P_l is evaluated at each bin's weighted mean.
    """
    n_sub = refine * refine
    nested = hp.ring2nest(nside, pixels)
    sub = (nested[:, None] * n_sub + np.arange(n_sub)[None, :]).ravel()
    vectors = np.stack(hp.pix2vec(nside * refine, sub, nest=True), axis=-1).reshape(pixels.size, n_sub, 3)
    first, second = np.triu_indices(n_sub, 1)
    batch = max(1, 2**21 // first.size)
    distances, pair_weights = [], []
    for start in range(0, pixels.size, batch):
        chunk = vectors[start : start + batch]
        difference = chunk[:, first, :] - chunk[:, second, :]
        distances.append(0.5 * np.einsum("pik,pik->pi", difference, difference).ravel())
        pair_weights.append(np.repeat(weights[start : start + batch], first.size))
    distance = np.concatenate(distances)
    weight = np.concatenate(pair_weights)
    n_bins = 4096
    index = np.minimum((distance / distance.max() * n_bins).astype(np.int64), n_bins - 1)
    bin_weight = np.bincount(index, weights=weight, minlength=n_bins)
    bin_distance = np.bincount(index, weights=weight * distance, minlength=n_bins)
    used = bin_weight > 0
    cosines = 1.0 - bin_distance[used] / bin_weight[used]
    ell = np.arange(3 * nside)
    legendre = eval_legendre(ell[:, None], cosines[None, :])
    # ordered pairs i != j count twice; the n_sub pairs i == j have P_l(1) = 1
    total = 2.0 * (legendre @ bin_weight[used]) + n_sub * weights.sum()
    return total / (n_sub * n_sub * weights.sum())


# --------------------------------------------------------------------------------------------- random fields


@lru_cache(maxsize=16)
def _abs_latitude_deg(nside: int) -> np.ndarray:
    """|Galactic latitude| in degrees of every RING pixel (read-only; the maps are in Galactic coordinates)."""
    theta, _ = hp.pix2ang(nside, np.arange(hp.nside2npix(nside)))
    latitude = np.abs(90.0 - np.degrees(theta))
    latitude.setflags(write=False)
    return latitude


def gaussian_alm(cl: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian realisation of ``cl`` (µK², l = 0..len-1) in healpy's alm layout (m-major, m >= 0), drawn
    from ``rng`` (real parts, then imaginary parts).

    a_l0 is real N(0, C_l); a_lm (m > 0) is complex with real and imaginary parts N(0, C_l / 2).
    """
    lmax = cl.size - 1
    ell, m = hp.Alm.getlm(lmax)
    real = rng.standard_normal(ell.size)
    imag = rng.standard_normal(ell.size)
    amplitude = np.sqrt(np.where(m == 0, cl[ell], cl[ell] / 2))
    alm = amplitude * (real + 1j * np.where(m == 0, 0.0, imag))
    return alm.astype(np.complex128)


def _smooth_field(nside: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth Gaussian random RING map with zero mean and unit variance (exactly, over the pixels).

    Multipoles 1..min(19, 3 Nside - 1) with C_l ∝ l^-2 (equal power per octave of scale): structure on
    scales of ~10° to 180°, like the edge of a Galactic mask.
    """
    lmax = min(_FIELD_LMAX, 3 * nside - 1)
    cl = np.zeros(lmax + 1)
    ell = np.arange(1, lmax + 1)
    cl[1:] = 1.0 / ell.astype(np.float64) ** 2
    field = hp.alm2map(gaussian_alm(cl, rng), nside, lmax=lmax, pol=False)
    field = field - field.mean()
    std = field.std()
    return field / std if std > 0 else field


def _foreground(nside: int, amplitude_uK: float, rng: np.random.Generator) -> np.ndarray:
    """The Galactic foreground, µK: amplitude exp(-|b| / 10°) exp(0.5 g - 0.125), g from :func:`_smooth_field`."""
    modulation = np.exp(_FOREGROUND_LOG_SIGMA * _smooth_field(nside, rng) - _FOREGROUND_LOG_SIGMA**2 / 2)
    return amplitude_uK * np.exp(-_abs_latitude_deg(nside) / _FOREGROUND_SCALE_DEG) * modulation


# ------------------------------------------------------------------------------------------------- skies


def simulate_sky(
    cl: np.ndarray,
    nside: int,
    *,
    fwhm_arcmin: float,
    noise_uK: float = 0.0,
    foreground_uK: float = 0.0,
    seed: int | np.random.Generator = 0,
    supersample: int = 1,
) -> np.ndarray:
    """One full-sky temperature map in Galactic coordinates, RING order, µK, shape ``(12 * nside**2,)``.

    The CMB is a Gaussian realisation of ``cl`` (µK², at least 3 Nside values) band-limited at
    lmax = 3 Nside - 1, its alm drawn from a numpy Generator (numpy's global random state is never touched).
    When ``foreground_uK > 0`` a Galactic foreground is added to it::

        F(p) = foreground_uK * exp(-|b| / 10°) * exp(0.5 g(p) - 0.125)

    with b the Galactic latitude and g a smooth zero-mean unit-variance Gaussian field (l <= 19, C_l ∝ l^-2),
    so F is positive, concentrated on the Galactic plane, patchy along it (a log-normal modulation of mean 1),
    and ``foreground_uK`` is its mean on the plane. The sum is convolved with the Gaussian beam of
    ``fwhm_arcmin`` and the HEALPix pixel window (in harmonic space, up to lmax), then white noise of
    ``noise_uK`` per pixel is added.

    ``seed``: an integer >= 0 or a :class:`numpy.random.Generator` (drawn from in order: CMB alm, foreground
    field, noise). The same seed gives the same map.

    ``supersample`` s > 1 makes the map as a real one is made: the beam-smoothed sky is synthesised at Nside
    s Nside, band-limited at 3 s Nside - 1 (``cl`` must reach it), sampled at those pixel centres and averaged
    over the s² sub-pixels of each pixel (:func:`healpy.ud_grade`), which gives the pixel window; the map then
    holds the power above 3 Nside - 1 that a band-limited map lacks (see :func:`unresolved_variance`). Noise is
    added at Nside.
    """
    nside = _check_nside(nside)
    fwhm = _check_number(fwhm_arcmin, "fwhm_arcmin")
    noise = _check_number(noise_uK, "noise_uK")
    foreground = _check_number(foreground_uK, "foreground_uK")
    factor = _check_supersample(supersample)
    fine = nside * factor
    lmax = 3 * fine - 1
    spectrum = _check_cl(cl, lmax)
    rng = _rng(seed)

    alm = gaussian_alm(spectrum, rng)
    if foreground > 0:
        alm = alm + hp.map2alm(_foreground(fine, foreground, rng), lmax=lmax, iter=1, pol=False)
    if factor == 1:
        alm = hp.almxfl(alm, _transfer(nside, fwhm, pixwin=True))
        sky = np.asarray(hp.alm2map(alm, nside, lmax=lmax, pol=False), dtype=np.float64)
    else:
        alm = hp.almxfl(alm, _transfer(fine, fwhm, pixwin=False))
        sky = np.asarray(hp.ud_grade(hp.alm2map(alm, fine, lmax=lmax, pol=False), nside), dtype=np.float64)
    if noise > 0:
        sky = sky + rng.normal(0.0, noise, sky.size)
    return sky


def _check_supersample(value: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1 or int(value) & (int(value) - 1):
        raise ConfigError(f"supersample: {value!r}; expected a power of 2 >= 1 (sub-pixels per pixel side)")
    return int(value)


def unresolved_variance(
    cl: np.ndarray, nside: int, *, fwhm_arcmin: float, supersample: int, n_maps: int = 4, seed: int = 0
) -> float:
    """The pixel variance (µK²) that the multipoles above 3 Nside - 1 add to a map of :func:`simulate_sky`
    with ``supersample`` > 1: the mean over ``n_maps`` realisations of the variance of the sub-pixel-averaged
    map of those multipoles alone (beam in, no noise). A band-limited model of the map (a Wiener filter's
    C_l up to 3 Nside - 1) sees this power as extra white noise. 0 when ``supersample`` is 1.
    """
    nside = _check_nside(nside)
    factor = _check_supersample(supersample)
    if factor == 1:
        return 0.0
    fine = nside * factor
    lmax = 3 * fine - 1
    spectrum = _check_cl(cl, lmax).copy()
    spectrum[: 3 * nside] = 0.0
    rng = _rng(seed)
    transfer = _transfer(fine, _check_number(fwhm_arcmin, "fwhm_arcmin"), pixwin=False)
    variances = []
    with few_healpy_threads(fine):
        for _ in range(_check_count(n_maps, "n_maps", minimum=1)):
            alm = hp.almxfl(gaussian_alm(spectrum, rng), transfer)
            high = hp.ud_grade(hp.alm2map(alm, fine, lmax=lmax, pol=False), nside)
            variances.append(float(np.mean(np.square(high))))
    return float(np.mean(variances))


# ------------------------------------------------------------------------------------------------- masks


def galactic_mask(
    nside: int, fsky: float, *, irregularity_deg: float = 5.0, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """A 0/1 float64 RING mask (1 = observed) that cuts a Galactic region with an irregular edge.

    The template |b| + ``irregularity_deg`` * g (b the Galactic latitude in degrees, g a smooth zero-mean
    unit-variance Gaussian field of multipoles 1..19 with C_l ∝ l^-2) is thresholded so that the
    ``round(fsky * npix)`` pixels of highest template (at least one) are observed: the observed fraction is
    ``fsky`` to within 1/npix, and the cut's edge wanders by ~``irregularity_deg`` around a band of constant
    latitude (0 gives a straight band). ``0 < fsky <= 1`` else :class:`~sciconv.errors.ConfigError`.
    """
    nside = _check_nside(nside)
    try:
        fraction = float(fsky)
    except (TypeError, ValueError):
        raise ConfigError(f"fsky: {fsky!r} is not a number") from None
    if not (0.0 < fraction <= 1.0):
        raise ConfigError(f"fsky: {fsky!r} is not an observed sky fraction in (0, 1]")
    irregularity = _check_number(irregularity_deg, "irregularity_deg")
    rng = _rng(seed)
    npix = hp.nside2npix(nside)
    template = _abs_latitude_deg(nside) + irregularity * _smooth_field(nside, rng)
    n_observed = min(npix, max(1, round(fraction * npix)))
    mask = np.zeros(npix)
    mask[np.argsort(template, kind="stable")[npix - n_observed :]] = 1.0
    return mask


def point_source_mask(
    nside: int, n_sources: int, radius_arcmin: float, *, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """A 0/1 float64 RING mask (1 = observed) with ``n_sources`` discs of ``radius_arcmin`` masked.

    The disc centres are uniform on the sphere (cos θ uniform in [-1, 1], φ uniform in [0, 2π)); each disc
    masks every pixel that overlaps it (:func:`healpy.query_disc` with ``inclusive=True``), so even a disc
    smaller than a pixel masks at least one. Discs may overlap each other.
    """
    nside = _check_nside(nside)
    count = _check_count(n_sources, "n_sources")
    radius = _check_number(radius_arcmin, "radius_arcmin", positive=True)
    rng = _rng(seed)
    z = rng.uniform(-1.0, 1.0, count)
    phi = rng.uniform(0.0, 2 * np.pi, count)
    rho = np.sqrt(1.0 - z**2)
    centres = np.stack([rho * np.cos(phi), rho * np.sin(phi), z], axis=1)
    mask = np.ones(hp.nside2npix(nside))
    for centre in centres:
        mask[hp.query_disc(nside, centre, np.radians(radius / 60.0), inclusive=True)] = 0.0
    return mask


def apodise(mask: np.ndarray, fwhm_arcmin: float) -> np.ndarray:
    """An apodised copy of a 0/1 RING mask, float64 in [0, 1]: the same masked set, soft edges inside it.

    The mask is smoothed with a Gaussian of ``fwhm_arcmin`` (:func:`healpy.smoothing`), clipped to [0, 1],
    and every originally masked pixel (value 0) is set back to exactly 0, so the observed pixels keep values
    in (0, 1] that fall off towards the mask's edge. ``fwhm_arcmin = 0`` returns an unchanged copy.
    """
    values = _check_mask(mask)
    fwhm = _check_number(fwhm_arcmin, "fwhm_arcmin")
    if fwhm == 0 or values.min() == 1.0:
        return values.copy()
    smoothed = hp.smoothing(values, fwhm=np.radians(fwhm / 60.0), pol=False)
    smoothed = np.clip(np.asarray(smoothed, dtype=np.float64), 0.0, 1.0)
    smoothed[values == 0] = 0.0
    # an observed pixel deep in a ring of masked ones could be smoothed down to 0: keep it observed.
    tiny = np.finfo(np.float32).tiny
    smoothed[(values > 0) & (smoothed <= tiny)] = tiny
    return smoothed


# ------------------------------------------------------------------------------------------------ datasets


def _map_name(index: int) -> str:
    return f"sky_{index:04d}.fits"


def _mask_name(index: int) -> str:
    return f"mask_{index:04d}.fits"


@contextmanager
def few_healpy_threads(nside: int) -> Iterator[None]:
    """One OpenMP thread for healpy's transforms at Nside <= 128, where they are too small to gain from more.

    On a machine whose cores are busy, healpy's OpenMP threads at Nside 64 run ~10x slower than one thread
    (measured: map2alm 0.25 s against 0.017 s). threadpoolctl (a dependency of scikit-learn) sets the limit and
    restores it afterwards; without it nothing changes.
    """
    if nside > 128:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def _simulate_one(root: Path, index: int, cl: np.ndarray, settings: dict[str, Any], header: list[tuple]) -> dict:
    """Simulate and write map ``index`` of a dataset and its mask; return its entry of the record."""
    nside = settings["nside"]
    map_seed = derive_seed(settings["seed"], f"map:{index}")
    sky = simulate_sky(
        cl,
        nside,
        fwhm_arcmin=settings["fwhm_arcmin"],
        noise_uK=settings["noise_uK"],
        foreground_uK=settings["foreground_uK"],
        seed=derive_seed(map_seed, "sky"),
        supersample=settings.get("supersample", 1),
    )
    mask = galactic_mask(
        nside,
        settings["fsky_galactic"],
        irregularity_deg=settings["irregularity_deg"],
        seed=derive_seed(map_seed, "galactic-mask"),
    )
    if settings["n_sources"] > 0:
        mask *= point_source_mask(
            nside, settings["n_sources"], settings["source_radius_arcmin"], seed=derive_seed(map_seed, "point-sources")
        )
    if settings["apodisation_arcmin"] > 0:
        mask = apodise(mask, settings["apodisation_arcmin"])
    write_sky_map(
        root / "maps" / _map_name(index),
        sky,
        unit=_SKY_UNIT,
        column_names=["TEMPERATURE"],
        extra_header=header,
        dtype=np.float32,
    )
    write_sky_map(
        root / "masks" / _mask_name(index),
        mask,
        column_names=["MASK"],
        extra_header=[("COORDSYS", "G", "Galactic coordinates")],
        dtype=np.float32,
    )
    return {
        "map": f"maps/{_map_name(index)}",
        "mask": f"masks/{_mask_name(index)}",
        "seed": map_seed,
        "fsky": float(np.mean(mask > 0)),
    }


def simulate_dataset(
    folder: str | Path,
    *,
    n_maps: int,
    nside: int,
    fwhm_arcmin: float,
    noise_uK: float,
    foreground_uK: float,
    fsky_galactic: float,
    n_sources: int,
    source_radius_arcmin: float,
    irregularity_deg: float,
    apodisation_arcmin: float,
    spectrum: str,
    seed: int,
    supersample: int = 1,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Write ``n_maps`` simulated skies and one mask per sky into ``folder`` (existing and empty).

    Layout (every FITS file through :func:`sciconv_cmb.healpix_io.write_sky_map`, atomically, float32 like
    the Planck and WMAP releases)::

        spectrum.txt            '#' header, then ell and C_l^TT in µK² for l = 0..3 s Nside-1 (theory, no beam;
                                s = ``supersample``, see :func:`simulate_sky`)
        maps/sky_0000.fits      :func:`simulate_sky`, RING, column TEMPERATURE, TUNIT 'uK_CMB', header FWHM
                                (arcmin), NOISE (µK per pixel), FOREGRND (µK), COORDSYS 'G'
        masks/mask_0000.fits    its mask, RING, column MASK: :func:`galactic_mask` (``fsky_galactic``, its own
                                irregular edge) times :func:`point_source_mask`, then :func:`apodise` when
                                ``apodisation_arcmin > 0``
        sky_simulation.json     the record returned: every setting, ``simulator_version``, and per map its
                                ``seed`` and ``fsky`` (the fraction of pixels with mask > 0)

    Map i's seed is ``derive_seed(seed, f"map:{i}")``; the sky, its Galactic cut and its point sources are
    drawn from seeds derived from it (``"sky"``, ``"galactic-mask"``, ``"point-sources"``), so each map and
    mask is reproducible on its own. ``spectrum`` names the :func:`theory_cl` source (``cache_dir`` is camb's).
    Settings are checked before anything is written; a failure later (a full disk) leaves a partial folder, so
    write into a temporary folder that is renamed when complete (:func:`sciconv.kit.cached_simulation` does).
    At Nside <= 128 healpy runs on one OpenMP thread here (see :func:`few_healpy_threads`).
    """
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"folder: {root} is not an existing folder (simulate_dataset writes into an empty one)")
    if any(root.iterdir()):
        raise ConfigError(f"folder: {root} is not empty (simulate_dataset writes into an empty folder)")
    settings: dict[str, Any] = {
        "n_maps": _check_count(n_maps, "n_maps", minimum=1),
        "nside": _check_nside(nside),
        "fwhm_arcmin": _check_number(fwhm_arcmin, "fwhm_arcmin"),
        "noise_uK": _check_number(noise_uK, "noise_uK"),
        "foreground_uK": _check_number(foreground_uK, "foreground_uK"),
        "fsky_galactic": _check_number(fsky_galactic, "fsky_galactic", positive=True),
        "n_sources": _check_count(n_sources, "n_sources"),
        "source_radius_arcmin": _check_number(source_radius_arcmin, "source_radius_arcmin", positive=True),
        "irregularity_deg": _check_number(irregularity_deg, "irregularity_deg"),
        "apodisation_arcmin": _check_number(apodisation_arcmin, "apodisation_arcmin"),
        "spectrum": spectrum,
        "seed": _check_count(seed, "seed"),
        "supersample": _check_supersample(supersample),
    }
    if spectrum not in SPECTRUM_SOURCES:
        expected = ", ".join(SPECTRUM_SOURCES)
        raise ConfigError(f"spectrum: unknown spectrum source {spectrum!r} (expected one of {expected})")
    if settings["fsky_galactic"] > 1.0:
        raise ConfigError(f"fsky_galactic: {fsky_galactic!r} is not an observed sky fraction in (0, 1]")
    nside = settings["nside"]
    lmax = 3 * nside * settings["supersample"] - 1
    cl = theory_cl(lmax, spectrum, cache_dir=cache_dir)

    origin = "camb, Planck 2018, lensed" if spectrum == "camb" else "healpy data/totcls.dat"
    text_lines = [f"# ell  C_l^TT [uK_CMB^2]  (theory from {origin}; no beam, no pixel window)"]
    text_lines += [f"{ell} {value:.17g}" for ell, value in enumerate(cl)]
    atomic_write_text(root / "spectrum.txt", "\n".join(text_lines) + "\n")

    (root / "maps").mkdir()
    (root / "masks").mkdir()
    header = [
        ("FWHM", settings["fwhm_arcmin"], "Gaussian beam FWHM [arcmin]"),
        ("NOISE", settings["noise_uK"], "white noise rms per pixel [uK_CMB]"),
        ("FOREGRND", settings["foreground_uK"], "Galactic foreground amplitude on the plane [uK_CMB]"),
        ("COORDSYS", "G", "Galactic coordinates"),
    ]
    maps: list[dict[str, Any]] = []
    with few_healpy_threads(nside):
        for index in range(settings["n_maps"]):
            maps.append(_simulate_one(root, index, cl, settings, header))

    record: dict[str, Any] = {
        "simulator": "sciconv_cmb.sky_simulator",
        "simulator_version": SIMULATOR_VERSION,
        "settings": settings,
        "theory": {"source": spectrum, "lmax": lmax, "parameters": dict(PLANCK2018) if spectrum == "camb" else None},
        "units": {"maps": _SKY_UNIT, "fwhm": "arcmin", "noise": "uK_CMB per pixel", "spectrum": "uK_CMB^2"},
        "coordinates": "Galactic",
        "ordering": "RING",
        "maps": maps,
    }
    atomic_write_text(root / "sky_simulation.json", json.dumps(record, indent=1) + "\n")
    return record
