"""Hook module of the medical segmentation plugin: names and lazy references only (no torch, MONAI or nibabel).

Renamed components keep their old names as deprecated aliases (looked up with a warning) for one release:
``medseg.swin_unetr`` -> ``medseg.swin-unetr``, ``medseg.brats_segmentation`` -> ``medseg.brats-segmentation``,
``medseg.chest_anatomy`` -> ``medseg.chest-anatomy``.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

# Overrides that run each pipeline end to end in seconds (the conformance kit runs them twice, same seed).
TINY_SWIN_UNETR: dict[str, Any] = {
    "dataset.params.n_cases": 3,
    "dataset.params.shape": [32, 32, 32],
    "dataset.params.val_fraction": 0.25,
    "dataset.params.test_fraction": 0.25,
    "task.params.n_overlays": 1,
    "model.params.depths": [1, 1, 1, 1],
    "train.epochs": 1,
    "train.progress": False,
}
TINY_HYBRIDGNET: dict[str, Any] = {
    "dataset.params.n_train": 4,
    "dataset.params.n_val": 2,
    "dataset.params.n_test": 2,
    "dataset.params.image_size": 32,
    "dataset.params.sim_shape": [64, 64],
    "train.epochs": 1,
    "train.batch_size": 4,
    "task.params.unet": {"channels": [8, 16, 32], "strides": [2, 2], "num_res_units": 0, "epochs": 1},
    "task.params.n_overlays": 1,
    "train.progress": False,
}


@hookimpl
def register_datasets(register: Register) -> None:
    register("medseg.brats", "sciconv_medseg.brats_datasets:BratsDataset")
    register("medseg.chest", "sciconv_medseg.chest_datasets:ChestLandmarkDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("medseg.swin-unetr", "sciconv_medseg.models.swin_unetr:SwinUNETRNet", aliases=("medseg.swin_unetr",))
    register("medseg.hybridgnet", "sciconv_medseg.models.hybridgnet:HybridGNetNet")
    register("medseg.unet", "sciconv_medseg.models.unet:UNetNet")


@hookimpl
def register_tasks(register: Register) -> None:
    register(
        "medseg.brats-segmentation",
        "sciconv_medseg.brats_task:BratsSegmentationTask",
        aliases=("medseg.brats_segmentation",),
    )
    register("medseg.chest-anatomy", "sciconv_medseg.chest_task:ChestAnatomyTask", aliases=("medseg.chest_anatomy",))


@hookimpl
def register_pipelines(register: Register) -> None:
    register("medseg-swin-unetr", "sciconv.pipelines:medseg-swin-unetr.yaml", tiny=TINY_SWIN_UNETR)
    register("medseg-hybridgnet", "sciconv.pipelines:medseg-hybridgnet.yaml", tiny=TINY_HYBRIDGNET)
