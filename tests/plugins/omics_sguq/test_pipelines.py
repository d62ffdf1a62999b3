"""The plugin's pipelines: registration, their files, the full-protocol override the default one documents, the
real ROSMAP sample end to end (tiny schedule), and the conformance of every component."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import sciconv
from sciconv.errors import ConfigError
from sciconv.pipeline import load_pipeline, resolve_pipeline_file
from sciconv.registry import get_registry
from sciconv.testing import check_plugin
from sciconv_omics_sguq.cohort_simulator import write_simulated_cohort

ROSMAP = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "rosmap"
TINY_SCHEDULE = {
    "task.params.n_models": 2,
    "task.params.n_splits": 0,
    "parallel.n_jobs": 1,
    "task.params.epochs_pretrain": 5,
    "task.params.epochs": 10,
    "model.params.hidden": [16, 16, 8],
}


def test_pipelines_are_registered_with_their_files() -> None:
    registry = get_registry()
    for name in ("omics-sguq", "omics-sguq-rosmap"):
        assert registry.entry("pipelines", name).plugin == "omics-sguq"
        path = resolve_pipeline_file(name)
        assert path.name == f"{name}.yaml" and path.parent.name == "pipelines"
    for kind, name in (("datasets", "omics-sguq.mogonet-layout"), ("datasets", "omics-sguq.simulated-cohort")):
        assert registry.entry(kind, name).plugin == "omics-sguq"
    assert registry.entry("models", "omics-sguq.mogonet").plugin == "omics-sguq"
    assert registry.entry("tasks", "omics-sguq.staged").plugin == "omics-sguq"
    # the pipelines name the components by their new names
    for name in ("omics-sguq", "omics-sguq-rosmap"):
        config = load_pipeline(name, check_values=False).config
        assert config.task.name == "omics-sguq.staged" and config.model.name == "omics-sguq.mogonet"
        assert config.dataset.name.startswith("omics-sguq.")
    # the old task name still resolves, with a deprecation warning naming the new one
    with pytest.warns(FutureWarning, match="use 'omics-sguq.staged'"):
        assert registry.load("tasks", "sguq.staged") is registry.load("tasks", "omics-sguq.staged")


def test_the_rosmap_pipeline_needs_a_root_and_runs_the_published_schedule() -> None:
    with pytest.raises(ConfigError, match=r"dataset\.params\.root"):
        sciconv.load_pipeline("omics-sguq-rosmap")
    if not ROSMAP.is_dir():
        pytest.skip(f"the real ROSMAP sample is not at {ROSMAP}")
    params = sciconv.load_pipeline("omics-sguq-rosmap", {"dataset.params.root": str(ROSMAP)}).config.task.params
    assert params["n_models"] == 10 and params["n_splits"] == 0 and params["mode"] == "out_of_fold"
    assert params["folds"] == 5 and params["threshold_rule"] == "within" and params["tolerance"] == 0.01
    assert (params["epochs_pretrain"], params["epochs"]) == (500, 2500)
    assert (params["lr_pretrain"], params["lr_gcn"], params["lr_vcdn"]) == (0.001, 0.0005, 0.001)


def test_the_default_pipelines_comment_restores_the_full_protocol() -> None:
    text = resolve_pipeline_file("omics-sguq").read_text()
    command = re.search(r"#\s+pipeline run omics-sguq (.*?)\n# and on the real", text.replace("\\\n#", ""), re.S)
    assert command is not None
    overrides = shlex.split(command.group(1))
    default = sciconv.load_pipeline("omics-sguq").config.task.params
    assert (default["n_models"], default["epochs_pretrain"], default["epochs"]) == (5, 60, 300)
    full = sciconv.load_pipeline("omics-sguq", overrides).config.task.params
    rosmap = load_pipeline("omics-sguq-rosmap", check_values=False).config.task.params
    keys = ("n_models", "epochs_pretrain", "epochs", "lr_pretrain", "lr_gcn", "lr_vcdn", "stages", "mode", "folds")
    for key in (*keys, "threshold_rule", "tolerance", "uncertainty"):
        assert full.get(key) == rosmap.get(key), key


def test_real_rosmap_end_to_end_on_a_tiny_schedule(tmp_path: Path) -> None:
    if not ROSMAP.is_dir():
        pytest.skip(f"the real ROSMAP sample is not at {ROSMAP}")
    result = sciconv.run(
        "omics-sguq-rosmap", overrides={**TINY_SCHEDULE, "dataset.params.root": str(ROSMAP)}, run_dir=tmp_path / "run"
    )
    assert result.metrics["n_test"] == 106 and 0.0 <= result.metrics["staged_acc"] <= 1.0
    report = (result.run_dir / "report.md").read_text()
    assert "Dataset rosmap: 245 training and 106 test samples" in report and "classes NC, AD" in report
    assert "published: Wang et al." in report and "real ROSMAP" not in report  # it is the real data


def test_conformance_of_every_component_and_pipeline(tmp_path: Path) -> None:
    small = {"dataset.params.n_train": 40, "dataset.params.n_test": 20, "dataset.params.n_features": 12}
    root = write_simulated_cohort(tmp_path / "cohort", n_train=40, n_test=20, n_features=12, seed=2)
    report = check_plugin(
        "omics-sguq",
        pipeline_overrides={
            "omics-sguq": small,
            "omics-sguq-rosmap": {"dataset.params.root": str(ROSMAP if ROSMAP.is_dir() else root)},
        },
    )
    assert sorted(report.pipelines) == ["omics-sguq", "omics-sguq-rosmap"]
    assert sorted(report.datasets) == ["omics-sguq.mogonet-layout", "omics-sguq.simulated-cohort"]
    assert report.models == ["omics-sguq.mogonet"] and report.tasks == ["omics-sguq.staged"]
