"""The classical inpainting baselines: the harmonic adjoint, the Wiener filter against the dense Gaussian
conditional mean, the statistics of constrained realisations, diffusive inpainting, and bad input."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest
from scipy.special import eval_legendre

from sciconv.errors import ConfigError, DataError
from sciconv_cmb.baselines import (
    WienerSolution,
    _HarmonicSystem,
    constrained_realisation,
    diffusive_inpaint,
    fill_masked,
    wiener_filter,
)
from sciconv_cmb.sky_simulator import gaussian_alm


def _spectrum(lmax: int, scale: float) -> np.ndarray:
    """A CMB-like red spectrum C_l (µK²) with a Gaussian beam of ``scale`` in l; C_0 = C_1 = 0."""
    ell = np.arange(lmax + 1, dtype=np.float64)
    cl = np.zeros(lmax + 1)
    cl[2:] = 6000.0 / (ell[2:] * (ell[2:] + 1)) * np.exp(-((ell[2:] / scale) ** 2))
    return cl


def _mask(nside: int, band_deg: float, holes: int, seed: int = 0) -> np.ndarray:
    """RING observed mask: a Galactic-like band |b| < band_deg masked, plus ``holes`` single-pixel-ish discs."""
    theta, _ = hp.pix2ang(nside, np.arange(hp.nside2npix(nside)))
    observed = np.abs(90.0 - np.degrees(theta)) >= band_deg
    rng = np.random.default_rng(seed)
    for _ in range(holes):
        vec = hp.ang2vec(np.arccos(rng.uniform(-1, 1)), rng.uniform(0, 2 * np.pi))
        observed[hp.query_disc(nside, vec, 1.2 * hp.nside2resol(nside), inclusive=False)] = False
    return observed


def _pixel_covariance(nside: int, cl: np.ndarray) -> np.ndarray:
    """Dense pixel covariance of a band-limited field: Σ_l (2l+1)/(4π) C_l P_l(cos θ_pp')."""
    vec = np.array(hp.pix2vec(nside, np.arange(hp.nside2npix(nside))))
    cos = np.clip(vec.T @ vec, -1.0, 1.0)
    return sum((2 * ell + 1) / (4 * np.pi) * cl[ell] * eval_legendre(ell, cos) for ell in range(cl.size) if cl[ell])


def _posterior(cov: np.ndarray, observed: np.ndarray, data: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Gaussian conditional mean (everywhere) and variance (everywhere) given the observed pixels."""
    c_ao = cov[:, observed]
    gain = np.linalg.solve(cov[np.ix_(observed, observed)] + noise**2 * np.eye(observed.sum()), c_ao.T).T
    return gain @ data[observed], np.diag(cov) - np.einsum("ij,ij->i", gain, c_ao)


def _sky(nside: int, cl: np.ndarray, seed: int) -> np.ndarray:
    return hp.alm2map(gaussian_alm(cl, np.random.default_rng(seed)), nside, lmax=cl.size - 1)


# ------------------------------------------------------------------------------------------- harmonic algebra
@pytest.mark.parametrize("lmax", [23, 31])
def test_adjoint_of_synthesis_is_exact_under_the_real_field_inner_product(lmax: int) -> None:
    nside = 8
    rng = np.random.default_rng(3)
    system = _HarmonicSystem(nside, np.ones(12 * nside**2, bool), np.ones(lmax + 1), 1.0)
    alm = gaussian_alm(np.ones(lmax + 1), rng)
    x = rng.standard_normal(12 * nside**2)
    lhs = float(np.dot(system.synthesis(alm), x))
    rhs = system.dot(alm, system.adjoint(x))
    assert lhs == pytest.approx(rhs, rel=1e-10)
    # and the Wiener-filter operator is symmetric positive definite under that inner product
    masked = _HarmonicSystem(nside, _mask(nside, 20, 3), _spectrum(lmax, 12.0) + 1e-3, 2.0)
    a, b = gaussian_alm(np.ones(lmax + 1), rng), gaussian_alm(np.ones(lmax + 1), rng)
    assert masked.dot(a, masked.apply(b)) == pytest.approx(masked.dot(masked.apply(a), b), rel=1e-10)
    assert masked.dot(a, masked.apply(a)) > 0


# ---------------------------------------------------------------------------------------------- Wiener filter
@pytest.mark.parametrize(("noise_fraction", "max_iterations"), [(0.05, 1000), (1e-3, 6000)])
def test_wiener_filter_is_the_exact_gaussian_conditional_mean(noise_fraction: float, max_iterations: int) -> None:
    nside, lmax = 8, 23
    cl = _spectrum(lmax, 12.0)
    observed = _mask(nside, 20, 4)
    signal = _sky(nside, cl, 1)
    noise = noise_fraction * signal.std()
    data = signal + noise * np.random.default_rng(2).standard_normal(signal.size)
    expected, _ = _posterior(_pixel_covariance(nside, cl), observed, data, noise)

    solution = wiener_filter(np.where(observed, data, hp.UNSEEN), observed, cl, noise, tol=1e-10, max_iter=8000)
    assert isinstance(solution, WienerSolution)
    assert solution.residual < 1e-10
    assert 0 < solution.n_iter <= max_iterations
    assert solution.alm.shape == (hp.Alm.getsize(lmax),)
    assert np.abs(solution.alm[hp.Alm.getidx(lmax, np.array([0, 1, 1]), np.array([0, 0, 1]))]).max() == 0
    np.testing.assert_allclose(solution.signal, expected, rtol=0, atol=1e-4 * np.abs(expected).max())

    # the same in NESTED order
    nested = wiener_filter(
        hp.reorder(data, r2n=True),
        hp.reorder(observed.astype(float), r2n=True) > 0.5,
        cl,
        noise,
        nest=True,
        tol=1e-10,
        max_iter=8000,
    )
    np.testing.assert_allclose(hp.reorder(nested.signal, n2r=True), solution.signal, atol=1e-8 * np.abs(expected).max())


def test_wiener_filter_ignores_masked_values_and_warns_when_not_converged() -> None:
    nside = 4
    cl = _spectrum(11, 8.0)
    observed = _mask(nside, 25, 0)
    data = _sky(nside, cl, 4)
    a = wiener_filter(data, observed, cl, 1.0).signal
    b = wiener_filter(np.where(observed, data, np.nan), observed, cl, 1.0).signal
    np.testing.assert_array_equal(a, b)
    with pytest.warns(RuntimeWarning, match="max_iter=2"):
        solution = wiener_filter(data, observed, cl, 0.01, max_iter=2)
    assert solution.n_iter == 2
    assert solution.residual > 1e-6


# ------------------------------------------------------------------------------------ constrained realisation
def test_constrained_realisations_sample_the_gaussian_posterior() -> None:
    nside, lmax = 4, 11
    cl = _spectrum(lmax, 8.0)
    observed = _mask(nside, 25, 2)
    masked = ~observed
    signal = _sky(nside, cl, 5)
    noise = 0.05 * signal.std()
    data = np.where(observed, signal + noise * np.random.default_rng(6).standard_normal(signal.size), hp.UNSEEN)
    mean, variance = _posterior(_pixel_covariance(nside, cl), observed, np.where(observed, data, 0), noise)
    wf = wiener_filter(data, observed, cl, noise, tol=1e-10).signal
    np.testing.assert_allclose(wf, mean, atol=1e-6 * np.abs(mean).max())

    rng = np.random.default_rng(7)
    draws = np.array([constrained_realisation(data, observed, cl, noise, seed=rng, tol=1e-8) for _ in range(200)])
    z = (draws[:, masked].mean(axis=0) - wf[masked]) / np.sqrt(variance[masked] / len(draws))
    assert np.abs(z).max() < 4.5
    ratio = draws[:, masked].var(axis=0, ddof=1) / variance[masked]
    assert ratio.min() > 0.6 and ratio.max() < 1.5  # sampling error of a variance from 200 draws: ±10 %
    assert np.mean(ratio) == pytest.approx(1.0, abs=0.12)
    # the masked pixels carry the Wiener filter's power plus the posterior variance (the filter alone is smoother)
    power = np.mean(draws[:, masked] ** 2)
    assert power == pytest.approx(np.mean(wf[masked] ** 2 + variance[masked]), rel=0.1)
    assert power > 1.2 * np.mean(wf[masked] ** 2)


def test_constrained_realisation_is_reproducible_from_its_seed() -> None:
    nside = 4
    cl = _spectrum(11, 8.0)
    observed = _mask(nside, 25, 1)
    data = _sky(nside, cl, 8)
    first = constrained_realisation(data, observed, cl, 2.0, seed=11)
    np.testing.assert_array_equal(first, constrained_realisation(data, observed, cl, 2.0, seed=11))
    np.testing.assert_array_equal(
        first, constrained_realisation(data, observed, cl, 2.0, seed=np.random.default_rng(11))
    )
    assert not np.allclose(first, constrained_realisation(data, observed, cl, 2.0, seed=12))
    nested = constrained_realisation(
        hp.reorder(data, r2n=True), hp.reorder(observed.astype(float), r2n=True) > 0.5, cl, 2.0, seed=11, nest=True
    )
    np.testing.assert_allclose(hp.reorder(nested, n2r=True), first, atol=1e-9)
    before = np.random.get_state()[1].copy()
    constrained_realisation(data, observed, cl, 2.0, seed=3)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# ------------------------------------------------------------------------------------------------- diffusion
@pytest.mark.parametrize("nest", [False, True])
def test_diffusive_inpaint_fills_holes_smoothly_within_the_observed_range(nest: bool) -> None:
    nside = 16
    npix = hp.nside2npix(nside)
    observed = _mask(nside, 10, 12, seed=2)
    smooth = hp.alm2map(gaussian_alm(np.array([100.0, 50.0, 50.0]), np.random.default_rng(0)), nside, lmax=2)
    if nest:
        observed = hp.reorder(observed.astype(float), r2n=True) > 0.5
        smooth = hp.reorder(smooth, r2n=True)
    data = np.where(observed, smooth, hp.UNSEEN)

    filled = diffusive_inpaint(data, observed, nest=nest, n_iter=3000)
    np.testing.assert_array_equal(filled[observed], smooth[observed])
    error = np.abs(filled - smooth)[~observed]
    assert error.max() < 0.05 * np.ptp(smooth)
    assert smooth[observed].min() <= filled.min() and filled.max() <= smooth[observed].max()

    constant = diffusive_inpaint(np.full(npix, 7.25), observed, nest=nest, n_iter=50)
    np.testing.assert_allclose(constant, 7.25, rtol=0, atol=1e-12)
    mean_fill = diffusive_inpaint(data, observed, nest=nest, n_iter=0)
    np.testing.assert_allclose(mean_fill[~observed], smooth[observed].mean())

    # a tolerance stops early, close to the converged fill
    early = diffusive_inpaint(data, observed, nest=nest, n_iter=100_000, tol_uK=1e-4)
    assert np.abs(early - filled).max() < 0.01 * np.ptp(smooth)


def test_diffusive_inpaint_obeys_the_maximum_principle_on_a_rough_map() -> None:
    nside = 16
    rough = np.random.default_rng(4).normal(0, 100, hp.nside2npix(nside))
    observed = _mask(nside, 15, 8, seed=9)
    filled = diffusive_inpaint(rough, observed, n_iter=200)
    assert rough[observed].min() <= filled[~observed].min() and filled[~observed].max() <= rough[observed].max()
    np.testing.assert_array_equal(filled[observed], rough[observed])


def test_fill_masked_takes_data_where_observed_and_the_estimate_elsewhere() -> None:
    observed = np.arange(48) % 3 > 0
    m = np.where(observed, np.arange(48.0), hp.UNSEEN)
    out = fill_masked(m, observed, np.full(48, -1.0))
    np.testing.assert_array_equal(out, np.where(observed, np.arange(48.0), -1.0))


# ------------------------------------------------------------------------------------------------- bad input
def test_bad_input_raises_one_line_errors() -> None:
    nside = 4
    npix = hp.nside2npix(nside)
    cl = _spectrum(11, 8.0)
    m = np.zeros(npix)
    observed = np.ones(npix, bool)
    none = np.zeros(npix, bool)
    for call in (
        lambda: diffusive_inpaint(m, none),
        lambda: wiener_filter(m, none, cl, 1.0),
        lambda: constrained_realisation(m, none, cl, 1.0),
    ):
        with pytest.raises(DataError, match="observed: no observed pixel"):
            call()
    with pytest.raises(DataError, match=r"m: 100 pixels is not a HEALPix map; expected 12\*nside\*\*2"):
        wiener_filter(np.zeros(100), np.ones(100, bool), cl, 1.0)
    with pytest.raises(DataError, match=r"observed: shape \(48,\); expected \(192,\)"):
        diffusive_inpaint(m, np.ones(48, bool))
    with pytest.raises(DataError, match=r"estimate: 48 pixels; expected 192"):
        fill_masked(m, observed, np.zeros(48))
    with pytest.raises(DataError, match="observed: dtype float64 with values other than 0/1"):
        diffusive_inpaint(m, np.full(npix, 0.5))
    with pytest.raises(DataError, match="m: 1 observed pixels are NaN"):
        wiener_filter(np.where(np.arange(npix) == 5, np.nan, 0.0), observed, cl, 1.0)
    for noise in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="noise_uK"):
            wiener_filter(m, observed, cl, noise)
        with pytest.raises(ConfigError, match="noise_uK"):
            constrained_realisation(m, observed, cl, noise)
    for bad_cl in (np.ones(2), np.ones(4 * nside + 1), -np.ones(12), np.zeros(12), np.ones((2, 6))):
        with pytest.raises(ConfigError, match="cl_sky"):
            wiener_filter(m, observed, bad_cl, 1.0)
    with pytest.raises(ConfigError, match="n_iter"):
        diffusive_inpaint(m, observed, n_iter=-1)
    with pytest.raises(ConfigError, match="tol_uK"):
        diffusive_inpaint(m, observed, tol_uK=0.0)
    with pytest.raises(ConfigError, match="max_iter"):
        wiener_filter(m, observed, cl, 1.0, max_iter=0)
