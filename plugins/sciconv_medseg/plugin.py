"""Hook module of the medical segmentation plugin: names and lazy references only (no torch, MONAI or nibabel)."""

from __future__ import annotations

from sciconv import hookimpl
from sciconv.hookspecs import Register


@hookimpl
def register_datasets(register: Register) -> None:
    register("medseg.brats", "sciconv_medseg.brats_datasets:BratsDataset")
    register("medseg.chest", "sciconv_medseg.chest_datasets:ChestLandmarkDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("medseg.swin_unetr", "sciconv_medseg.brats_task:SwinUNETRNet")
    register("medseg.hybridgnet", "sciconv_medseg.hybridgnet:HybridGNetNet")
    register("medseg.unet", "sciconv_medseg.chest_task:UNetNet")


@hookimpl
def register_tasks(register: Register) -> None:
    register("medseg.brats_segmentation", "sciconv_medseg.brats_task:BratsSegmentationTask")
    register("medseg.chest_anatomy", "sciconv_medseg.chest_task:ChestAnatomyTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("medseg-swin-unetr", "sciconv.pipelines:medseg-swin-unetr.yaml")
    register("medseg-hybridgnet", "sciconv.pipelines:medseg-hybridgnet.yaml")
