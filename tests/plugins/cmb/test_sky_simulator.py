"""The CMB sky and mask simulator: spectra, skies, masks, and the dataset it writes for the real reader."""

from __future__ import annotations

import json
from pathlib import Path

import healpy as hp
import numpy as np
import pytest
from astropy.io import fits

import sciconv_cmb.sky_simulator as simulator
from sciconv.errors import ConfigError, DataError
from sciconv.kit import derive_seed
from sciconv_cmb.healpix_io import read_mask, read_sky_map
from sciconv_cmb.sky_simulator import (
    PLANCK2018,
    SIMULATOR_VERSION,
    apodise,
    galactic_mask,
    gaussian_alm,
    observed_cl,
    pixel_window,
    point_source_mask,
    simulate_dataset,
    simulate_sky,
    theory_cl,
    unresolved_variance,
)


@pytest.fixture(scope="module")
def cl32() -> np.ndarray:
    """healpy's shipped spectrum up to 3 * 32 - 1, µK²."""
    return theory_cl(95, "healpy")


def _abs_latitude(nside: int) -> np.ndarray:
    theta, _ = hp.pix2ang(nside, np.arange(hp.nside2npix(nside)))
    return np.abs(90.0 - np.degrees(theta))


def _dataset_kwargs(**changes: object) -> dict[str, object]:
    kwargs: dict[str, object] = {
        "n_maps": 2,
        "nside": 16,
        "fwhm_arcmin": 120.0,
        "noise_uK": 2.0,
        "foreground_uK": 50.0,
        "fsky_galactic": 0.75,
        "n_sources": 10,
        "source_radius_arcmin": 60.0,
        "irregularity_deg": 5.0,
        "apodisation_arcmin": 0.0,
        "spectrum": "healpy",
        "seed": 7,
    }
    kwargs.update(changes)
    return kwargs


# ----------------------------------------------------------------------------------------------- spectra


def test_camb_spectrum_has_the_planck_first_peak_and_is_cached(tmp_path: Path, monkeypatch) -> None:
    cl = theory_cl(400, "camb", cache_dir=tmp_path)
    assert cl.shape == (401,)
    assert cl[0] == cl[1] == 0.0 and np.all(cl[2:] > 0)
    ell = np.arange(cl.size)
    d_ell = ell * (ell + 1) * cl / (2 * np.pi)
    peak = int(np.argmax(d_ell[100:])) + 100
    assert abs(peak - 220) <= 10
    assert d_ell[peak] == pytest.approx(5700.0, rel=0.10)
    assert len(list(tmp_path.glob("cmb-spectrum-*/cl_tt.npy"))) == 1

    def no_camb(lmax: int) -> np.ndarray:
        raise AssertionError("camb ran again although its spectrum was cached")

    monkeypatch.setattr(simulator, "_camb_tt", no_camb)
    again = theory_cl(300, "camb", cache_dir=tmp_path)  # a smaller lmax shares the cached spectrum
    np.testing.assert_array_equal(again, cl[:301])
    assert PLANCK2018["H0"] == 67.36 and PLANCK2018["As"] == 2.1e-9


def test_healpy_spectrum_is_converted_from_d_ell_to_c_ell() -> None:
    cl = theory_cl(2000, "healpy")
    assert cl.shape == (2001,) and cl[0] == cl[1] == 0.0
    ell = np.arange(cl.size)
    d_ell = ell * (ell + 1) * cl / (2 * np.pi)
    assert d_ell[220] == pytest.approx(5744.3, rel=1e-4)  # totcls.dat's TT column at l = 220, µK²
    assert d_ell[2] == pytest.approx(1726.1, rel=1e-4)
    with pytest.raises(ConfigError, match="lmax"):
        theory_cl(2001, "healpy")


def test_pixel_window_matches_healpys_window_files() -> None:
    # values from healpy's pixel_window_n0004.fits and pixel_window_n0016.fits (TEMPERATURE column)
    w4 = pixel_window(4)
    assert w4.shape == (12,) and w4[0] == pytest.approx(1.0, abs=1e-12)
    assert w4[5] == pytest.approx(0.9162776541108094, rel=1e-4)
    assert w4[11] == pytest.approx(0.6722005065651119, rel=1e-4)
    w16 = pixel_window(16)
    assert w16[10] == pytest.approx(0.9801641161686041, rel=1e-4)
    assert w16[24] == pytest.approx(0.8956956165071981, rel=1e-4)
    assert w16[47] == pytest.approx(0.6526493371185118, rel=1e-4)
    assert np.all(np.diff(w16) < 0)


