"""The cmb-inpainting pipelines end to end on tiny settings: registration, conformance (each pipeline run twice
with the same metrics, predict reproducing the run), the metric keys, the report and the inpainted FITS maps, the
real WMAP map, predict on a further map, and bad input at the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import healpy as hp
import numpy as np
import pytest

import sciconv
from sciconv import cli
from sciconv.pipeline import resolve_pipeline_file
from sciconv.registry import get_registry
from sciconv.testing import check_plugin
from sciconv_cmb.healpix_io import read_sky_map, write_sky_map
from sciconv_cmb.inpainting_task import METHODS
from sciconv_cmb.plugin import TINY_CMB_INPAINTING, TINY_CMB_INPAINTING_MAP

WMAP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "wmap-nside32"
WMAP_OVERRIDES = {"dataset.params.root": str(WMAP), "dataset.params.unit": "mK"}
PER_METHOD = ("masked_rms_frac", "masked_r2", "masked_ssim", "cl_bands_within_1sigma", "n_cl_bands")


def _quiet(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def map_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The tiny cmb-inpainting-map run on the real WMAP V-band sample (Nside 32)."""
    run_dir = tmp_path_factory.mktemp("cmb-map") / "run"
    sciconv.run("cmb-inpainting-map", {**TINY_CMB_INPAINTING_MAP, **WMAP_OVERRIDES}, run_dir=run_dir)
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_pipelines_and_components_are_registered() -> None:
    registry = get_registry()
    for name, tiny in (("cmb-inpainting", TINY_CMB_INPAINTING), ("cmb-inpainting-map", TINY_CMB_INPAINTING_MAP)):
        assert registry.entry("pipelines", name).plugin == "cmb-inpainting"
        assert dict(registry.entry("pipelines", name).tiny) == tiny
        assert resolve_pipeline_file(name).name == f"{name}.yaml"
    config = sciconv.load_pipeline("cmb-inpainting").config
    assert config.dataset.name == "cmb-inpainting.simulated" and config.model.name == "cmb-inpainting.skyreconnet"
    assert config.task.params["methods"] == list(METHODS)
    assert sciconv.load_pipeline("cmb-inpainting-map", WMAP_OVERRIDES).config.dataset.name == "cmb-inpainting.map"


def test_conformance_of_every_component_and_pipeline() -> None:
    report = check_plugin("cmb-inpainting", pipeline_overrides={"cmb-inpainting-map": WMAP_OVERRIDES})
    assert sorted(report.pipelines) == ["cmb-inpainting", "cmb-inpainting-map"]
    assert sorted(report.datasets) == ["cmb-inpainting.map", "cmb-inpainting.simulated"]
    assert report.models == ["cmb-inpainting.skyreconnet"] and report.tasks == ["cmb-inpainting.inpaint"]
    simulated = report.runs["cmb-inpainting"]
    for method in METHODS:
        for key in PER_METHOD:
            assert f"{method}.{key}" in simulated, (method, key)
        # Nside 8: lmax 23, so two of the bands exist
        assert {f"{method}.cl_ratio@2-10", f"{method}.cl_ratio@10-30"} <= set(simulated)
        assert simulated[f"{method}.n_cl_bands"] == 2
    # the Wiener filter is the best estimate of a Gaussian sky's masked pixels; the constrained realisation is not
    assert simulated["wiener.masked_rms_frac"] < simulated["cr.masked_rms_frac"]


def test_the_map_run_scores_every_method_on_the_real_sky_and_writes_its_maps(
    map_run: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, metrics = map_run
    for method in METHODS:
        for key in PER_METHOD:
            assert f"{method}.{key}" in metrics
        # Nside 32: lmax 95, bands 2-10, 10-30 and 30-96
        assert metrics[f"{method}.n_cl_bands"] == 3 and f"{method}.cl_ratio@30-100" in metrics
        assert f"holes.{method}.rms_frac" in metrics and np.isfinite(metrics[f"holes.{method}.rms_frac"])
        inpainted = read_sky_map(run_dir / "maps" / f"inpainted_{method}.fits")
        assert inpainted.nside == 32 and inpainted.unit == "uK_CMB" and inpainted.observed.all()
    assert metrics["holes.n_pixels"] > 0
    # the Wiener filter fills the punched holes better than a random draw from the posterior
    assert metrics["holes.wiener.rms_frac"] < metrics["holes.cr.rms_frac"]
    report = (run_dir / "report.md").read_text()
    for heading in (
        "Choices (ours, not the paper's)",
        "Power spectrum within cosmic variance",
        "Hole-punch validation",
    ):
        assert heading in report
    assert "SkyReconNet (paper)" in report and "2501.06139" in report
    for plot in ("skies.png", "residuals.png", "cl.png", "real_skies.png", "real_cl.png"):
        assert (run_dir / "plots" / plot).stat().st_size > 1000, plot


def test_predict_inpaints_a_further_map_with_the_trained_run(
    map_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    run_dir, _ = map_run
    # a further map: the WMAP sky turned by 90 degrees about the pole, in K, under the WMAP mask
    sky = read_sky_map(WMAP / "wmap_band_iqumap_r9_7yr_V_v4_udgraded32.fits", default_unit="mK")
    theta, phi = hp.pix2ang(32, np.arange(12 * 32**2))
    turned = sky.values[hp.ang2pix(32, theta, phi + np.pi / 2)] * 1e-3
    new = tmp_path / "new"
    new.mkdir()
    write_sky_map(new / "turned.fits", turned, unit="K_CMB")
    (new / "mask.fits").symlink_to(WMAP / "wmap_temperature_analysis_mask_r9_7yr_v4_udgraded32.fits")
    out = tmp_path / "out"
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.root": str(new)}, out=out, log=_quiet)
    for method in METHODS:
        filled = read_sky_map(out / f"inpainted_{method}_real.fits")
        assert filled.nside == 32 and np.all(np.isfinite(filled.values))
        assert f"all.holes.{method}.rms_frac" in prediction.metrics
    assert (out / "predictions.csv").is_file()


def test_bad_input_at_the_command_line_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "sky"
    root.mkdir()
    write_sky_map(root / "sky.fits", np.zeros(12 * 16**2), unit="K")
    write_sky_map(root / "sky_mask.fits", np.ones(12 * 8**2), column_names=["MASK"])
    run_dir = tmp_path / "run"
    code = cli.main(["run", "cmb-inpainting-map", f"dataset.params.root={root}", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Traceback" not in err and "sky_mask.fits" in err and "Nside" in err
    assert not run_dir.exists() or not any(run_dir.iterdir())
