"""Hook module of the DrivAerNet drag-prediction plugin: names and lazy references only (no torch, numpy or open3d
imports).

Components are named ``drivaernet.<kebab-case>``.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

_TINY_TRAINING: dict[str, Any] = {
    "dataset.params.n_points": 128,
    "model.params.k": 8,
    "model.params.edge_channels": [8, 8, 8, 16],
    "model.params.emb_dims": 16,
    "model.params.head": [16, 8, 8, 4],
    "task.params.pointnet": {"channels": [8, 16, 16, 16, 16], "emb_dims": 16, "head": [16, 8, 8, 4]},
    "train.epochs": 2,
    "train.batch_size": 8,
}
# Smoke-test overrides (dotted keys -> values) that run each pipeline end to end in seconds (the conformance kit
# runs each twice): two dozen simulated bodies, 128 points, tiny networks, two epochs.
TINY_DRIVAERNET_DRAG: dict[str, Any] = {"dataset.params.n_designs": 24, **_TINY_TRAINING}
# drivaernet reads a folder in the DrivAerNet layout given as dataset.params.root (tests give one the simulator
# wrote).
TINY_DRIVAERNET: dict[str, Any] = {**_TINY_TRAINING}


@hookimpl
def register_datasets(register: Register) -> None:
    register("drivaernet.simulated", "sciconv_drivaernet.datasets:SimulatedDrivAerNetDataset")
    register("drivaernet.folder", "sciconv_drivaernet.datasets:DrivAerNetDataset")


@hookimpl
def register_models(register: Register) -> None:
    register("drivaernet.regdgcnn", "sciconv_drivaernet.models.regdgcnn:RegDGCNN")
    register("drivaernet.pointnet", "sciconv_drivaernet.models.pointnet:RegPointNet")


@hookimpl
def register_tasks(register: Register) -> None:
    register("drivaernet.drag", "sciconv_drivaernet.drag_task:DragTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("drivaernet-drag", "sciconv.pipelines:drivaernet-drag.yaml", tiny=TINY_DRIVAERNET_DRAG)
    register("drivaernet", "sciconv.pipelines:drivaernet.yaml", tiny=TINY_DRIVAERNET)
