"""Running pipelines from Python: results, the run directory, failures and clean-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import sciconv
from sciconv import DataBundle, ResultRow, TaskBase, TaskResult
from sciconv.errors import ConfigError, NotFoundError
from sciconv.kit import accuracy

SMALL = {"dataset.params.n_trials": 200, "train.epochs": 2, "train.progress": False}


def test_run_returns_metrics_dir_and_model(tmp_path: Path) -> None:
    result = sciconv.run("demo-signal", overrides=SMALL, run_dir=tmp_path / "run")
    assert result.run_dir == tmp_path / "run"
    assert 0.0 <= result.metrics["test.accuracy"] <= 1.0
    assert result.model is not None and sum(p.numel() for p in result.model.parameters()) > 0
    files = {p.relative_to(result.run_dir).as_posix() for p in result.run_dir.rglob("*") if p.is_file()}
    assert {
        "config.yaml",
        "metrics.json",
        "history.csv",
        "report.md",
        "status.json",
        "plots/training_curves.png",
        "checkpoints/model/model.safetensors",
    } <= files
    assert not [f for f in files if "/." in f or f.startswith(".")], "temporary files left behind"
    assert json.loads((result.run_dir / "metrics.json").read_text()) == result.metrics
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["dataset"]["params"]["n_trials"] == 200
    report = (result.run_dir / "report.md").read_text()
    assert "![Training curves" in report and "| demo.cnn1d |" in report and "spectral peak" in report


def test_saved_config_reruns_to_the_same_metrics(tmp_path: Path) -> None:
    first = sciconv.run("demo-signal", overrides=SMALL, run_dir=tmp_path / "a")
    second = sciconv.run(tmp_path / "a" / "config.yaml", run_dir=tmp_path / "b")
    assert first.metrics == second.metrics


def test_default_run_dir_is_under_output_root(tmp_path: Path) -> None:
    result = sciconv.run("demo-signal", overrides={**SMALL, "output.root": str(tmp_path / "runs")})
    assert result.run_dir.parent == tmp_path / "runs" / "demo-signal"


def test_load_pipeline_then_change_in_code(tmp_path: Path) -> None:
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.config.model.params["n_filters"] = 4
    pipe.config.train.epochs = 1
    with pytest.raises(Exception, match="epochs"):
        pipe.config.train.epochs = 0  # validated on assignment
    result = pipe.run(tmp_path / "run")
    assert len(result.history) == 1
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]["params"]["n_filters"] == 4


def test_custom_python_components(tmp_path: Path) -> None:
    """A scientist swaps in an unregistered dataset and task from a script."""
    from torch.utils.data import TensorDataset

    base = sciconv.load_pipeline("demo-signal", SMALL)

    class MyData:
        def load(self) -> DataBundle:
            import torch

            x = torch.randn(40, 4, 256)
            y = torch.arange(40) % 4
            return DataBundle(
                TensorDataset(x, y),
                TensorDataset(x, y),
                None,
                sciconv.DataSpec((4, 256), 4, classes=("a", "b", "c", "d"), sfreq=128.0),
            )

    class MyTask(TaskBase):
        def run(self, ctx):
            data = ctx.load_data()
            fit = ctx.fit(ctx.build_model(), data.train, data.val, metrics={"accuracy": accuracy})
            return TaskResult(
                {"final_loss": fit.history[-1]["train_loss"]},
                model=fit.model,
                table=[ResultRow("mine", {"loss": fit.history[-1]["train_loss"]})],
            )

    base.dataset = MyData()
    base.task = MyTask()
    result = base.run(tmp_path / "run")
    assert set(result.metrics) == {"final_loss"}
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["dataset"]["name"].startswith("python:") and "MyData" in saved["dataset"]["name"]
    with pytest.raises(ConfigError, match="was a Python object"):
        sciconv.run(resume=tmp_path / "run")


class _Boom(TaskBase):
    def __init__(self, after_fit: bool = False) -> None:
        self.after_fit = after_fit

    def run(self, ctx):
        if self.after_fit:
            data = ctx.load_data()
            ctx.fit(ctx.build_model(), data.train, data.val, metrics={"accuracy": accuracy})
        raise RuntimeError("task failed")


def test_failure_before_any_checkpoint_leaves_nothing(tmp_path: Path) -> None:
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.task = _Boom()
    with pytest.raises(RuntimeError, match="task failed"):
        pipe.run(tmp_path / "run")
    assert not (tmp_path / "run").exists()
    # An explicit, pre-existing empty --run-dir is emptied again, not removed.
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeError):
        pipe.run(tmp_path / "empty")
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())


def test_failure_after_checkpoints_keeps_them_for_resume(tmp_path: Path) -> None:
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.task = _Boom(after_fit=True)
    with pytest.raises(RuntimeError) as info:
        pipe.run(tmp_path / "run")
    assert any("--resume" in note for note in info.value.__notes__)
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed" and "task failed" in status["error"]
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert (tmp_path / "run" / "checkpoints" / "model" / "model.safetensors").is_file()


def test_completed_run_is_never_overwritten(tmp_path: Path) -> None:
    sciconv.run("demo-signal", overrides=SMALL, run_dir=tmp_path / "run")
    before = (tmp_path / "run" / "metrics.json").read_bytes()
    with pytest.raises(ConfigError, match=r"not empty.*--resume"):
        sciconv.run("demo-signal", overrides=SMALL, run_dir=tmp_path / "run")
    assert (tmp_path / "run" / "metrics.json").read_bytes() == before


def test_resume_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such directory"):
        sciconv.run(resume=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFoundError, match="not a sciconv run directory"):
        sciconv.run(resume=tmp_path / "empty")


def test_tampered_checkpoint_refused_on_resume(tmp_path: Path) -> None:
    overrides = {**SMALL, "train.epochs": 3}
    pipe = sciconv.load_pipeline("demo-signal", overrides)
    pipe.task = _Boom(after_fit=True)
    with pytest.raises(RuntimeError):
        pipe.run(tmp_path / "run")
    last = sorted((tmp_path / "run" / "checkpoints" / "model").glob("epoch-*"))[-1]
    weights = last / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(sciconv.CheckpointError, match="SHA-256 does not match"):
        pipe.run(resume=tmp_path / "run")


def test_component_validate_runs_before_anything_is_written(tmp_path: Path) -> None:
    """A dataset's validate() refuses a bad value at load_pipeline time: no run directory, no data."""
    with pytest.raises(ConfigError, match=r"dataset\.params\.freqs: the 2nd harmonic of 80"):
        sciconv.load_pipeline("demo-signal", {"dataset.params.freqs": [6.0, 80.0]})
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.config.dataset.params["n_trials"] = 4  # changed in code after loading: run() validates again
    with pytest.raises(ConfigError, match="n_trials: need at least 20"):
        pipe.run(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_failed_continuation_leaves_a_completed_run_unchanged(tmp_path: Path) -> None:
    sciconv.run("demo-signal", overrides=SMALL, run_dir=tmp_path / "run")
    files = ("config.yaml", "status.json", "metrics.json", "report.md", "history.csv")
    before = {name: (tmp_path / "run" / name).read_bytes() for name in files}
    last = sorted((tmp_path / "run" / "checkpoints" / "model").glob("epoch-*"))[-1]
    (last / "state.pt").write_bytes(b"tampered")
    with pytest.raises(sciconv.CheckpointError) as info:
        sciconv.run(resume=tmp_path / "run", overrides={"train.epochs": 5})
    assert any("unchanged" in note for note in info.value.__notes__)
    assert not any("--resume" in note for note in info.value.__notes__)
    assert {name: (tmp_path / "run" / name).read_bytes() for name in files} == before


def test_non_finite_metrics_are_written_as_null() -> None:
    from sciconv.rundir import flatten_metrics

    flat = flatten_metrics({"a": float("nan"), "b": {"c": float("inf"), "d": 2}})
    assert flat == {"a": None, "b.c": None, "b.d": 2.0}
    assert flatten_metrics(flat) == flat  # flattening what is already flat changes nothing