def test_observed_cl_applies_beam_and_pixel_window(cl32: np.ndarray) -> None:
    seen = observed_cl(cl32, 32, 60.0)
    beam = hp.gauss_beam(np.radians(1.0), lmax=95)
    np.testing.assert_allclose(seen, cl32 * beam**2 * pixel_window(32) ** 2)
    np.testing.assert_allclose(observed_cl(cl32, 32, 60.0, pixwin=False), cl32 * beam**2)
    with pytest.raises(ConfigError, match="cl"):
        observed_cl(cl32[:50], 32, 60.0)


# ------------------------------------------------------------------------------------------------- skies


def test_simulate_sky_is_reproducible_and_leaves_numpy_global_state_alone(cl32: np.ndarray) -> None:
    np.random.seed(123)
    before = np.random.get_state()
    first = simulate_sky(cl32, 32, fwhm_arcmin=120.0, noise_uK=3.0, foreground_uK=20.0, seed=5)
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    assert first.shape == (hp.nside2npix(32),) and first.dtype == np.float64
    second = simulate_sky(cl32, 32, fwhm_arcmin=120.0, noise_uK=3.0, foreground_uK=20.0, seed=5)
    np.testing.assert_array_equal(first, second)
    same_generator = simulate_sky(
        cl32, 32, fwhm_arcmin=120.0, noise_uK=3.0, foreground_uK=20.0, seed=np.random.default_rng(5)
    )
    np.testing.assert_array_equal(first, same_generator)
    other = simulate_sky(cl32, 32, fwhm_arcmin=120.0, noise_uK=3.0, foreground_uK=20.0, seed=6)
    assert not np.allclose(first, other)
    assert 0.5 * np.std(other) < np.std(first) < 2 * np.std(other)


@pytest.mark.parametrize("noise_uK", [0.0, 60.0])
def test_sky_spectrum_averages_to_observed_cl_within_cosmic_variance(cl32: np.ndarray, noise_uK: float) -> None:
    nside, n_maps = 32, 20
    spectra = np.array(
        [
            hp.anafast(simulate_sky(cl32, nside, fwhm_arcmin=90.0, noise_uK=noise_uK, seed=100 + i), lmax=95)
            for i in range(n_maps)
        ]
    )
    expected = observed_cl(cl32, nside, 90.0) + noise_uK**2 * 4 * np.pi / hp.nside2npix(nside)
    ell = np.arange(2, 61)
    sigma = np.sqrt(2.0 / (2 * ell + 1)) * expected[ell] / np.sqrt(n_maps)
    z = (spectra.mean(axis=0)[ell] - expected[ell]) / sigma
    assert np.max(np.abs(z)) < 4.0
    assert np.mean(z**2) < 1.8  # chi² per multipole (59 of them)
    if noise_uK:  # noise dominates at l = 60 here: its level is seen, not only the signal's
        assert expected[60] > 2 * observed_cl(cl32, nside, 90.0)[60]


def test_foreground_adds_power_at_low_galactic_latitude(cl32: np.ndarray) -> None:
    clean = simulate_sky(cl32, 32, fwhm_arcmin=60.0, seed=9)
    dirty = simulate_sky(cl32, 32, fwhm_arcmin=60.0, foreground_uK=300.0, seed=9)
    foreground = dirty - clean  # the same CMB draw: the foreground is drawn after it
    latitude = _abs_latitude(32)
    low, high = foreground[latitude < 10], foreground[latitude > 40]
    assert np.mean(low) > 50.0
    assert np.sqrt(np.mean(low**2)) > 10 * np.sqrt(np.mean(high**2))
    assert np.sqrt(np.mean(high**2)) < 20.0


# ------------------------------------------------------------------------------------------------- masks


def test_galactic_mask_hits_fsky_with_an_irregular_edge_at_low_latitude() -> None:
    nside = 32
    npix = hp.nside2npix(nside)
    latitude = _abs_latitude(nside)
    one = galactic_mask(nside, 0.8, seed=1)
    assert one.dtype == np.float64 and set(np.unique(one)) == {0.0, 1.0}
    assert abs(one.mean() - 0.8) <= 1.0 / npix
    assert latitude[one == 0].mean() < 15.0 < latitude[one == 1].mean()
    other = galactic_mask(nside, 0.8, seed=2)
    assert np.mean(one != other) > 0.01
    np.testing.assert_array_equal(one, galactic_mask(nside, 0.8, seed=1))
    # not a function of latitude alone: some rings are partly cut
    rings = np.round(latitude, 6)
    partly = [r for r in np.unique(rings) if 0 < one[rings == r].mean() < 1]
    assert len(partly) >= 5
    # without irregularity it is a straight band: every observed pixel lies above every masked one
    band = galactic_mask(nside, 0.8, irregularity_deg=0.0, seed=1)
    assert latitude[band == 1].min() >= latitude[band == 0].max()
    assert galactic_mask(nside, 1.0).min() == 1.0
    assert galactic_mask(4, 1e-6).sum() == 1.0  # at least one pixel stays observed


