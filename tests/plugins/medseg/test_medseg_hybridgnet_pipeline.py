"""The medseg-hybridgnet pipeline: registered, loads with its defaults (simulated data) and with a real-data root."""

from __future__ import annotations

from pathlib import Path

import pytest

import sciconv
from sciconv.errors import DataError
from sciconv.pipeline import resolve_pipeline_file
from sciconv.registry import get_registry
from sciconv_medseg.chest_landmarks_io import write_chest_case
from sciconv_medseg.chest_simulator import simulate_chest_case


def test_registered() -> None:
    registry = get_registry()
    assert (
        registry.entry("pipelines", "medseg-hybridgnet").plugin
        == registry.entry("tasks", "medseg.chest-anatomy").plugin
    )
    assert resolve_pipeline_file("medseg-hybridgnet").name == "medseg-hybridgnet.yaml"
    for kind, name in (("datasets", "medseg.chest"), ("models", "medseg.hybridgnet"), ("models", "medseg.unet")):
        registry.entry(kind, name)


def test_defaults_simulate_and_follow_the_paper_s_components() -> None:
    config = sciconv.load_pipeline("medseg-hybridgnet").config
    assert config.task.name == "medseg.chest-anatomy" and config.model.name == "medseg.hybridgnet"
    data = config.dataset.params
    assert config.dataset.name == "medseg.chest" and data.get("root") is None
    assert data["image_size"] == 128 and data["occlusion"] == 1.0 and data["shift"] == "strong"
    assert config.task.params["kl_weight"] == 1e-5 and config.task.params["baseline"] is True
    assert config.model.params["latent_dim"] == 64 and config.model.params["cheb_k"] == 6


def test_real_data_is_one_override_away(tmp_path: Path) -> None:
    for i in range(4):
        image, landmarks = simulate_chest_case((64, 64), seed=i)
        write_chest_case(tmp_path, f"c{i}", image, landmarks)
    pipe = sciconv.load_pipeline("medseg-hybridgnet", {"dataset.params.root": str(tmp_path)})
    assert pipe.config.dataset.params["root"] == str(tmp_path)
    with pytest.raises(DataError, match=r"dataset\.params\.root: .*missing does not exist"):
        sciconv.load_pipeline("medseg-hybridgnet", {"dataset.params.root": str(tmp_path / "missing")})
