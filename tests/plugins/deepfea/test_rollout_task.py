"""The DeepFEA task's pieces: NELO's teacher-forcing schedule, the node + element loss, the normalised errors,
predict scaling new inputs with the run's own scaling (not the new folder's min/max files), and a network of the
user's own in the pipeline model's place named as what it is (report, log, predict) and refused before training when
its output has the wrong shape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch import nn

import sciconv
from sciconv.errors import ConfigError
from sciconv.spec import DataSpec
from sciconv_deepfea.datasets import OfficialFEADataset
from sciconv_deepfea.fea_simulator import simulate_dataset
from sciconv_deepfea.official_io import SCALING_STEMS
from sciconv_deepfea.plugin import TINY_DEEPFEA_OFFICIAL
from sciconv_deepfea.rollout_task import (
    ERROR_KEYS,
    LABELS,
    NodeElementLoss,
    inputs_beyond_scaling,
    rollout_errors,
    teacher_forcing_probability,
    trainable_parameters,
)


def test_teacher_forcing_schedule_is_nelos() -> None:
    # p = 0.7^k after k periods of 40 epochs, 0 once below 0.01 (0.7^13 = 0.0097)
    assert teacher_forcing_probability(1, 40) == 1.0
    assert teacher_forcing_probability(40, 40) == 1.0
    assert teacher_forcing_probability(41, 40) == pytest.approx(0.7)
    assert teacher_forcing_probability(81, 40) == pytest.approx(0.49)
    assert teacher_forcing_probability(12 * 40 + 1, 40) == pytest.approx(0.7**12)
    assert teacher_forcing_probability(13 * 40 + 1, 40) == 0.0


def test_loss_weights_node_and_element_mse() -> None:
    grid = (3, 3)
    loss = NodeElementLoss(2, grid, scale=10.0)
    target = torch.zeros(2, 4, 2 * 9 + 2 * 4)
    output = target.clone()
    output[..., :18] = 1.0  # every node value off by 1: node MSE 1
    output[..., 18:] = 2.0  # every element value off by 2: element MSE 4
    assert float(loss(output, target)) == pytest.approx(10.0 * 1.0 + 10.0 * 4.0)


def test_errors_normalised_by_the_range_of_the_truth() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(2, 2, 3, 3))
    u = rng.normal(size=(2, 4, 2, 3, 3))
    true = {
        "dis_out": reference[:, None] + u,
        "eff_stress": rng.uniform(0, 10, size=(2, 4, 2, 2)),
        "eff_strain": rng.uniform(0, 1, size=(2, 4, 2, 2)),
    }
    exact = rollout_errors(true, true, reference)
    assert exact["node_nme"] == 0.0 and exact["elem_nrmse"] == 0.0 and exact["node_r2"] == 1.0
    off = {**true, "dis_out": true["dis_out"] + 0.1}
    errors = rollout_errors(off, true, reference)
    assert errors["node_nme"] == pytest.approx(0.1 / np.ptp(true["dis_out"]))  # by the coordinates' range
    assert errors["node_nrmse"] == pytest.approx(0.1 / np.ptp(true["dis_out"]))
    assert errors["disp_nrmse"] == pytest.approx(0.1 / np.ptp(u))  # by the displacements' range
    assert errors["node_nrmse_t"].shape == (4,) and errors["node_nrmse_case"].shape == (2,)
    assert errors["elem_nme"] == 0.0


# -- predict scales new inputs with the run's own scaling ---------------------------------------------------------


def _silent(message: str) -> None:
    return None


@pytest.fixture(scope="module")
def official_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """A tiny deepfea-official run on simulated cases (min/max files over all of them): the data and the run."""
    base = tmp_path_factory.mktemp("deepfea-scaling")
    root = base / "data"
    simulate_dataset(root, n_cases=8, grid=(5, 5), n_steps=3, seed=5)
    run_dir = base / "run"
    sciconv.run("deepfea-official", {**TINY_DEEPFEA_OFFICIAL, "dataset.params.root": str(root)}, run_dir=run_dir)
    return root, run_dir, json.loads((run_dir / "metrics.json").read_text())


def _copy_with_other_min_max(root: Path, target: Path) -> Path:
    """``root`` copied with every min/max file widened (the same cases, another scaling)."""
    shutil.copytree(root, target)
    for stem in SCALING_STEMS:
        if stem.endswith("_min"):
            lo, hi = np.load(root / f"{stem}.npy"), np.load(root / f"{stem[:-4]}_max.npy")
            span = np.maximum(hi - lo, 1.0)
            np.save(target / f"{stem}.npy", (lo - 0.5 * span).astype(np.float32))
            np.save(target / f"{stem[:-4]}_max.npy", (hi + 1.5 * span).astype(np.float32))
    return target


def _predicted(out: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for path in sorted(out.rglob("*.npz")):
        with np.load(path, allow_pickle=False) as stored:
            for key in stored.files:
                arrays[f"{path.relative_to(out)}:{key}"] = stored[key]
    return arrays


def test_predictions_do_not_depend_on_the_folders_min_max_files(
    official_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, run_dir, _ = official_run
    other = _copy_with_other_min_max(root, tmp_path / "other")
    own = OfficialFEADataset(root=str(root)).load().info["scaling"]
    altered = OfficialFEADataset(root=str(other)).load().info["scaling"]
    assert not np.allclose(own["dis_c_min"], altered["dis_c_min"])  # the folder's own scaling does differ
    run = sciconv.load_run(run_dir)
    logged: list[str] = []
    a = run.predict({"dataset.params.root": str(root)}, out=tmp_path / "a", log=logged.append)
    b = run.predict({"dataset.params.root": str(other)}, out=tmp_path / "b", log=logged.append)
    pred_a, pred_b = _predicted(tmp_path / "a"), _predicted(tmp_path / "b")
    assert len(pred_a) == 2 * 8 * 3 and pred_a.keys() == pred_b.keys()  # 2 methods x 8 cases x 3 arrays
    for key, value in pred_a.items():
        np.testing.assert_array_equal(value, pred_b[key], err_msg=key)
    assert a.metrics == b.metrics
    assert not [m for m in logged if "warning" in m]  # the same cases: within the training range


def test_predict_on_the_test_split_reproduces_the_run_whatever_the_min_max_files(
    official_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, run_dir, metrics = official_run
    other = _copy_with_other_min_max(root, tmp_path / "other")
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.root": str(other)}, split="test", log=_silent)
    keys = [f"{m}.{k}" for m in ("nep", "cnn") for k in ERROR_KEYS]
    assert {k: prediction.metrics[k] for k in keys} == {k: metrics[k] for k in keys}


def test_inputs_beyond_the_training_range_are_predicted_with_a_warning(
    official_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, run_dir, _ = official_run
    louder = tmp_path / "louder"
    shutil.copytree(root, louder)
    with np.load(louder / "8" / "dis_in.npz", allow_pickle=False) as stored:
        dis_in = stored["arr_0"].copy()
    dis_in[:, 2:4] *= 3.0  # case 8 holds the largest loads: tripled
    np.savez(louder / "8" / "dis_in.npz", arr_0=dis_in)
    logged: list[str] = []
    prediction = sciconv.load_run(run_dir).predict({"dataset.params.root": str(louder)}, log=logged.append)
    warnings = [m for m in logged if m.startswith("warning")]
    assert len(warnings) == 1 and "load" in warnings[0] and "% of that range beyond it" in warnings[0]
    assert "coordinate" not in warnings[0]  # only the loads left the range
    assert np.isfinite(prediction.metrics["nep.node_nrmse"])


def test_inputs_beyond_scaling_says_how_far() -> None:
    scaling = {
        "dis_c_min": np.array([0.0, 0.0]),
        "dis_c_max": np.array([1.0, 2.0]),
        "dis_f_min": np.array([-10.0, 5.0]),
        "dis_f_max": np.array([10.0, 5.0]),
    }
    dis_in = np.zeros((2, 3, 5, 3, 3))
    dis_in[:, :, 0] = 0.5  # x within [0, 1]
    dis_in[:, :, 1] = np.linspace(-0.5, 2.0, 9).reshape(3, 3)  # y 0.5 below [0, 2]: 25% of its range
    dis_in[:, :, 2] = 10.0  # Fx at the edge: within
    dis_in[:, :, 3] = 5.0  # Fy constant, as in training
    assert inputs_beyond_scaling(dis_in, scaling, 2) == [
        "y coordinate: -0.5 to 2 m, training range 0 to 2 m (25% of that range beyond it)"
    ]
    dis_in[0, 0, 3, 0, 0] = 7.0  # Fy off the one value seen in training
    lines = inputs_beyond_scaling(dis_in, scaling, 2)
    assert len(lines) == 2 and lines[1].startswith("y load: 5 to 7 N") and "up to 2 N" in lines[1]


# -- a network of the user's own in the pipeline model's place ----------------------------------------------------


class PlainRollout(nn.Module):
    """A user's network with none of the NEP net's attributes (no ``teacher_forcing``): each step's frame through a
    small MLP. Shapes: ``(B, T, C, *grid)`` -> ``(B, T, F)``."""

    def __init__(self, spec: DataSpec, hidden: int = 6) -> None:
        super().__init__()
        _, channels, *grid = spec.input_shape
        self.net = nn.Sequential(
            nn.Flatten(2),
            nn.Linear(channels * int(np.prod(grid)), hidden),
            nn.Tanh(),
            nn.Linear(hidden, spec.n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class OneOutputPerCase(PlainRollout):
    """A network of the wrong output shape: one output per sequence ``(B, F)``, not one per step. ``calls``: the
    ``training`` flag of each forward pass."""

    calls: ClassVar[list[bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(self.training)
        return self.net(x).mean(dim=1)


def _own_pipeline(root: Path, factory: Any) -> Any:
    pipe = sciconv.load_pipeline("deepfea-official", {**TINY_DEEPFEA_OFFICIAL, "dataset.params.root": str(root)})
    pipe.model = factory
    pipe.config.model.params = {"hidden": 6}
    return pipe


@pytest.fixture(scope="module")
def own_run(
    official_run: tuple[Path, Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], list[str]]:
    """The tiny deepfea-official run of :func:`official_run` with :class:`PlainRollout` as the pipeline's model."""
    logged: list[str] = []
    run_dir = tmp_path_factory.mktemp("deepfea-own") / "run"
    result = _own_pipeline(official_run[0], PlainRollout).run(run_dir=run_dir, log=logged.append)
    return run_dir, dict(result.metrics), logged


