"""Hook module of the underwater acoustic target recognition plugin (CMoE): names and lazy references only (no
torch, numpy or audio libraries).

Components are named ``uatr.<kebab-case>``.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

_TINY_FEATURES: dict[str, Any] = {
    "dataset.params.segment_s": 2.0,
    "dataset.params.hop_s": 1.0,
    "dataset.params.n_bands": 16,
    "model.params.widths": [4, 8, 8, 8],
    "model.params.experts": 2,
    "train.epochs": 1,
    "train.batch_size": 8,
}
# Smoke-test overrides (dotted keys -> values) that run each pipeline end to end in seconds (the conformance kit
# runs each twice): 2 ships per class recorded once for 5 s, 2 s segments, a narrow ResNet, one epoch.
TINY_UATR_CMOE: dict[str, Any] = {
    "dataset.params.ships_per_class": 2,
    "dataset.params.recordings_per_ship": 1,
    "dataset.params.duration_s": 5.0,
    "task.params.n_folds": 2,
    **_TINY_FEATURES,
}
# uatr-deepship reads a folder given as dataset.params.root (tests give the DeepShip sample: 2 recordings per class).
TINY_UATR_DEEPSHIP: dict[str, Any] = {"task.params.n_folds": 2, **_TINY_FEATURES}
# uatr-shipsear reads a ShipsEar folder and a split file given as dataset.params.root / dataset.params.split.
TINY_UATR_SHIPSEAR: dict[str, Any] = {"task.params.n_seeds": 1, **_TINY_FEATURES}


@hookimpl
def register_datasets(register: Register) -> None:
    register("uatr.simulated", "sciconv_uatr.datasets:SimulatedDeepShipDataset")
    register("uatr.deepship", "sciconv_uatr.datasets:DeepShipDataset")
    register("uatr.shipsear", "sciconv_uatr.datasets:ShipsEarDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("uatr.cmoe", "sciconv_uatr.models.cmoe:CMoEModel")
    register("uatr.resnet18", "sciconv_uatr.models.resnet18:ResNet18")


@hookimpl
def register_tasks(register: Register) -> None:
    register("uatr.recognition", "sciconv_uatr.recognition_task:RecognitionTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("uatr-cmoe", "sciconv.pipelines:uatr-cmoe.yaml", tiny=TINY_UATR_CMOE)
    register("uatr-deepship", "sciconv.pipelines:uatr-deepship.yaml", tiny=TINY_UATR_DEEPSHIP)
    register("uatr-shipsear", "sciconv.pipelines:uatr-shipsear.yaml", tiny=TINY_UATR_SHIPSEAR)