def _components(masked: np.ndarray, nside: int) -> int:
    """The number of connected groups of masked pixels (8-neighbour connectivity, RING)."""
    left = set(np.flatnonzero(masked).tolist())
    count = 0
    while left:
        count += 1
        stack = [left.pop()]
        while stack:
            for neighbour in hp.get_all_neighbours(nside, stack.pop()):
                if neighbour in left:
                    left.remove(neighbour)
                    stack.append(int(neighbour))
    return count


def test_point_source_mask_masks_discs() -> None:
    nside = 16
    tiny = point_source_mask(nside, 20, 1.0, seed=3)  # discs far smaller than a pixel (~220 arcmin)
    assert tiny.dtype == np.float64 and set(np.unique(tiny)) == {0.0, 1.0}
    assert _components(tiny == 0, nside) >= 18  # one group per disc, but for the odd pair that touches
    np.testing.assert_array_equal(tiny, point_source_mask(nside, 20, 1.0, seed=3))
    assert not np.array_equal(tiny, point_source_mask(nside, 20, 1.0, seed=4))
    assert point_source_mask(nside, 0, 30.0).min() == 1.0
    big = point_source_mask(32, 10, 300.0, seed=3)  # discs of 5 degrees, ~110 pixels of ~1.8 degrees each
    disc_fraction = 10 * 2 * np.pi * (1 - np.cos(np.radians(5.0))) / (4 * np.pi)
    assert disc_fraction < np.mean(big == 0) < 2.5 * disc_fraction


def test_apodise_keeps_the_masked_set_and_stays_in_unit_interval() -> None:
    mask = galactic_mask(32, 0.7, seed=4) * point_source_mask(32, 15, 120.0, seed=4)
    soft = apodise(mask, 180.0)
    np.testing.assert_array_equal(soft == 0, mask == 0)
    assert soft.min() >= 0.0 and soft.max() <= 1.0
    assert np.mean((soft > 0) & (soft < 0.99)) > 0.05  # edges are soft
    np.testing.assert_array_equal(apodise(mask, 0.0), mask)
    with pytest.raises(DataError, match="mask"):
        apodise(mask * 2.0, 60.0)


# ---------------------------------------------------------------------------------------------- datasets


def test_simulate_dataset_writes_what_the_real_reader_reads(tmp_path: Path, cl32: np.ndarray) -> None:
    record = simulate_dataset(tmp_path, **_dataset_kwargs())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["maps", "masks", "sky_simulation.json", "spectrum.txt"]
    assert json.loads((tmp_path / "sky_simulation.json").read_text()) == record
    assert record["simulator_version"] == SIMULATOR_VERSION
    assert record["settings"]["fsky_galactic"] == 0.75 and record["settings"]["n_sources"] == 10
    assert [m["map"] for m in record["maps"]] == ["maps/sky_0000.fits", "maps/sky_0001.fits"]

    spectrum = np.loadtxt(tmp_path / "spectrum.txt")
    assert (tmp_path / "spectrum.txt").read_text().startswith("#")
    np.testing.assert_array_equal(spectrum[:, 0], np.arange(48))
    np.testing.assert_array_equal(spectrum[:, 1], theory_cl(47, "healpy"))

    masks = []
    for entry in record["maps"]:
        sky = read_sky_map(tmp_path / entry["map"])
        assert sky.unit == "uK_CMB" and sky.nside == 16 and sky.ordering == "RING" and sky.column == "TEMPERATURE"
        assert sky.observed.all()
        header = fits.getheader(tmp_path / entry["map"], 1)
        assert header["FWHM"] == 120.0 and header["NOISE"] == 2.0 and header["COORDSYS"] == "G"
        assert header["ORDERING"] == "RING"
        # the map is the one its recorded seed gives (float32 on disk, like the Planck files)
        again = simulate_sky(
            theory_cl(47, "healpy"),
            16,
            fwhm_arcmin=120.0,
            noise_uK=2.0,
            foreground_uK=50.0,
            seed=derive_seed(entry["seed"], "sky"),
        )
        np.testing.assert_allclose(sky.values, again, rtol=1e-6, atol=1e-4)

        mask = read_mask(tmp_path / entry["mask"], nside=16)
        assert fits.getheader(tmp_path / entry["mask"], 1)["TTYPE1"] == "MASK"
        assert set(np.unique(mask)) == {0.0, 1.0}
        assert entry["fsky"] == pytest.approx(mask.mean())
        assert 0.6 < entry["fsky"] <= 0.75  # the Galactic cut, less the point sources
        masks.append(mask)
    assert not np.array_equal(masks[0], masks[1])  # each map has its own mask

    # the same settings give the same files; an apodised set keeps the same masked pixels
    apodised = tmp_path.parent / f"{tmp_path.name}-apodised"
    apodised.mkdir()
    soft = simulate_dataset(apodised, **_dataset_kwargs(apodisation_arcmin=240.0))
    assert [m["seed"] for m in soft["maps"]] == [m["seed"] for m in record["maps"]]
    soft_mask = read_mask(apodised / "masks" / "mask_0000.fits", nside=16)
    np.testing.assert_array_equal(soft_mask == 0, masks[0] == 0)
    assert np.any((soft_mask > 0) & (soft_mask < 1))
    np.testing.assert_array_equal(
        read_sky_map(apodised / "maps" / "sky_0001.fits").values,
        read_sky_map(tmp_path / "maps" / "sky_0001.fits").values,
    )


