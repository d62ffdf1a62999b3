"""The drivaernet pipelines end to end on tiny settings: registration and the published preset, conformance (each
pipeline run twice with the same metrics, predict reproducing the run), the metric keys, the report, predict on
new STL designs without coefficients, bad input at the command line, and a network of the user's own in the
pipeline's model place (named by its class in the report, the log and predict; a wrong output refused)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import sciconv
from sciconv import cli
from sciconv.errors import ConfigError
from sciconv.registry import get_registry
from sciconv.spec import DataSpec
from sciconv.testing import check_plugin
from sciconv_drivaernet.car_body_simulator import simulate_drivaernet
from sciconv_drivaernet.plugin import TINY_DRIVAERNET, TINY_DRIVAERNET_DRAG

METHODS = ("regdgcnn", "pointnet", "ols", "mean")
KEYS = ("r2", "mse", "mae", "max_ae", "infer_ms")
POINTNET = {"channels": [8, 16, 16, 16, 16], "emb_dims": 16, "head": [16, 8, 8, 4]}


def _quiet(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drivaernet") / "DrivAerNet"
    simulate_drivaernet(root, n_designs=24, seed=3)
    return root


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("drivaernet-run") / "run"
    sciconv.run("drivaernet-drag", dict(TINY_DRIVAERNET_DRAG), run_dir=run_dir)
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_pipelines_are_registered_with_the_published_protocol() -> None:
    registry = get_registry()
    for name, tiny in (("drivaernet-drag", TINY_DRIVAERNET_DRAG), ("drivaernet", TINY_DRIVAERNET)):
        assert registry.entry("pipelines", name).plugin == "drivaernet"
        assert dict(registry.entry("pipelines", name).tiny) == tiny
    config = sciconv.load_pipeline("drivaernet", {"dataset.params.root": "x"}).config
    assert config.dataset.params["n_points"] == 5000 and config.dataset.params["sampling"] == "vertices"
    assert config.model.params == {"k": 40, "edge_channels": [256, 512, 512, 1024], "emb_dims": 512, "dropout": 0.4}
    train = config.train
    assert (train.epochs, train.batch_size, train.lr, train.weight_decay, train.optimizer) == (
        100,
        32,
        1e-3,
        1e-4,
        "adam",
    )
    assert (train.scheduler.name, train.scheduler.patience, train.scheduler.gamma) == ("plateau", 20, 0.1)
    assert config.task.params["standardise_targets"] is False


def test_conformance_of_every_component_and_pipeline(folder: Path) -> None:
    report = check_plugin(
        "drivaernet",
        pipeline_overrides={
            "drivaernet-drag": dict(TINY_DRIVAERNET_DRAG),  # the components are checked at the tiny sizes too
            "drivaernet": {**TINY_DRIVAERNET, "dataset.params.root": str(folder)},
        },
        extra_models={"drivaernet.pointnet": (DataSpec((3, 64), 1, task_type="regression"), POINTNET)},
    )
    assert sorted(report.pipelines) == ["drivaernet", "drivaernet-drag"]
    for name in ("drivaernet", "drivaernet-drag"):
        for method in METHODS:
            for key in KEYS:
                assert f"{method}.{key}" in report.runs[name], (name, method, key)


def test_the_run_reports_errors_per_family_and_the_published_numbers(
    simulated_run: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, metrics = simulated_run
    for method in METHODS:
        assert metrics[f"{method}.mse"] >= 0 and metrics[f"{method}.max_ae"] >= metrics[f"{method}.mae"] >= 0
        assert metrics[f"{method}.r2"] <= 1
        for family in ("estateback", "fastback", "notchback"):
            assert f"{method}.mae.{family}" in metrics
    assert np.isfinite(metrics["ols.r2"]) and metrics["mean.r2"] <= 0  # a constant never beats the test mean
    report = (run_dir / "report.md").read_text()
    for text in (
        "Errors per body family",
        "Published numbers",
        "Drag labels",
        "| 0.641 | 0.000142 |",
        "physics proxy",
        "test): the dataset's split lists",
    ):
        assert text in report
    assert (run_dir / "plots" / "scatter.png").stat().st_size > 1000
    # the registered network is named as such, with its settings
    assert "| RegDGCNN (dynamic graph CNN) |" in report and "- RegDGCNN: k 8, EdgeConv widths [8, 8, 8, 16]" in report


def test_predict_gives_the_drag_of_new_stl_designs(simulated_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    run_dir, _ = simulated_run
    source = tmp_path / "source"
    simulate_drivaernet(source, n_designs=12, seed=8)
    new = tmp_path / "new"
    new.mkdir()
    stls = sorted(source.rglob("*.stl"))[:3]
    for stl in stls:
        shutil.copy(stl, new / stl.name)
    out = tmp_path / "out"
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.root": str(new)}, out=out, log=_quiet)
    table = prediction.tables["drag"]
    assert sorted(table["design_id"]) == sorted(s.stem for s in stls)
    assert prediction.metrics == {} and "cd" not in table.columns
    for method in ("regdgcnn", "pointnet", "mean"):
        assert np.isfinite(table[method]).all()
    assert "ols" not in table.columns  # new meshes come without the design parameters
    assert (out / "drag.csv").is_file()


def test_bad_folder_is_one_clear_line(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    victim = sorted(broken.rglob("*.stl"))[0]
    victim.write_bytes(b"")
    args = [f"{k}={json.dumps(v)}" for k, v in TINY_DRIVAERNET.items()]
    code = cli.main(["run", "drivaernet", f"dataset.params.root={broken}", *args, "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and victim.name in err
    assert not (tmp_path / "run" / "metrics.json").exists()


class TinyCloudNet(torch.nn.Module):
    """A network of the user's own (``pipe.model = TinyCloudNet``): a per-point layer, max pooling over the cloud and
    a linear head.

    Shapes: (B, 3, N) -> (B, n_outputs)."""

    def __init__(self, spec: DataSpec, width: int = 4) -> None:
        super().__init__()
        self.point = torch.nn.Sequential(torch.nn.Conv1d(spec.input_shape[0], width, 1), torch.nn.ReLU())
        self.head = torch.nn.Linear(width, spec.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.point(x).amax(dim=2))


class WideOutputNet(TinyCloudNet):
    """Gives three values per cloud where the drag task needs one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).repeat(1, 3)


