"""Inpainting metrics: masked-pixel errors, SSIM on the padded HEALPix faces, and C_l band ratios."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_cmb.healpix_faces import face_index, padded_index
from sciconv_cmb.inpainting_metrics import (
    CL_BANDS,
    cl_band_ratios,
    cl_ratio_per_ell,
    cosmic_variance,
    masked_errors,
    masked_ssim,
)


def _sky(nside: int, seed: int = 0) -> np.ndarray:
    """A smooth Gaussian random RING map in µK: white noise smoothed by a Gaussian beam of 1.5 pixels FWHM."""
    white = np.random.default_rng(seed).normal(scale=300.0, size=hp.nside2npix(nside))
    return hp.smoothing(white, fwhm=1.5 * hp.nside2resol(nside))


def _disc_mask(nside: int, radius: float = 0.5, theta: float = np.pi / 2, phi: float = 0.3) -> np.ndarray:
    """RING ``observed``: False inside a disc of ``radius`` radians."""
    observed = np.ones(hp.nside2npix(nside), dtype=bool)
    observed[hp.query_disc(nside, hp.ang2vec(theta, phi), radius)] = False
    return observed


# --- masked_errors ---------------------------------------------------------------------------------------


def test_masked_errors_exact_numbers() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    estimate = np.array([1.0, 2.0, 5.0, 2.0])
    observed = np.array([True, True, False, False])
    out = masked_errors(estimate, truth, observed)
    assert out["rms_uK"] == pytest.approx(2.0)  # masked differences (2, -2)
    assert out["rms_frac"] == pytest.approx(2.0 / np.sqrt(1.25))  # std of (1, 2, 3, 4) over all pixels
    assert out["r2"] == pytest.approx(1 - 8.0 / 0.5)  # masked truth (3, 4): spread about 3.5 is 0.5


def test_masked_errors_ignores_observed_pixels_and_accepts_0_1_ints() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    estimate = np.array([100.0, -50.0, 3.0, 4.0])
    out = masked_errors(estimate, truth, np.array([1, 1, 0, 0]))
    assert out == {"rms_uK": 0.0, "rms_frac": 0.0, "r2": 1.0}


def test_perfect_estimate() -> None:
    truth = _sky(8)
    observed = _disc_mask(8)
    out = masked_errors(truth.copy(), truth, observed)
    assert out["rms_uK"] == 0.0 and out["r2"] == 1.0
    assert masked_ssim(truth.copy(), truth, observed) == pytest.approx(1.0, abs=1e-6)


def test_masked_errors_bad_input() -> None:
    truth = np.arange(48.0)
    with pytest.raises(DataError, match="estimate has 47 pixels but truth has 48"):
        masked_errors(truth[:-1], truth, np.zeros(48, bool))
    with pytest.raises(DataError, match="at least one masked pixel"):
        masked_errors(truth, truth, np.ones(48, bool))
    with pytest.raises(DataError, match="observed has shape"):
        masked_errors(truth, truth, np.ones(47, bool))
    with pytest.raises(DataError, match="boolean"):
        masked_errors(truth, truth, np.full(48, 0.5))
    bad = truth.copy()
    bad[3] = hp.UNSEEN
    with pytest.raises(DataError, match="estimate has 1 NaN, infinite or UNSEEN"):
        masked_errors(bad, truth, np.zeros(48, bool))
    with pytest.raises(DataError, match="constant over the masked pixels"):
        masked_errors(truth, truth, np.arange(48) != 5)


# --- masked_ssim -----------------------------------------------------------------------------------------


def test_noise_lowers_ssim_monotonically() -> None:
    nside = 16
    truth = _sky(nside)
    observed = _disc_mask(nside)
    noise = np.random.default_rng(1).normal(size=truth.size) * truth.std()
    values = [masked_ssim(truth + a * noise, truth, observed) for a in (0.0, 0.1, 0.3, 1.0)]
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert values[0] > values[1] > values[2] > values[3]
    assert values[3] < 0.7


def test_ssim_nest_and_ring_agree() -> None:
    nside = 8
    truth = _sky(nside)
    estimate = truth + np.random.default_rng(2).normal(scale=30.0, size=truth.size)
    observed = _disc_mask(nside, radius=0.8)
    ring = masked_ssim(estimate, truth, observed)
    to_nest = hp.nest2ring(nside, np.arange(truth.size))  # NESTED pixel p is RING pixel to_nest[p]
    nest = masked_ssim(estimate[to_nest], truth[to_nest], observed[to_nest], nest=True)
    assert nest == pytest.approx(ring, abs=1e-7)
    assert ring < 0.99


def test_ssim_depends_only_on_windows_of_masked_pixels() -> None:
    """Observed pixels outside every masked pixel's window do not matter; masked pixels do. (Observed pixels
    inside a masked pixel's window do count: each SSIM window is centred on a masked pixel.)"""
    nside, win = 8, 7
    pad = win // 2
    truth_ring = _sky(nside)
    to_nest = hp.nest2ring(nside, np.arange(truth_ring.size))
    truth = truth_ring[to_nest]
    observed = _disc_mask(nside, radius=0.35)[to_nest]
    rng = np.random.default_rng(3)
    estimate = truth + rng.normal(scale=20.0, size=truth.size)
    base = masked_ssim(estimate, truth, observed, nest=True, win_size=win)

    index = padded_index(nside, pad)
    faces = face_index(nside)
    seen = np.zeros(truth.size, dtype=bool)
    for f, x, y in zip(*np.nonzero(~observed[faces]), strict=True):
        seen[index[f, x : x + win, y : y + win]] = True
    far = ~seen
    assert far.sum() > truth.size // 2 and (observed[seen]).any()

    changed = estimate.copy()
    changed[far] += rng.normal(scale=500.0, size=int(far.sum()))
    assert masked_ssim(changed, truth, observed, nest=True, win_size=win) == base

    inside = estimate.copy()
    inside[~observed] += 50.0
    assert masked_ssim(inside, truth, observed, nest=True, win_size=win) < base


