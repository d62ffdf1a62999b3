"""The medseg plugin's registrations and the conformance of every component and pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

import sciconv
from sciconv import DataSpec
from sciconv.errors import ConfigError
from sciconv.pipeline import resolve_pipeline_file
from sciconv.registry import get_registry
from sciconv.testing import check_plugin
from sciconv_medseg.brain_simulator import write_simulated_brats


def test_components_and_pipelines_are_registered() -> None:
    registry = get_registry()
    for name in ("medseg-swin-unetr", "medseg-hybridgnet"):
        assert registry.entry("pipelines", name).plugin == "medseg"
        assert resolve_pipeline_file(name).name == f"{name}.yaml"
    for kind, name in (
        ("datasets", "medseg.brats"),
        ("datasets", "medseg.chest"),
        ("models", "medseg.swin_unetr"),
        ("models", "medseg.hybridgnet"),
        ("models", "medseg.unet"),
        ("tasks", "medseg.brats_segmentation"),
        ("tasks", "medseg.chest_anatomy"),
    ):
        assert registry.entry(kind, name).plugin == "medseg"


def test_the_swin_unetr_pipeline_follows_monai_conventions(tmp_path: Path) -> None:
    cfg = sciconv.load_pipeline("medseg-swin-unetr").config
    assert cfg.model.name == "medseg.swin_unetr" and cfg.train.optimizer == "adamw"
    assert cfg.task.params["roi_size"] % 32 == 0 and cfg.dataset.params.get("root") is None
    write_simulated_brats(tmp_path, 3, (16, 16, 16))
    real = sciconv.load_pipeline("medseg-swin-unetr", {"dataset.params.root": str(tmp_path)}).config
    assert real.dataset.params["root"] == str(tmp_path)
    with pytest.raises(ConfigError, match=r"dataset\.params\.root"):
        sciconv.load_pipeline("medseg-swin-unetr", {"dataset.params.root": str(tmp_path / "missing")})


def test_conformance_of_every_component_and_pipeline() -> None:
    report = check_plugin(
        "medseg",
        pipeline_overrides={
            "medseg-swin-unetr": {"dataset.params.n_cases": 3, "dataset.params.shape": [32, 32, 32]},
            "medseg-hybridgnet": {
                "dataset.params.n_train": 4,
                "dataset.params.n_val": 2,
                "dataset.params.n_test": 2,
                "dataset.params.image_size": 64,
                "dataset.params.sim_shape": [64, 64],
            },
        },
        extra_models={"medseg.unet": (DataSpec((1, 64, 64), 240, "segmentation"), {})},
    )
    assert sorted(report.pipelines) == ["medseg-hybridgnet", "medseg-swin-unetr"]
    assert sorted(report.datasets) == ["medseg.brats", "medseg.chest"]
    assert sorted(report.models) == ["medseg.hybridgnet", "medseg.swin_unetr", "medseg.unet"]
    assert sorted(report.tasks) == ["medseg.brats_segmentation", "medseg.chest_anatomy"]
