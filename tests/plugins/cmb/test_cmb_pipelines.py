"""The cmb-inpainting pipelines end to end on tiny settings: registration, conformance (each pipeline run twice
with the same metrics, predict reproducing the run), the metric keys, the report and the inpainted FITS maps, the
real WMAP map, predict on a further map, bad input at the command line, and a network of the user's own in the
pipeline's place (named by its class in the report, predicted again with its factory, refused before training when
its output has the wrong shape)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import healpy as hp
import numpy as np
import pytest
import torch
from torch import nn

import sciconv
from sciconv import cli
from sciconv.errors import ConfigError
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


class PixelFill(nn.Module):
    """A plain network of a user's own: two 1x1 convolutions over the pixels, nothing of SkyReconNet.

    Shapes: ``(B, 2, npix) -> (B, out_channels, npix)``.
    """

    def __init__(self, spec: sciconv.DataSpec, width: int = 4, out_channels: int = 1) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Conv1d(2, width, 1), nn.ReLU(), nn.Conv1d(width, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _net_and_diffusive(plots: bool) -> dict[str, Any]:
    return {
        **TINY_CMB_INPAINTING,
        "task.params.methods": ["net", "diffusive"],
        "output.plots": plots,
        "train.progress": False,
    }


def test_a_network_of_your_own_is_named_by_its_class_and_predict_reproduces_it(tmp_path: Path) -> None:
    pipe = sciconv.load_pipeline("cmb-inpainting", _net_and_diffusive(plots=False))
    pipe.model = PixelFill
    pipe.config.model.params = {"width": 3}
    lines: list[str] = []
    result = pipe.run(run_dir=tmp_path / "own", log=lines.append)
    report = (result.run_dir / "report.md").read_text()
    assert "| PixelFill (the pipeline's model) |" in report  # the results row, the C_l and the timing tables
    assert "PixelFill (the pipeline's model) " in report.split("Bands within one sigma")[1]
    assert "keyed `net.*`" in report and "model.params width=3" in report
    assert "SkyReconNet (this run)" not in report and "Projection:" not in report  # nothing of SkyReconNet's text
    assert any("net (PixelFill, the pipeline's model)" in line for line in lines)
    # output.plots=false: none of the task's figures
    assert not list(result.run_dir.glob("plots/*.png")) and "skies.png" not in report
    # the metric keys stay the method's; predict with the factory reproduces them
    prediction = sciconv.load_run(result.run_dir).predict(split="test", model=PixelFill, log=_quiet)
    assert result.metrics["net.masked_rms_frac"] > 0
    for key, value in result.metrics.items():
        assert prediction.metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key

    # the registered SkyReconNet keeps its name, its description and the figures
    registered = sciconv.load_pipeline("cmb-inpainting", _net_and_diffusive(plots=True))
    registered = registered.run(run_dir=tmp_path / "reg", log=_quiet)
    report = (registered.run_dir / "report.md").read_text()
    assert "| SkyReconNet (this run) |" in report and "the pipeline's model" not in report
    assert "Projection:" in report and "keyed `net.*`" not in report
    for plot in ("skies.png", "residuals.png", "cl.png"):
        assert (registered.run_dir / "plots" / plot).is_file(), plot


def test_a_network_of_your_own_with_the_wrong_output_is_refused_before_training(tmp_path: Path) -> None:
    pipe = sciconv.load_pipeline("cmb-inpainting", _net_and_diffusive(plots=False))
    pipe.model = PixelFill
    pipe.config.model.params = {"out_channels": 2}
    with pytest.raises(ConfigError, match=r"PixelFill .*\(B, 1, 768\).*returned \(2, 2, 768\)"):
        pipe.run(run_dir=tmp_path / "wrong", log=_quiet)
    assert not list((tmp_path / "wrong").glob("checkpoints/**/*.safetensors"))
