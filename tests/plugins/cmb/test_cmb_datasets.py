"""The CMB datasets: simulated skies read back through the real reader, the real WMAP map with matching
simulations, the network's items, and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import healpy as hp
import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError, MissingPathError
from sciconv_cmb.datasets import (
    SimulatedSkyDataset,
    SkyMapDataset,
    _unit_factor,
    hole_mask,
    network_items,
    read_simulation_folder,
    scale_of,
)
from sciconv_cmb.healpix_io import write_sky_map
from sciconv_cmb.sky_simulator import simulate_dataset

WMAP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "wmap-nside32"
WMAP_MAP = "wmap_band_iqumap_r9_7yr_V_v4_udgraded32.fits"
WMAP_MASK = "wmap_temperature_analysis_mask_r9_7yr_v4_udgraded32.fits"


def _tiny(tmp_path: Path, **params: object) -> SimulatedSkyDataset:
    defaults: dict[str, object] = {
        "n_train": 3,
        "n_val": 1,
        "n_test": 2,
        "nside": 8,
        "fwhm_arcmin": 600.0,
        "n_sources": 4,
        "source_radius_arcmin": 400.0,
        "spectrum": "healpy",
        "cache_dir": str(tmp_path / "cache"),
    }
    return SimulatedSkyDataset(**{**defaults, **params})


def _wmap(tmp_path: Path, **params: object) -> SkyMapDataset:
    defaults: dict[str, object] = {
        "root": str(WMAP),
        "unit": "mK",
        "n_train": 2,
        "n_val": 1,
        "n_test": 1,
        "spectrum": "healpy",
        "cache_dir": str(tmp_path / "cache"),
    }
    return SkyMapDataset(**{**defaults, **params})


def test_simulated_dataset_reads_its_fits_files_into_scaled_nested_items(tmp_path: Path) -> None:
    bundle = _tiny(tmp_path).load()
    info = bundle.info
    npix = 12 * 8**2
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (3, 1, 2)
    assert bundle.spec.input_shape == (2, npix) and bundle.spec.extra["nside"] == 8
    assert info["maps"]["test"].shape == (2, npix) and info["masks"]["train"].shape == (3, npix)
    # the cache holds the real layout, and read back it is what the bundle holds
    folders = list((tmp_path / "cache").glob("cmb-*/maps"))
    assert len(folders) == 1
    sim = read_simulation_folder(folders[0].parent)
    np.testing.assert_allclose(np.concatenate([info["maps"][s] for s in ("train", "val", "test")]), sim["maps"])
    # the scale is the spectrum's expected pixel standard deviation; the maps have about that spread
    assert info["scale_uK"] == pytest.approx(scale_of(info["cl_sky"], info["noise_uK"]))
    assert np.std(sim["maps"]) == pytest.approx(info["scale_uK"], rel=0.5)
    # items: NESTED, divided by the scale, zero where masked; the mask as channel 1; the whole map as target
    x, y = bundle.test[1]
    truth = hp.reorder(info["maps"]["test"][1], r2n=True) / info["scale_uK"]
    mask = hp.reorder(info["masks"]["test"][1], r2n=True)
    np.testing.assert_allclose(y[0].numpy(), truth, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(x[1].numpy(), mask)
    np.testing.assert_allclose(x[0].numpy(), np.where(mask > 0, truth, 0.0), rtol=1e-6, atol=1e-6)
    assert 0.3 < (mask > 0).mean() < 0.95


def test_simulations_are_cached_and_seeded(tmp_path: Path) -> None:
    first = _tiny(tmp_path).load().info["maps"]["train"]
    again = _tiny(tmp_path).load().info["maps"]["train"]
    other = _tiny(tmp_path, seed=1).load().info["maps"]["train"]
    np.testing.assert_array_equal(first, again)
    assert len(list((tmp_path / "cache").glob("cmb-*/maps"))) == 2
    assert not np.allclose(first, other)


def test_network_items_keep_apodised_mask_values(tmp_path: Path) -> None:
    nside = 4
    maps = np.random.default_rng(0).normal(0, 50, (1, 12 * nside**2))
    masks = np.ones_like(maps)
    masks[0, :10] = 0.0
    masks[0, 10:20] = 0.5
    x, _ = network_items(maps, masks, 50.0)[0]
    ring_mask = hp.reorder(x[1].numpy().astype(np.float64), n2r=True)
    np.testing.assert_allclose(ring_mask, masks[0])
    ring_map = hp.reorder(x[0].numpy().astype(np.float64), n2r=True)
    assert np.all(ring_map[:10] == 0) and np.allclose(ring_map[10:], maps[0, 10:] / 50, atol=1e-6)


def test_wmap_map_needs_its_unit_and_gives_matching_simulations(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no temperature unit \(TUNIT\); give dataset.params.unit"):
        _wmap(tmp_path, unit=None).load()
    bundle = _wmap(tmp_path).load()
    info = bundle.info
    real = info["real"]
    assert real.nside == 32 and info["nside"] == 32 and real.unit == "mK"
    assert 0.6 < real.fsky < 0.8  # the WMAP temperature analysis mask keeps about 70 % of the sky at Nside 32
    # µK, monopole and dipole removed on the observed sky: the CMB anisotropies have tens of µK of spread
    observed = real.values[real.observed]
    assert abs(observed.mean()) < 5 and 40 < observed.std() < 200
    hp_fit = hp.fit_dipole(np.where(real.observed, real.values, hp.UNSEEN), bad=hp.UNSEEN)
    assert abs(hp_fit[0]) < 1e-6 and np.abs(hp_fit[1]).max() < 1e-6
    # every simulation's mask is the real mask with extra discs
    for split in ("train", "val", "test"):
        masks = info["masks"][split]
        assert masks.shape[1] == 12 * 32**2
        assert np.all(masks <= real.mask[None])
        assert np.all((masks > 0).mean(axis=1) < real.fsky)
    assert bundle.spec.extra["nside"] == 32 and info["fwhm_arcmin"] == 21.0
    # the matching simulations are supersampled 4x like a map downgraded from a finer one: a 21 arcmin beam leaves
    # ~20 µK rms of power above l = 95, which the Wiener filter takes as white noise
    assert info["simulation"]["settings"]["supersample"] == 4
    assert 10 < info["unresolved_uK"] < 40
    assert _tiny(tmp_path).load().info["unresolved_uK"] == 0.0


def test_hole_mask_punches_discs_into_the_observed_sky_only(tmp_path: Path) -> None:
    real = _wmap(tmp_path).read_real()
    holes = hole_mask(real, 10, 300.0, seed=3)
    assert holes.dtype == np.bool_ and holes.any()
    assert not np.any(holes & ~real.observed)
    np.testing.assert_array_equal(holes, hole_mask(real, 10, 300.0, seed=3))
    assert not np.array_equal(holes, hole_mask(real, 10, 300.0, seed=4))


# ---- bad input ------------------------------------------------------------------------------------------------


def _folder(tmp_path: Path, map_nside: int = 8, mask_nside: int = 8, mask_value: float = 1.0) -> Path:
    root = tmp_path / "sky"
    root.mkdir()
    sky = np.random.default_rng(0).normal(0, 1e-4, 12 * map_nside**2)
    write_sky_map(root / "sky.fits", sky, unit="K_CMB")
    write_sky_map(root / "sky_mask.fits", np.full(12 * mask_nside**2, mask_value), column_names=["MASK"])
    return root


def test_a_mask_of_another_nside_is_refused_naming_both(tmp_path: Path) -> None:
    root = _folder(tmp_path, mask_nside=16)
    with pytest.raises(DataError, match=r"Nside 16.*Nside 8|Nside 8.*Nside 16") as error:
        _wmap(tmp_path, root=str(root), unit=None).load()
    assert "sky_mask.fits" in str(error.value) and "\n" not in str(error.value)


def test_a_mask_with_no_observed_pixel_is_refused(tmp_path: Path) -> None:
    root = _folder(tmp_path, mask_value=0.0)
    with pytest.raises(DataError, match=r"sky_mask\.fits"):
        _wmap(tmp_path, root=str(root), unit=None).load()


def test_a_folder_without_a_map_or_with_two_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"expected exactly one map"):
        _wmap(tmp_path, root=str(empty)).load()
    root = _folder(tmp_path)
    write_sky_map(root / "other.fits", np.zeros(768), unit="K")
    with pytest.raises(
        DataError, match=r"expected exactly one map.*other.fits, sky.fits; name it with dataset.params.map"
    ):
        _wmap(tmp_path, root=str(root)).load()
    bundle = _wmap(tmp_path, root=str(root), map="sky.fits").load()
    assert bundle.info["real"].map_path.name == "sky.fits"


def test_missing_root_and_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match=r"dataset\.params\.root"):
        _wmap(tmp_path, root=str(tmp_path / "nowhere")).load()
    with pytest.raises(ConfigError, match=r"dataset\.params\.root"):
        SkyMapDataset().load()
    with pytest.raises(ConfigError, match=r"dataset\.params\.nside: expected a power of 2"):
        _tiny(tmp_path, nside=12).load()
    with pytest.raises(ConfigError, match=r"dataset\.params\.spectrum: expected one of camb, healpy"):
        _tiny(tmp_path, spectrum="class").load()
    with pytest.raises(ConfigError, match=r"dataset\.params\.supersample: expected a power of 2"):
        _wmap(tmp_path, supersample=3).load()


def test_a_map_in_an_unknown_unit_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "sky"
    root.mkdir()
    write_sky_map(root / "sky.fits", np.zeros(768), unit="MJy/sr")
    write_sky_map(root / "mask.fits", np.ones(768), column_names=["MASK"])
    with pytest.raises(DataError, match=r"sky.fits: unit 'MJy/sr' is not a CMB temperature unit"):
        _wmap(tmp_path, root=str(root)).load()


def test_simulation_folder_with_missing_masks_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "sims"
    folder.mkdir()
    simulate_dataset(
        folder,
        n_maps=2,
        nside=4,
        fwhm_arcmin=600.0,
        noise_uK=1.0,
        foreground_uK=0.0,
        fsky_galactic=0.8,
        n_sources=0,
        source_radius_arcmin=100.0,
        irregularity_deg=0.0,
        apodisation_arcmin=0.0,
        spectrum="healpy",
        seed=0,
    )
    next((folder / "masks").glob("*.fits")).unlink()
    with pytest.raises(DataError, match=r"expected as many masks/\*\.fits as maps/\*\.fits"):
        read_simulation_folder(folder)


@pytest.mark.parametrize(
    ("unit", "factor"),
    [
        ("K", 1e6),
        ("K_CMB", 1e6),
        ("Kcmb", 1e6),
        ("mK", 1e3),
        ("mK_CMB", 1e3),
        ("uK_CMB", 1.0),
        ("µK", 1.0),
        ("muK", 1.0),
    ],
)
def test_header_units_convert_to_microkelvin(unit: str, factor: float) -> None:
    assert _unit_factor(unit, Path("sky.fits")) == factor