def _reference_ssim_at(estimate: np.ndarray, truth: np.ndarray, window: np.ndarray, data_range: float) -> float:
    """SSIM (Wang et al. 2004) of one Gaussian-weighted window, written out in numpy."""
    size = window.shape[0]
    g = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g)
    w /= w.sum()
    x, y = estimate[window], truth[window]
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy, cxy = (w * x * x).sum() - mx**2, (w * y * y).sum() - my**2, (w * x * y).sum() - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


@pytest.mark.parametrize("win", [3, 7])
def test_ssim_window_is_centred_on_the_pixel_with_true_neighbours(win: int) -> None:
    """One masked pixel at a time, at face corners, edges and inside: the SSIM is that of the window of its
    neighbours across the face edges (the padded face gives an Nside x Nside map aligned with the face)."""
    nside = 8
    pad = win // 2
    rng = np.random.default_rng(4)
    truth = rng.normal(scale=100.0, size=12 * nside * nside)  # NESTED
    estimate = truth + rng.normal(scale=60.0, size=truth.size)
    data_range = float(truth.max() - truth.min())
    faces, index = face_index(nside), padded_index(nside, pad)
    n = nside - 1
    for f in (0, 5, 11):  # a north polar, an equatorial and a south polar face
        for x, y in ((0, 0), (n, n), (0, n), (n, 0), (n // 2, 0), (2, 5)):
            observed = np.ones(truth.size, dtype=bool)
            observed[faces[f, x, y]] = False
            got = masked_ssim(estimate, truth, observed, nest=True, win_size=win)
            window = index[f, x : x + win, y : y + win]
            assert window[pad, pad] == faces[f, x, y]
            assert got == pytest.approx(_reference_ssim_at(estimate, truth, window, data_range), abs=2e-5)


def test_ssim_data_range() -> None:
    nside = 8
    truth = _sky(nside)
    estimate = truth + np.random.default_rng(5).normal(scale=30.0, size=truth.size)
    observed = _disc_mask(nside)
    default = masked_ssim(estimate, truth, observed)
    assert masked_ssim(estimate, truth, observed, data_range=float(truth.max() - truth.min())) == default
    assert masked_ssim(estimate, truth, observed, data_range=1e5) > default  # larger constants: closer to 1


def test_ssim_bad_parameters() -> None:
    truth = _sky(2)
    observed = _disc_mask(2, radius=1.0)
    with pytest.raises(ConfigError, match="win_size 7 needs a face padding of 3 pixels, more than Nside 2"):
        masked_ssim(truth, truth, observed)
    masked_ssim(truth, truth, observed, win_size=5)  # pad 2 == Nside: allowed
    with pytest.raises(ConfigError, match="odd integer"):
        masked_ssim(truth, truth, observed, win_size=4)
    with pytest.raises(ConfigError, match="data_range"):
        masked_ssim(truth, truth, observed, win_size=3, data_range=0.0)
    with pytest.raises(DataError, match="12\\*Nside\\*\\*2"):
        masked_ssim(np.ones(50), np.arange(50.0), np.arange(50) > 3, win_size=3)


# --- C_l band ratios -------------------------------------------------------------------------------------


def test_identical_maps_ratio_one_within() -> None:
    truth = _sky(16)
    bands = cl_band_ratios(truth.copy(), truth, 0.7)
    assert [b.label for b in bands] == ["2-10", "10-30", "30-100"]  # 100-lmax is empty at lmax 47
    for b in bands:
        assert b.ratio == pytest.approx(1.0, abs=1e-12) and b.within


def test_half_amplitude_gives_quarter_power_and_bands_cut_at_lmax() -> None:
    truth = _sky(16)
    bands = cl_band_ratios(0.5 * truth, truth, 0.9)
    assert [(b.lo, b.hi) for b in bands] == [(2, 9), (10, 29), (30, 47)]
    for b in bands:
        assert b.ratio == pytest.approx(0.25, rel=1e-10) and not b.within
    cut = cl_band_ratios(0.5 * truth, truth, 0.9, lmax=20)
    assert [(b.label, b.lo, b.hi) for b in cut] == [("2-10", 2, 9), ("10-30", 10, 20)]


def test_last_band_runs_to_lmax_at_nside_64() -> None:
    nside = 64
    truth = _sky(nside)
    last = cl_band_ratios(truth, truth, 1.0)[-1]
    assert (last.label, last.lo, last.hi) == ("100-lmax", 100, 3 * nside - 1)


def test_sigma_formula_exact() -> None:
    truth = _sky(16)
    fsky = 0.6
    bands = cl_band_ratios(truth, truth, fsky, bands=((2, 10), (10, 30), (30, None)))
    weights = {"2-10": 96, "10-30": sum(2 * ell + 1 for ell in range(10, 30)), "30-lmax": sum(range(61, 96, 2))}
    for b in bands:
        assert b.sigma == pytest.approx(np.sqrt(2 / (fsky * weights[b.label])), rel=1e-14)
    assert bands[-1].hi == 47


def test_monopole_and_dipole_do_not_count() -> None:
    nside = 16
    truth = _sky(nside)
    x, _, z = hp.pix2vec(nside, np.arange(truth.size))
    shifted = truth + 300.0 + 80.0 * x - 40.0 * z
    for b in cl_band_ratios(shifted, truth, 0.8):
        assert b.ratio == pytest.approx(1.0, abs=1e-6)


def test_band_ratios_nest_equals_ring_and_ratio_per_ell() -> None:
    nside = 8
    truth = _sky(nside)
    estimate = truth + np.random.default_rng(6).normal(scale=20.0, size=truth.size)
    to_nest = hp.nest2ring(nside, np.arange(truth.size))
    ring = cl_band_ratios(estimate, truth, 0.8)
    nest = cl_band_ratios(estimate[to_nest], truth[to_nest], 0.8, nest=True)
    assert [b.ratio for b in nest] == pytest.approx([b.ratio for b in ring], rel=1e-10)
    ells, ratio = cl_ratio_per_ell(0.5 * truth, truth)
    np.testing.assert_array_equal(ells, np.arange(2, 3 * nside))
    np.testing.assert_allclose(ratio, 0.25, rtol=1e-10)
    ells, ratio = cl_ratio_per_ell(estimate[to_nest], truth[to_nest], nest=True, lmax=10)
    assert ells[-1] == 10 and ratio.shape == (9,) and (ratio > 1).mean() > 0.5  # added white noise adds power


def test_band_ratio_bad_parameters() -> None:
    truth = _sky(8)
    with pytest.raises(ConfigError, match="fsky"):
        cl_band_ratios(truth, truth, 0.0)
    with pytest.raises(ConfigError, match="lmax 24"):
        cl_band_ratios(truth, truth, 0.5, lmax=24)
    with pytest.raises(ConfigError, match="band"):
        cl_band_ratios(truth, truth, 0.5, bands=((1, 10),))
    with pytest.raises(ConfigError, match="band"):
        cl_band_ratios(truth, truth, 0.5, bands=((2, None), (10, 20)))
    assert CL_BANDS[-1] == (100, None)


def test_cosmic_variance_exact() -> None:
    ells = np.array([2, 10, 100])
    np.testing.assert_allclose(cosmic_variance(ells, 0.5), np.sqrt(2 / (np.array([5, 21, 201]) * 0.5)), rtol=1e-15)
    assert cosmic_variance(np.array([0]), 1.0)[0] == pytest.approx(np.sqrt(2))
    with pytest.raises(ConfigError, match="fsky"):
        cosmic_variance(ells, 1.5)
