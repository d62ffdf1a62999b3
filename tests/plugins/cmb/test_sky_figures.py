"""Report figures of cmb-inpainting: Mollweide grids with grey unobserved pixels, and C_l plots."""

from __future__ import annotations

from pathlib import Path

import healpy as hp
import matplotlib.image as mpimg
import numpy as np
import pytest

from sciconv.errors import ConfigError, DataError
from sciconv_cmb.sky_figures import cl_plot, mollweide_grid

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _sky(nside: int, seed: int = 0) -> np.ndarray:
    white = np.random.default_rng(seed).normal(scale=100.0, size=hp.nside2npix(nside))
    return hp.smoothing(white, fwhm=1.5 * hp.nside2resol(nside))


def _grey_pixels(path: Path) -> int:
    """Pixels of the PNG drawn in the 'bad pixel' colour (matplotlib's lightgray, 211/255)."""
    image = mpimg.imread(path)
    return int(np.all(np.abs(image[..., :3] - 211 / 255) < 0.01, axis=-1).sum())


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_SIGNATURE


def test_mollweide_grid_draws_unseen_pixels_grey(tmp_path: Path) -> None:
    nside = 16
    truth = _sky(nside)
    observed = np.ones(truth.size, dtype=bool)
    observed[hp.query_disc(nside, hp.ang2vec(np.pi / 2, 0.0), 0.5)] = False
    masked_input = np.where(observed, truth, hp.UNSEEN)
    fill = truth + np.random.default_rng(1).normal(scale=10.0, size=truth.size)

    full = mollweide_grid([("truth", truth), ("fill", fill), ("residual", fill - truth)], tmp_path / "full.png")
    holed = mollweide_grid([("truth", truth), ("input", masked_input), ("fill", fill)], tmp_path / "holed.png")
    assert full == tmp_path / "full.png" and _is_png(full) and _is_png(holed)
    # a few anti-aliased text pixels may come out lightgray; the 0.5 rad hole is thousands of them
    assert _grey_pixels(full) < 300
    assert _grey_pixels(holed) > 3000
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no temporary file left


def test_mollweide_grid_masked_greys_every_panel_nest_and_options(tmp_path: Path) -> None:
    nside = 8
    ring = _sky(nside)
    to_nest = hp.nest2ring(nside, np.arange(ring.size))
    nest_map = ring[to_nest]
    observed = np.ones(ring.size, dtype=bool)
    observed[hp.query_disc(nside, hp.ang2vec(0.5, 1.0), 0.6, nest=True)] = False
    few = mollweide_grid([("a", nest_map)], tmp_path / "few.png", nest=True, masked=~observed)
    many = mollweide_grid(
        [("a", nest_map), ("b", -nest_map)], tmp_path / "many.png", nest=True, masked=observed, ncols=1
    )
    assert _is_png(few) and _is_png(many)
    assert _grey_pixels(many) > 2 * _grey_pixels(few) > 0  # the large observed region, grey in both panels
    ranged = mollweide_grid([("a", ring), ("b", ring + 50.0)], tmp_path / "ranged.png", symmetric=False, ncols=3)
    assert _is_png(ranged)


def test_mollweide_grid_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="maps is empty"):
        mollweide_grid([], tmp_path / "x.png")
    with pytest.raises(ConfigError, match="ncols"):
        mollweide_grid([("a", np.zeros(48))], tmp_path / "x.png", ncols=0)
    with pytest.raises(DataError, match="map 'a' has shape \\(50,\\)"):
        mollweide_grid([("a", np.zeros(50))], tmp_path / "x.png")
    with pytest.raises(DataError, match="map 'b' has no pixel to draw"):
        mollweide_grid([("a", np.zeros(48)), ("b", np.full(48, hp.UNSEEN))], tmp_path / "x.png")
    with pytest.raises(DataError, match="masked has shape"):
        mollweide_grid([("a", np.zeros(48))], tmp_path / "x.png", masked=np.zeros(12, bool))
    assert not list(tmp_path.iterdir())


def test_cl_plot_writes_png(tmp_path: Path) -> None:
    nside = 16
    truth = _sky(nside)
    fill = truth + np.random.default_rng(2).normal(scale=5.0, size=truth.size)
    cl_truth, cl_fill = hp.anafast(truth), hp.anafast(fill)
    ells = np.arange(2, 3 * nside)
    theory = cl_truth[2:] * 1.1
    path = cl_plot(
        tmp_path / "plots" / "cl.png",
        ells,
        cl_truth[2:],
        {"noisy fill": cl_fill[2:], "half": 0.25 * cl_truth[2:]},
        0.8,
        theory_cl=theory,
        title="C_l",
    )
    assert path == tmp_path / "plots" / "cl.png" and _is_png(path)
    assert _is_png(cl_plot(tmp_path / "bare.png", ells, cl_truth[2:], {}, 1.0))


def test_cl_plot_bad_input(tmp_path: Path) -> None:
    ells = np.arange(2, 10)
    cl = np.ones(8)
    with pytest.raises(DataError, match="ells"):
        cl_plot(tmp_path / "x.png", np.arange(0, 8), cl, {}, 0.5)
    with pytest.raises(DataError, match="method_cls\\['m'\\] has shape"):
        cl_plot(tmp_path / "x.png", ells, cl, {"m": np.ones(7)}, 0.5)
    with pytest.raises(DataError, match="truth_cl has C_l <= 0"):
        cl_plot(tmp_path / "x.png", ells, np.zeros(8), {}, 0.5)
    with pytest.raises(ConfigError, match="fsky"):
        cl_plot(tmp_path / "x.png", ells, cl, {}, 2.0)
    assert not list(tmp_path.iterdir())
