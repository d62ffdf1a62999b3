"""Hook module of the CMB inpainting plugin (SkyReconNet): names and lazy references only (no torch or healpy).

Components are named ``cmb-inpainting.<kebab-case>``.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

_TINY_TRAINING: dict[str, Any] = {
    "task.params.diffusive_iterations": 50,
    "task.params.wiener_tol": 1.0e-4,
    "model.params.channels": [4, 8],
    "model.params.dilations": [1, 2],
    "train.epochs": 1,
    "train.batch_size": 2,
    "parallel.n_jobs": 1,
}
# Smoke-test overrides (dotted keys -> values) that run each pipeline end to end in seconds (the conformance kit
# runs each twice): Nside 8 skies from healpy's shipped spectrum (no camb), two maps per split, one epoch.
TINY_CMB_INPAINTING: dict[str, Any] = {
    "dataset.params.nside": 8,
    "dataset.params.n_train": 4,
    "dataset.params.n_val": 2,
    "dataset.params.n_test": 2,
    "dataset.params.fwhm_arcmin": 600.0,
    "dataset.params.n_sources": 5,
    "dataset.params.source_radius_arcmin": 400.0,
    "dataset.params.spectrum": "healpy",
    "task.params.ssim_window": 5,
    **_TINY_TRAINING,
}
# cmb-inpainting-map reads a real map given as dataset.params.root (tests give the WMAP sample at Nside 32).
TINY_CMB_INPAINTING_MAP: dict[str, Any] = {
    "dataset.params.n_train": 4,
    "dataset.params.n_val": 2,
    "dataset.params.n_test": 2,
    "dataset.params.spectrum": "healpy",
    "task.params.holes": 5,
    **_TINY_TRAINING,
}


@hookimpl
def register_datasets(register: Register) -> None:
    register("cmb-inpainting.simulated", "sciconv_cmb.datasets:SimulatedSkyDataset")
    register("cmb-inpainting.map", "sciconv_cmb.datasets:SkyMapDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("cmb-inpainting.skyreconnet", "sciconv_cmb.models.skyreconnet:SkyReconNet")


@hookimpl
def register_tasks(register: Register) -> None:
    register("cmb-inpainting.inpaint", "sciconv_cmb.inpainting_task:InpaintingTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("cmb-inpainting", "sciconv.pipelines:cmb-inpainting.yaml", tiny=TINY_CMB_INPAINTING)
    register("cmb-inpainting-map", "sciconv.pipelines:cmb-inpainting-map.yaml", tiny=TINY_CMB_INPAINTING_MAP)
