"""The medseg plugin's registrations (new kebab-case names, the old names as deprecated aliases), its tiny smoke
overrides, and the conformance of every component and pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

import sciconv
from sciconv import DataSpec
from sciconv.errors import DataError
from sciconv.pipeline import resolve_pipeline_file
from sciconv.registry import DeprecatedNameWarning, get_registry
from sciconv.testing import check_plugin
from sciconv_medseg.brain_simulator import write_simulated_brats
from sciconv_medseg.plugin import TINY_HYBRIDGNET, TINY_SWIN_UNETR

RENAMED = (
    ("models", "medseg.swin_unetr", "medseg.swin-unetr"),
    ("tasks", "medseg.brats_segmentation", "medseg.brats-segmentation"),
    ("tasks", "medseg.chest_anatomy", "medseg.chest-anatomy"),
)


def test_components_and_pipelines_are_registered() -> None:
    registry = get_registry()
    for name in ("medseg-swin-unetr", "medseg-hybridgnet"):
        assert registry.entry("pipelines", name).plugin == "medseg"
        assert resolve_pipeline_file(name).name == f"{name}.yaml"
    for kind, name in (
        ("datasets", "medseg.brats"),
        ("datasets", "medseg.chest"),
        ("models", "medseg.swin-unetr"),
        ("models", "medseg.hybridgnet"),
        ("models", "medseg.unet"),
        ("tasks", "medseg.brats-segmentation"),
        ("tasks", "medseg.chest-anatomy"),
    ):
        assert registry.entry(kind, name).plugin == "medseg"
    for kind in ("datasets", "models", "tasks"):
        assert not [n for n in registry.names(kind) if n.startswith("medseg.") and "_" in n]


@pytest.mark.parametrize(("kind", "old", "new"), RENAMED)
def test_old_names_still_resolve_with_a_deprecation_warning(kind: str, old: str, new: str) -> None:
    registry = get_registry()
    with pytest.warns(DeprecatedNameWarning, match=rf"{old!r} is deprecated; use {new!r}"):
        entry = registry.entry(kind, old)
    assert entry is registry.entry(kind, new) and registry.canonical_name(kind, old) == new


def test_a_pipeline_naming_the_old_names_still_loads() -> None:
    overrides = {"model.name": "medseg.swin_unetr", "task.name": "medseg.brats_segmentation"}
    with pytest.warns(DeprecatedNameWarning):
        pipe = sciconv.load_pipeline("medseg-swin-unetr", overrides)
    assert pipe.config.model.params["feature_size"] == 12
    with pytest.warns(DeprecatedNameWarning):
        sciconv.load_pipeline("medseg-hybridgnet", {"task.name": "medseg.chest_anatomy"})


def test_the_swin_unetr_pipeline_follows_monai_conventions(tmp_path: Path) -> None:
    cfg = sciconv.load_pipeline("medseg-swin-unetr").config
    assert cfg.model.name == "medseg.swin-unetr" and cfg.train.optimizer == "adamw"
    assert cfg.task.name == "medseg.brats-segmentation"
    assert cfg.task.params["roi_size"] % 32 == 0 and cfg.dataset.params.get("root") is None
    write_simulated_brats(tmp_path, 3, (16, 16, 16))
    real = sciconv.load_pipeline("medseg-swin-unetr", {"dataset.params.root": str(tmp_path)}).config
    assert real.dataset.params["root"] == str(tmp_path)
    with pytest.raises(DataError, match=r"dataset\.params\.root: .*missing does not exist"):
        sciconv.load_pipeline("medseg-swin-unetr", {"dataset.params.root": str(tmp_path / "missing")})


@pytest.mark.parametrize(
    ("pipeline", "tiny"), [("medseg-swin-unetr", TINY_SWIN_UNETR), ("medseg-hybridgnet", TINY_HYBRIDGNET)]
)
def test_the_tiny_overrides_validate_and_shrink_the_data(pipeline: str, tiny: dict[str, object]) -> None:
    config = sciconv.load_pipeline(pipeline, tiny).config
    assert config.train.epochs == 1 and config.dataset.params.get("root") is None
    params = config.dataset.params
    n_cases = params["n_cases"] if "n_cases" in params else params["n_train"] + params["n_val"] + params["n_test"]
    assert n_cases <= 8


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
    assert sorted(report.models) == ["medseg.hybridgnet", "medseg.swin-unetr", "medseg.unet"]
    assert sorted(report.tasks) == ["medseg.brats-segmentation", "medseg.chest-anatomy"]
