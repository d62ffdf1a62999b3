"""The deepfea pipelines end to end on tiny settings: registration, conformance (each pipeline run twice with the
same metrics, predict reproducing the run), the metric keys, the report, the official layout written by the
simulator and read back, predict writing the official layout, and bad input at the command line."""

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
from sciconv.spec import DataSpec
from sciconv.testing import check_plugin
from sciconv_deepfea.fea_simulator import simulate_dataset
from sciconv_deepfea.plugin import TINY_DEEPFEA, TINY_DEEPFEA_3D, TINY_DEEPFEA_OFFICIAL

KEYS = ("node_nme", "node_nrmse", "disp_nrmse", "elem_nme", "elem_nrmse", "node_r2", "elem_r2")


def _quiet(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def official_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deepfea") / "official"
    simulate_dataset(root, n_cases=10, grid=(9, 9), n_steps=4, seed=5)
    return root


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    run_dir = tmp_path_factory.mktemp("deepfea-run") / "run"
    sciconv.run("deepfea", dict(TINY_DEEPFEA), run_dir=run_dir)
    return run_dir, json.loads((run_dir / "metrics.json").read_text())


def test_pipelines_are_registered() -> None:
    registry = get_registry()
    for name, tiny in (
        ("deepfea", TINY_DEEPFEA),
        ("deepfea-3d", TINY_DEEPFEA_3D),
        ("deepfea-official", TINY_DEEPFEA_OFFICIAL),
    ):
        assert registry.entry("pipelines", name).plugin == "deepfea"
        assert dict(registry.entry("pipelines", name).tiny) == tiny
    official = sciconv.load_pipeline("deepfea-official", {"dataset.params.root": "x"}).config
    assert official.model.params["channels"] == [64, 128, 256] and official.train.epochs == 1000
    assert official.train.scheduler.milestones == [600, 700, 800, 1000, 1200]


def test_conformance_of_every_component_and_pipeline(official_root: Path) -> None:
    report = check_plugin(
        "deepfea",
        pipeline_overrides={
            "deepfea": {"dataset.params.n_cases": 12, "dataset.params.n_steps": 5},
            "deepfea-3d": {"dataset.params.n_cases": 10, "dataset.params.n_steps": 4, "dataset.params.grid": [3, 3, 3]},
            "deepfea-official": {"dataset.params.root": str(official_root)},
        },
        extra_models={
            "deepfea.frame-cnn": (
                DataSpec((5, 5, 9, 9), 290, task_type="forecasting", extra={"dim": 2, "node_channels": 2}),
                {"width": 8, "depth": 2},
            )
        },
    )
    assert sorted(report.pipelines) == ["deepfea", "deepfea-3d", "deepfea-official"]
    for name in ("deepfea", "deepfea-3d"):
        for method in ("nep", "cnn", "quasistatic"):
            for key in KEYS:
                assert f"{method}.{key}" in report.runs[name], (name, method, key)
        assert report.runs[name]["speedup"] > 0 and report.runs[name]["speedup_batched"] > 0
    assert "quasistatic.node_nme" not in report.runs["deepfea-official"]  # no solver parameters in that layout


def test_the_run_reports_errors_speed_and_figures(simulated_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, metrics = simulated_run
    for method in ("nep", "cnn", "quasistatic"):
        assert metrics[f"{method}.node_nrmse"] >= 0 and metrics[f"{method}.node_r2"] <= 1
    report = (run_dir / "report.md").read_text()
    for heading in ("Speed against the solver", "Per-case displacement NRMSE", "Published claims"):
        assert heading in report
    for plot in ("error_vs_step.png", "fields.png"):
        assert (run_dir / "plots" / plot).stat().st_size > 1000


def test_predict_rolls_out_new_cases_in_the_official_layout(
    simulated_run: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    run_dir, _ = simulated_run
    out = tmp_path / "out"
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.seed": 9}, out=out, log=_quiet)
    assert {"nep.node_nrmse", "cnn.node_nrmse"} <= set(prediction.metrics)
    cases = sorted(p.name for p in (out / "nep").iterdir())
    assert len(cases) == 12
    with np.load(out / "nep" / cases[0] / "dis_out.npz", allow_pickle=False) as stored:
        assert stored["arr_0"].shape == (5, 2, 9, 9)
    with np.load(out / "nep" / cases[0] / "effective_out.npz", allow_pickle=False) as stored:
        assert stored["eff_stress"].shape == (5, 8, 8)


def test_bad_official_folder_is_one_clear_line(
    official_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(official_root, broken)
    (broken / "3" / "dis_out.npz").unlink()
    args = [f"{k}={json.dumps(v)}" for k, v in TINY_DEEPFEA_OFFICIAL.items()]
    code = cli.main(
        ["run", "deepfea-official", f"dataset.params.root={broken}", *args, "--run-dir", str(tmp_path / "run")]
    )
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err and "dis_out.npz" in err and "3" in err
