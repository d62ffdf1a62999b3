"""HEALPix FITS reader and writer: the real WMAP sample, round trips, and one test per bad input."""

from __future__ import annotations

from pathlib import Path

import healpy as hp
import numpy as np
import pytest
from astropy.io import fits

from sciconv.errors import DataError, MissingPathError
from sciconv_cmb.healpix_io import SkyMap, read_mask, read_sky_map, write_sky_map

WMAP = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "wmap-nside32"
WMAP_MAP = WMAP / "wmap_band_iqumap_r9_7yr_V_v4_udgraded32.fits"
WMAP_MASK = WMAP / "wmap_temperature_analysis_mask_r9_7yr_v4_udgraded32.fits"
needs_wmap = pytest.mark.skipif(
    not WMAP_MAP.is_file() or not WMAP_MASK.is_file(),
    reason="the real WMAP sample ../shared/data/wmap-nside32 is not on this machine",
)


def _sky(nside: int = 4, seed: int = 0) -> np.ndarray:
    """A small random map (values in RING order unless reordered by the caller)."""
    return np.random.default_rng(seed).normal(size=hp.nside2npix(nside))


def _table(path: Path, columns: dict[str, np.ndarray], **header: object) -> Path:
    """Write a FITS binary table with the given columns and HDU-1 header cards."""
    hdu = fits.BinTableHDU.from_columns([fits.Column(name=n, format="D", array=a) for n, a in columns.items()])
    for key, value in header.items():
        hdu.header[key] = value
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def _message(error: pytest.ExceptionInfo[DataError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


# ---- the real sample ----------------------------------------------------------------------------------------


@needs_wmap
def test_wmap_temperature_map_reads_in_ring_and_nested() -> None:
    ring = read_sky_map(WMAP_MAP, default_unit="mK")
    assert isinstance(ring, SkyMap)
    assert ring.nside == 32 and ring.ordering == "RING" and not ring.nest
    assert ring.values.dtype == np.float64 and ring.values.shape == (12 * 32**2,)
    assert ring.unit == "mK" and ring.column == "I_STOKES"
    assert ring.observed.all() and ring.fsky == 1.0
    np.testing.assert_allclose(ring.values, hp.read_map(str(WMAP_MAP), field=0), rtol=1e-6)
    # The V-band sky in mK: CMB of ~0.1 mK plus a Galactic plane of a few mK.
    assert 0.03 < np.std(ring.values) < 5.0
    nested = read_sky_map(WMAP_MAP, nest=True)
    assert nested.ordering == "NESTED" and nested.unit == ""  # the file carries no TUNIT
    np.testing.assert_array_equal(nested.values, hp.reorder(ring.values, r2n=True))


@needs_wmap
def test_wmap_field_selection_by_index_and_name() -> None:
    i_map, q_map, u_map = (read_sky_map(WMAP_MAP, field=k) for k in range(3))
    assert [m.column for m in (i_map, q_map, u_map)] == ["I_STOKES", "Q_STOKES", "U_STOKES"]
    iqu = hp.read_map(str(WMAP_MAP), field=(0, 1, 2))
    for k, sky in enumerate((i_map, q_map, u_map)):
        np.testing.assert_allclose(sky.values, iqu[k], rtol=1e-6)
    np.testing.assert_array_equal(read_sky_map(WMAP_MAP, field="q_stokes").values, q_map.values)
    assert np.std(q_map.values) < np.std(i_map.values)  # polarisation is much fainter than temperature
    with pytest.raises(DataError, match="no field 3"):
        read_sky_map(WMAP_MAP, field=3)
    with pytest.raises(DataError, match="no column 'E_MODE'"):
        read_sky_map(WMAP_MAP, field="E_MODE")


@needs_wmap
def test_wmap_analysis_mask() -> None:
    mask = read_mask(WMAP_MASK, nside=32, map_path=WMAP_MAP)
    assert mask.dtype == np.float64 and mask.shape == (12 * 32**2,)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert 0.5 < mask.mean() < 0.8  # about 62 % of the sky kept at Nside 32
    nested = read_mask(WMAP_MASK, nest=True)
    np.testing.assert_array_equal(nested, hp.reorder(mask, r2n=True))
    # The mask removes the Galactic plane: the pixels it removes are far brighter in the V-band map.
    sky = read_sky_map(WMAP_MAP)
    assert np.std(sky.values[mask == 0]) > 3 * np.std(sky.values[mask == 1])


# ---- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nest", [False, True])
def test_write_then_read_round_trip(tmp_path: Path, nest: bool) -> None:
    values = _sky(nside=4)
    values[[3, 17]] = hp.UNSEEN
    values[25] = np.nan
    path = write_sky_map(tmp_path / "sub" / "map.fits", values, nest=nest, unit="uK_CMB", extra_header={"BEAM": 1.5})
    assert path.is_file() and not [p for p in path.parent.iterdir() if p.name != "map.fits"]  # no temp left
    header = fits.getheader(path, 1)
    assert header["ORDERING"] == ("NESTED" if nest else "RING") and header["BEAM"] == 1.5
    same = read_sky_map(path, nest=nest)
    assert same.nside == 4 and same.unit == "uK_CMB" and same.ordering == ("NESTED" if nest else "RING")
    expected_observed = np.ones(values.size, bool)
    expected_observed[[3, 17, 25]] = False
    np.testing.assert_array_equal(same.observed, expected_observed)
    np.testing.assert_array_equal(same.values[expected_observed], values[expected_observed])
    assert (same.values[~expected_observed] == hp.UNSEEN).all()
    other = read_sky_map(path, nest=not nest)
    converted = hp.reorder(same.values, n2r=True) if nest else hp.reorder(same.values, r2n=True)
    np.testing.assert_array_equal(other.values, converted)


def test_write_three_fields_and_overwrite(tmp_path: Path) -> None:
    iqu = np.stack([_sky(2, seed) for seed in range(3)])
    path = tmp_path / "iqu.fits"
    write_sky_map(path, iqu * 0, column_names=["I_STOKES", "Q_STOKES", "U_STOKES"])
    write_sky_map(path, iqu, column_names=["I_STOKES", "Q_STOKES", "U_STOKES"], unit="K")  # replaces it
    for k, name in enumerate(["I_STOKES", "Q_STOKES", "U_STOKES"]):
        sky = read_sky_map(path, field=name)
        assert sky.unit == "K"
        np.testing.assert_array_equal(sky.values, iqu[k])
    with pytest.raises(ValueError, match="not HEALPix maps"):
        write_sky_map(tmp_path / "bad.fits", np.zeros(100))


def test_mask_round_trip_and_apodised_values(tmp_path: Path) -> None:
    mask = np.clip(np.linspace(-0.5, 1.5, hp.nside2npix(4)), 0, 1)
    write_sky_map(tmp_path / "mask.fits", mask, nest=True)
    np.testing.assert_array_equal(read_mask(tmp_path / "mask.fits", nside=4, nest=True), mask)


def test_cut_sky_file_fills_unobserved_pixels(tmp_path: Path) -> None:
    values = np.full(hp.nside2npix(4), hp.UNSEEN)
    values[100:190] = np.arange(90.0)
    hp.write_map(str(tmp_path / "partial.fits"), values, partial=True, dtype=np.float64)
    sky = read_sky_map(tmp_path / "partial.fits")
    assert sky.nside == 4 and int(sky.observed.sum()) == 90
    np.testing.assert_array_equal(sky.values, values)


# ---- bad input -----------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match="no such file"):
        read_sky_map(tmp_path / "absent.fits")


def test_not_a_fits_file(tmp_path: Path) -> None:
    path = tmp_path / "map.fits"
    path.write_text("NSIDE,value\n1,2\n")
    with pytest.raises(DataError) as error:
        read_sky_map(path)
    assert _message(error).startswith(f"{path}: not a FITS file")


def test_truncated_fits_file(tmp_path: Path) -> None:
    whole = write_sky_map(tmp_path / "whole.fits", _sky(nside=16))
    path = tmp_path / "cut.fits"
    path.write_bytes(whole.read_bytes()[:10_000])
    with pytest.raises(DataError) as error:
        read_sky_map(path)
    assert (
        _message(error) == f"{path}: a truncated FITS file: 10000 bytes, but its table needs 30336"
    )  # 2 header blocks + 3072 doubles


def test_fits_without_pixtype_is_not_healpix(tmp_path: Path) -> None:
    path = _table(tmp_path / "table.fits", {"FLUX": np.ones(192)}, ORDERING="RING", NSIDE=4)
    with pytest.raises(DataError) as error:
        read_sky_map(path)
    assert _message(error) == (f"{path}: not a HEALPix map: no PIXTYPE keyword in HDU 1 (expected PIXTYPE = 'HEALPIX')")


def test_fits_image_is_not_healpix(tmp_path: Path) -> None:
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((8, 8))).writeto(path)
    with pytest.raises(DataError, match="not a HEALPix map: no binary-table extension"):
        read_sky_map(path)


def test_wrong_length_is_not_healpix(tmp_path: Path) -> None:
    path = _table(tmp_path / "short.fits", {"TEMPERATURE": np.ones(190)}, PIXTYPE="HEALPIX", ORDERING="RING", NSIDE=4)
    with pytest.raises(DataError) as error:
        read_sky_map(path)
    assert "190 values per column, but NSIDE = 4 needs 12 * 4^2 = 192" in _message(error)
    no_nside = _table(tmp_path / "odd.fits", {"TEMPERATURE": np.ones(100)}, PIXTYPE="HEALPIX", ORDERING="RING")
    with pytest.raises(DataError, match="no NSIDE keyword and 100 values per column"):
        read_sky_map(no_nside)


def test_unknown_ordering(tmp_path: Path) -> None:
    path = _table(
        tmp_path / "spiral.fits", {"TEMPERATURE": np.ones(192)}, PIXTYPE="HEALPIX", ORDERING="SPIRAL", NSIDE=4
    )
    with pytest.raises(DataError) as error:
        read_sky_map(path)
    assert _message(error) == f"{path}: unknown HEALPix ordering: ORDERING = 'SPIRAL' (expected 'RING' or 'NESTED')"
    unset = _table(tmp_path / "unset.fits", {"TEMPERATURE": np.ones(192)}, PIXTYPE="HEALPIX", NSIDE=4)
    with pytest.raises(DataError, match="unknown HEALPix ordering: no ORDERING keyword"):
        read_mask(unset)


def test_polarisation_only_file(tmp_path: Path) -> None:
    path = write_sky_map(
        tmp_path / "qu.fits", np.stack([_sky(2, 1), _sky(2, 2)]), column_names=["Q_STOKES", "U_STOKES"]
    )
    with pytest.raises(DataError) as error:
        read_sky_map(path)
    assert _message(error).startswith(f"{path}: a polarisation-only file: columns Q_STOKES, U_STOKES")
    with pytest.raises(DataError, match="polarisation-only"):
        read_sky_map(path, field="TEMPERATURE")
    np.testing.assert_array_equal(read_sky_map(path, field="U_STOKES").values, _sky(2, 2))  # still readable by name


def test_mask_with_no_observed_pixel(tmp_path: Path) -> None:
    path = write_sky_map(tmp_path / "empty.fits", np.zeros(hp.nside2npix(2)))
    with pytest.raises(DataError) as error:
        read_mask(path)
    assert _message(error) == f"{path}: mask has no observed pixel (every value is 0)"


@pytest.mark.parametrize(("bad", "span"), [(-0.2, "[-0.2, 1]"), (2.0, "[1, 2]")])
def test_mask_values_outside_unit_interval(tmp_path: Path, bad: float, span: str) -> None:
    mask = np.ones(hp.nside2npix(2))
    mask[5] = bad
    path = write_sky_map(tmp_path / "mask.fits", mask)
    with pytest.raises(DataError) as error:
        read_mask(path)
    assert _message(error) == f"{path}: mask values span {span}; a mask must lie in [0, 1] (0 = masked)"


def test_mask_with_nans(tmp_path: Path) -> None:
    mask = np.ones(hp.nside2npix(2))
    mask[[1, 2]] = np.nan
    path = _table(tmp_path / "nan.fits", {"TEMPERATURE": mask}, PIXTYPE="HEALPIX", ORDERING="RING", NSIDE=2)
    with pytest.raises(DataError) as error:
        read_mask(path)
    assert _message(error).startswith(f"{path}: mask has 2 NaN or UNSEEN pixel(s) of 48")


def test_map_and_mask_of_different_nside(tmp_path: Path) -> None:
    sky = read_sky_map(write_sky_map(tmp_path / "map.fits", _sky(nside=4)))
    mask = write_sky_map(tmp_path / "mask.fits", np.ones(hp.nside2npix(2)))
    with pytest.raises(DataError) as error:
        read_mask(mask, nside=sky.nside, map_path=sky.path)
    assert _message(error) == (
        f"{mask}: mask has Nside 2 but the map {tmp_path / 'map.fits'} has Nside 4; bring one to the other's "
        "resolution first (healpy.ud_grade can do it)"
    )