def test_a_network_of_your_own_is_named_in_the_report_and_the_log(
    own_run: tuple[Path, dict[str, Any], list[str]], official_run: tuple[Path, Path, dict[str, Any]]
) -> None:
    run_dir, metrics, logged = own_run
    report = (run_dir / "report.md").read_text()
    config = sciconv.load_pipeline("deepfea-official", {"dataset.params.root": "x"}).config
    assert LABELS["nep"] not in report  # the registered network's label names no row
    assert "| PlainRollout (the pipeline's model) |" in report
    assert "| PlainRollout rollout, one case |" in report and "| case | PlainRollout | cnn |" in report
    size = trainable_parameters(
        PlainRollout(DataSpec((3, 5, 5, 5), 2 * 25 + 2 * 16, task_type="forecasting"), hidden=6)
    )
    assert f"- **Model size**: {size:,} trainable parameters\n" in report  # the frame CNN's size is not mixed in
    nep_line = next(line for line in report.splitlines() if line.startswith("- `nep`: "))
    assert "PlainRollout" in nep_line and "`hidden=6`" in nep_line and f"{size:,} trainable" in nep_line
    assert "channels" not in nep_line and config.model.name not in nep_line  # only its own model.params
    cnn_line = next(line for line in report.splitlines() if line.startswith("- `cnn`: "))
    assert "`cnn_width=4`, `cnn_depth=2`" in cnn_line and f"{size:,}" not in cnn_line
    assert "PlainRollout's metrics are the `nep.*` keys" in report and "no `teacher_forcing` attribute" in report
    assert any(m.startswith("nep: PlainRollout (the pipeline's model)") for m in logged)
    assert {f"nep.{k}" for k in ERROR_KEYS} <= set(metrics)  # the keys stay the method's
    # the registered network's run still calls it by the method's label, with its own size alone
    registered = (official_run[1] / "report.md").read_text()
    assert f"| {LABELS['nep']} |" in registered and "the pipeline's model)" not in registered
    assert "- **Model size**: " in registered and "input shapes were used" not in registered