def test_simulate_dataset_needs_an_empty_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an existing folder"):
        simulate_dataset(tmp_path / "absent", **_dataset_kwargs())
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        simulate_dataset(tmp_path, **_dataset_kwargs())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda cl: galactic_mask(16, 0.0), "fsky"),
        (lambda cl: galactic_mask(16, 1.5), "fsky"),
        (lambda cl: galactic_mask(16, 0.5, irregularity_deg=-1.0), "irregularity_deg"),
        (lambda cl: theory_cl(100, "class"), "source"),
        (lambda cl: theory_cl(7000, "camb"), "lmax"),
        (lambda cl: simulate_sky(cl, 16, fwhm_arcmin=60.0, noise_uK=-1.0), "noise_uK"),
        (lambda cl: simulate_sky(cl, 16, fwhm_arcmin=-5.0), "fwhm_arcmin"),
        (lambda cl: simulate_sky(cl, 12, fwhm_arcmin=60.0), "nside"),
        (lambda cl: simulate_sky(cl, 16, fwhm_arcmin=60.0, seed=-1), "seed"),
        (lambda cl: simulate_sky(-cl, 16, fwhm_arcmin=60.0), "cl"),
        (lambda cl: point_source_mask(16, 3, 0.0), "radius_arcmin"),
        (lambda cl: point_source_mask(16, -1, 10.0), "n_sources"),
        (lambda cl: apodise(np.ones(hp.nside2npix(4)), -1.0), "fwhm_arcmin"),
    ],
)
def test_bad_parameters_raise_config_error(call, match: str, cl32: np.ndarray) -> None:
    with pytest.raises(ConfigError, match=match) as error:
        call(cl32)
    assert "\n" not in str(error.value)


def test_simulate_dataset_refuses_bad_settings(tmp_path: Path) -> None:
    for changes, match in [
        ({"fsky_galactic": 0.0}, "fsky_galactic"),
        ({"spectrum": "planck"}, "source"),
        ({"noise_uK": -2.0}, "noise_uK"),
        ({"n_maps": 0}, "n_maps"),
    ]:
        with pytest.raises(ConfigError, match=match):
            simulate_dataset(tmp_path, **_dataset_kwargs(**changes))
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_supersampled_skies_hold_the_power_above_the_band_limit() -> None:
    nside, fwhm = 8, 60.0
    cl = theory_cl(3 * nside * 4 - 1, "healpy")
    band_limited = np.mean([simulate_sky(cl, nside, fwhm_arcmin=fwhm, seed=s).var() for s in range(30)])
    supersampled = np.mean([simulate_sky(cl, nside, fwhm_arcmin=fwhm, seed=s, supersample=4).var() for s in range(30)])
    unresolved = unresolved_variance(cl, nside, fwhm_arcmin=fwhm, supersample=4, n_maps=8)
    model = np.sum((2 * np.arange(3 * nside) + 1) / (4 * np.pi) * observed_cl(cl, nside, fwhm))
    assert unresolved > 0.05 * model  # a 60 arcmin beam leaves real power above l = 23 at Nside 8
    assert band_limited == pytest.approx(model, rel=0.15)
    assert supersampled == pytest.approx(model + unresolved, rel=0.15)
    assert unresolved_variance(cl, nside, fwhm_arcmin=fwhm, supersample=1) == 0.0
    for bad in (0, 3, 2.5):
        with pytest.raises(ConfigError, match="supersample"):
            simulate_sky(cl, nside, fwhm_arcmin=fwhm, supersample=bad)
    with pytest.raises(ConfigError, match=r"cl: shape \(96,\) is too short"):
        simulate_sky(cl, nside, fwhm_arcmin=fwhm, supersample=8)


def test_drawn_alm_have_the_spectrum_asked_for() -> None:
    cl = np.full(41, 2.0)
    cl[:2] = 0
    alm = np.mean([hp.alm2cl(gaussian_alm(cl, np.random.default_rng(s))) for s in range(20)], axis=0)
    assert alm[:2] == pytest.approx([0, 0])
    assert np.mean(alm[2:]) == pytest.approx(2.0, rel=0.03)