def test_the_users_own_network_is_named_by_its_class_and_predicts_with_the_same_factory(
    simulated_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """``pipe.model = TinyCloudNet`` trains as the ``regdgcnn`` method (metric keys unchanged); the report, the log
    and predict's report name TinyCloudNet with its own model.params and none of RegDGCNN's label or defaults
    (the registered run's report keeps them); predict on the test split with the same factory reproduces the
    run's metrics; a network with the wrong output is refused before training."""
    overrides = {**TINY_DRIVAERNET_DRAG, "task.params.methods": ["regdgcnn", "mean"]}
    pipe = sciconv.load_pipeline("drivaernet-drag", overrides)
    pipe.model = TinyCloudNet
    pipe.config.model.params = {"width": 6}
    lines: list[str] = []
    result = pipe.run(run_dir=tmp_path / "run", log=lines.append)
    assert {k.split(".")[0] for k in result.metrics} == {"regdgcnn", "mean"}
    report = (result.run_dir / "report.md").read_text()
    assert "| TinyCloudNet (the pipeline's model; metrics `regdgcnn.*`) |" in report
    assert "- TinyCloudNet: the user's own network in the pipeline's model place" in report
    assert "model.params width 6; its metrics are the `regdgcnn.*` keys" in report
    assert "TinyCloudNet MAE" in report and "Time per method (training and testing): TinyCloudNet" in report
    for registered in ("RegDGCNN (dynamic graph CNN)", "EdgeConv", "dropout 0.4", "- RegDGCNN:", "RegDGCNN MAE"):
        assert registered not in report, registered
    assert "RegDGCNN (dynamic graph CNN)" in (simulated_run[0] / "report.md").read_text()
    assert any(line.startswith("TinyCloudNet (regdgcnn): test R²") for line in lines)

    prediction = sciconv.load_run(result.run_dir).predict(
        split="test", out=tmp_path / "out", model=TinyCloudNet, log=_quiet
    )
    scores = {k: v for k, v in result.metrics.items() if not k.endswith("infer_ms")}
    assert {k: v for k, v in prediction.metrics.items() if not k.endswith("infer_ms")} == scores
    assert "TinyCloudNet, the user's own network" in (tmp_path / "out" / "report.md").read_text()

    pipe.model = WideOutputNet
    with pytest.raises(ConfigError, match=r"WideOutputNet .*\(B, 1\) or \(B,\).*it returned \(2, 3\)"):
        pipe.run(run_dir=tmp_path / "wide", log=_quiet)
    assert not (tmp_path / "wide").exists()  # refused before the first checkpoint: nothing left behind
