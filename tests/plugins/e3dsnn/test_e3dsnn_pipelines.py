"""The e3dsnn pipelines end to end on tiny settings: registration and the published protocol, conformance (each
pipeline run twice with the same metrics, predict reproducing the run), the metric keys, the report, predict on new
meshes and point files, and bad input at the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sciconv
from sciconv import cli
from sciconv.registry import get_registry
from sciconv.testing import check_plugin
from sciconv_e3dsnn.plugin import TINY_E3DSNN, TINY_E3DSNN_MODELNET40
from sciconv_e3dsnn.shape_simulator import write_modelnet

KEYS = (
    "snn.acc",
    "ann.acc",
    "snn.params",
    "snn.firing_rate",
    "snn.energy_mj",
    "ann.energy_mj",
    "sparse.ms_per_sample",
    "dense.ms_per_sample",
)


def _quiet(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_modelnet(tmp_path_factory.mktemp("modelnet") / "ModelNet", ["table", "lamp", "bowl"], 6, 2, seed=5)


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("e3dsnn-run") / "run"
    sciconv.run("e3dsnn", dict(TINY_E3DSNN), run_dir=run_dir)
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_pipelines_are_registered_with_the_published_protocol() -> None:
    registry = get_registry()
    for name, tiny in (("e3dsnn", TINY_E3DSNN), ("e3dsnn-modelnet40", TINY_E3DSNN_MODELNET40)):
        assert registry.entry("pipelines", name).plugin == "e3dsnn"
        assert dict(registry.entry("pipelines", name).tiny) == tiny
    config = sciconv.load_pipeline("e3dsnn-modelnet40", {"dataset.params.root": "x"}).config
    assert config.dataset.params["n_points"] == 10_000
    assert config.model.params == {"preset": "T", "voxel_size": 0.01, "max_spikes": 4}
    train = config.train
    assert (train.epochs, train.batch_size, train.lr, train.optimizer, train.momentum, train.nesterov) == (
        300,
        16,
        0.1,
        "sgd",
        0.9,
        True,
    )
    assert train.weight_decay == 1e-3
    assert (train.scheduler.name, train.scheduler.milestones, train.scheduler.gamma) == ("multistep", [180, 240], 0.1)
    assert config.task.params["label_smoothing"] == 0.2
    default = sciconv.load_pipeline("e3dsnn").config.train
    assert default.scheduler.milestones == [int(0.6 * default.epochs), int(0.8 * default.epochs)]


def test_conformance_of_every_component_and_pipeline(folder: Path) -> None:
    report = check_plugin(
        "e3dsnn",
        pipeline_overrides={
            "e3dsnn": dict(TINY_E3DSNN),  # the components are checked at the tiny sizes too
            "e3dsnn-modelnet40": {**TINY_E3DSNN_MODELNET40, "dataset.params.root": str(folder)},
        },
    )
    assert sorted(report.pipelines) == ["e3dsnn", "e3dsnn-modelnet40"]
    for name in report.pipelines:
        for key in KEYS:
            assert key in report.runs[name], (name, key)


def test_the_run_reports_accuracy_energy_and_time(simulated_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, metrics = simulated_run
    assert 0 <= metrics["snn.acc"] <= 1 and 0 <= metrics["ann.macc"] <= 1
    assert metrics["snn.params"] == metrics["ann.params"] > 0
    assert 0 <= metrics["snn.firing_rate"] <= 1
    assert metrics["ann.energy_mj"] > metrics["snn.energy_mj"] > 0
    assert metrics["sparse.ms_per_sample"] > 0 and metrics["dense.ms_per_sample"] > 0
    report = (run_dir / "report.md").read_text()
    for text in (
        "Energy per layer",
        "stages.3.down",
        "firing rate",
        "Time per sample: sparse against dense voxels",
        "Accuracy per class",
        "Published numbers",
        "91.7 %",
    ):
        assert text in report, text
    assert (run_dir / "plots" / "energy_by_layer.png").stat().st_size > 1000


def test_predict_classifies_new_meshes_and_point_files(
    simulated_run: tuple[Path, dict[str, Any]], folder: Path, tmp_path: Path
) -> None:
    run_dir, _ = simulated_run
    new = tmp_path / "new"
    new.mkdir()
    meshes = sorted(folder.rglob("*.off"))[:2]
    for mesh in meshes:
        shutil.copy(mesh, new / mesh.name)
    xyz = np.random.default_rng(0).normal(size=(300, 3))
    np.savetxt(new / "scan.txt", np.hstack((xyz, xyz)), delimiter=",", fmt="%.5f")
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.root": str(new)}, out=tmp_path / "out", log=_quiet)
    table = prediction.tables["classes"]
    assert sorted(table["shape_id"]) == sorted([m.stem for m in meshes] + ["scan"])
    assert prediction.metrics == {} and "class" not in table.columns
    for method in ("snn", "ann"):
        assert set(table[f"{method}_class"]) <= {"bowl", "lamp", "table"}
        assert ((table[f"{method}_probability"] > 0) & (table[f"{method}_probability"] <= 1)).all()


def test_bad_input_at_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad"
    (bad / "chair" / "train").mkdir(parents=True)
    (bad / "chair" / "train" / "chair_0001.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 nan\n0 1 0\n3 0 1 2\n")
    code = cli.main(["run", "e3dsnn-modelnet40", f"dataset.params.root={bad}", "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code != 0 and "chair_0001.off" in err and "Traceback" not in err