def test_predict_with_your_own_factory_reproduces_the_run(
    own_run: tuple[Path, dict[str, Any], list[str]], tmp_path: Path
) -> None:
    run_dir, metrics, _ = own_run
    logged: list[str] = []
    out = tmp_path / "out"
    prediction = sciconv.load_run(run_dir).predict(split="test", model=PlainRollout, out=out, log=logged.append)
    keys = [f"{m}.{k}" for m in ("nep", "cnn") for k in ERROR_KEYS]
    assert {k: prediction.metrics[k] for k in keys} == {k: metrics[k] for k in keys}
    assert any(m.startswith("nep: PlainRollout (the pipeline's model)") for m in logged)
    assert "The method `nep` is PlainRollout" in (out / "report.md").read_text()


def test_a_network_of_the_wrong_output_shape_is_refused_before_training(
    official_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    OneOutputPerCase.calls.clear()
    with pytest.raises(ConfigError, match=r"OneOutputPerCase: .*\(1, 3, 82\).*it returned \(1, 82\)"):
        _own_pipeline(official_run[0], OneOutputPerCase).run(run_dir=tmp_path / "run", log=_silent)
    assert OneOutputPerCase.calls == [False]  # one forward pass in eval mode, the check's: nothing was trained
    assert not (tmp_path / "run").exists()  # a run refused before its first checkpoint leaves nothing behind
