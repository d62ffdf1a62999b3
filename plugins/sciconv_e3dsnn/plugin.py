"""Hook module of the E-3DSNN plugin: names and lazy references only (no torch, numpy or open3d imports).

Components are named ``e3dsnn.<kebab-case>``.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

_TINY_TRAINING: dict[str, Any] = {
    "dataset.params.n_points": 256,
    "model.params.embed_channels": 4,
    "model.params.stage_channels": [4, 8, 8, 8],
    "model.params.voxel_size": 0.1,
    "task.params.timing_batches": 1,
    "task.params.timing_batch_size": 2,
    "train.epochs": 2,
    "train.batch_size": 8,
}
# Smoke-test overrides (dotted keys -> values) that run each pipeline end to end in seconds (the conformance kit
# runs each twice): three classes of a few simulated shapes, 256 points, tiny networks, two epochs.
TINY_E3DSNN: dict[str, Any] = {
    "dataset.params.classes": ["table", "lamp", "bowl"],
    "dataset.params.n_train": 6,
    "dataset.params.n_test": 2,
    **_TINY_TRAINING,
}
# e3dsnn-modelnet40 reads a ModelNet folder given as dataset.params.root (tests give one the simulator wrote).
TINY_E3DSNN_MODELNET40: dict[str, Any] = {**_TINY_TRAINING}


@hookimpl
def register_datasets(register: Register) -> None:
    register("e3dsnn.simulated", "sciconv_e3dsnn.datasets:SimulatedShapesDataset")
    register("e3dsnn.modelnet", "sciconv_e3dsnn.datasets:ModelNetDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("e3dsnn.e3dsnn", "sciconv_e3dsnn.models.e3dsnn:E3DSNN")


@hookimpl
def register_tasks(register: Register) -> None:
    register("e3dsnn.classify", "sciconv_e3dsnn.shape_task:ShapeClassificationTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("e3dsnn", "sciconv.pipelines:e3dsnn.yaml", tiny=TINY_E3DSNN)
    register("e3dsnn-modelnet40", "sciconv.pipelines:e3dsnn-modelnet40.yaml", tiny=TINY_E3DSNN_MODELNET40)
