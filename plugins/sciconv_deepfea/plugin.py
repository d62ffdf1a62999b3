"""Hook module of the DeepFEA plugin: names and lazy references only (no torch, numpy or scikit-fem imports).

Components are named ``deepfea.<kebab-case>``.
"""

from __future__ import annotations

from typing import Any

from sciconv import hookimpl
from sciconv.hookspecs import Register

_TINY_TRAINING: dict[str, Any] = {
    "model.params.channels": [4, 4, 8],
    "task.params.cnn_width": 4,
    "task.params.cnn_depth": 2,
    "task.params.timing_cases": 1,
    "task.params.tf_period": 1,
    "train.epochs": 2,
    "train.batch_size": 4,
}
# Smoke-test overrides (dotted keys -> values) that run each pipeline end to end in seconds (the conformance kit
# runs each twice): a dozen small cases of a few steps, tiny networks, two epochs.
TINY_DEEPFEA: dict[str, Any] = {"dataset.params.n_cases": 12, "dataset.params.n_steps": 5, **_TINY_TRAINING}
TINY_DEEPFEA_3D: dict[str, Any] = {
    "dataset.params.n_cases": 10,
    "dataset.params.n_steps": 4,
    "dataset.params.grid": [3, 3, 3],
    **_TINY_TRAINING,
}
# deepfea-official reads a folder given as dataset.params.root (tests give one written by the simulator).
TINY_DEEPFEA_OFFICIAL: dict[str, Any] = {**_TINY_TRAINING}


@hookimpl
def register_datasets(register: Register) -> None:
    register("deepfea.simulated", "sciconv_deepfea.datasets:SimulatedFEADataset")
    register("deepfea.official", "sciconv_deepfea.datasets:OfficialFEADataset")


@hookimpl
def register_models(register: Register) -> None:
    register("deepfea.nep-net", "sciconv_deepfea.models.nep_net:NEPNet")
    register("deepfea.frame-cnn", "sciconv_deepfea.models.frame_cnn:FrameCNN")


@hookimpl
def register_tasks(register: Register) -> None:
    register("deepfea.rollout", "sciconv_deepfea.rollout_task:RolloutTask")


@hookimpl
def register_pipelines(register: Register) -> None:
    register("deepfea", "sciconv.pipelines:deepfea.yaml", tiny=TINY_DEEPFEA)
    register("deepfea-3d", "sciconv.pipelines:deepfea-3d.yaml", tiny=TINY_DEEPFEA_3D)
    register("deepfea-official", "sciconv.pipelines:deepfea-official.yaml", tiny=TINY_DEEPFEA_OFFICIAL)
