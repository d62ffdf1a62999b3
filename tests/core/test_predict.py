"""Applying a finished run to new data: `pipeline predict` and `sciconv.load_run(...).predict`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import sciconv
from sciconv.cli import main
from sciconv.errors import CheckpointError, ConfigError, DataError, NotFoundError

SMALL = {"dataset.params.n_trials": 200, "train.epochs": 2, "train.progress": False}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("predict") / "run"
    sciconv.run("demo-signal", overrides=SMALL, run_dir=run_dir)
    return run_dir


def copy(run_dir: Path, target: Path) -> Path:
    shutil.copytree(run_dir, target)
    return target


def test_predict_on_the_runs_test_split_reproduces_its_metrics(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["predict", str(finished), "--split", "test", "--out", str(out)]) == 0
    run_metrics = json.loads((finished / "metrics.json").read_text())
    predicted = json.loads((out / "metrics.json").read_text())
    assert {"test.accuracy", "test.loss", "baseline.nearest_centroid.accuracy"} <= set(predicted)
    assert all(predicted[key] == run_metrics[key] for key in predicted), (predicted, run_metrics)
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0].startswith("sample,predicted,p_") and len(rows) == 1 + 40  # 20 % of 200 trials
    report = (out / "report.md").read_text()
    assert str(finished) in report and "nothing was trained" in report and "its test split" in report
    assert "predictions: 40 rows" in capsys.readouterr().out


def test_python_predict_on_new_data_returns_tables_and_writes_nothing(finished: Path) -> None:
    run = sciconv.load_run(finished)
    prediction = run.predict({"dataset.params.seed": 7, "dataset.params.n_trials": 120})
    table = prediction.tables["predictions"]
    assert run.trained.spec is not None and run.trained.spec.classes is not None
    assert len(table) == 120 and set(table["predicted"]) <= set(run.trained.spec.classes)
    assert list(table.columns[:2]) == ["sample", "predicted"]
    assert 0.0 <= prediction.metrics["all.accuracy"] <= 1.0 and prediction.out_dir is None
    assert not (finished / "predictions").exists(), "write=False writes nothing"
    written = run.predict(["dataset.params.seed=7", "dataset.params.n_trials=120"], write=True)
    assert written.out_dir is not None and written.out_dir.parent == finished / "predictions"
    assert (written.out_dir / "predictions.csv").is_file()


def test_a_dataset_object_can_be_given(finished: Path) -> None:
    from sciconv_demo.datasets import OscillationDataset

    prediction = sciconv.load_run(finished).predict(OscillationDataset(n_trials=60, seed=3))
    assert len(prediction.tables["predictions"]) == 60


def test_new_data_with_other_channels_is_refused_naming_both_sides(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(DataError) as info:
        sciconv.load_run(finished).predict({"dataset.params.n_chans": 3}, out=out)
    message = str(info.value)
    assert "the run trained on 4 channels" in message and "these data have 3 channels" in message
    assert not out.exists(), "nothing is written on error"
    with pytest.raises(DataError, match=r"at 128 Hz.*at 256 Hz.*different .*sfreq"):
        sciconv.load_run(finished).predict({"dataset.params.sfreq": 256.0})


def test_only_the_data_may_change(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(finished), "model.params.n_filters=4"]) == 2
    err = capsys.readouterr().err
    assert "cannot change model.params.n_filters" in err and "only dataset.*" in err


@pytest.mark.parametrize(("state", "expected"), [("failed", "is failed"), ("running", "is running")])
def test_unfinished_runs_are_refused(finished: Path, tmp_path: Path, state: str, expected: str) -> None:
    run_dir = copy(finished, tmp_path / "run")
    status = json.loads((run_dir / "status.json").read_text())
    (run_dir / "status.json").write_text(json.dumps({**status, "status": state}))
    with pytest.raises(ConfigError, match=rf"{expected}.*predict needs a completed run.*--resume"):
        sciconv.load_run(run_dir)


def test_tampered_weights_are_refused(finished: Path, tmp_path: Path) -> None:
    run_dir = copy(finished, tmp_path / "run")
    weights = run_dir / "trained" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 does not match the manifest"):
        sciconv.load_run(run_dir)


def test_not_a_run_and_no_trained_state(finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NotFoundError, match="no such run directory"):
        sciconv.load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    assert main(["predict", str(tmp_path / "empty")]) == 2
    assert "not a sciconv run directory (no config.yaml)" in capsys.readouterr().err
    run_dir = copy(finished, tmp_path / "run")
    shutil.rmtree(run_dir / "trained")
    with pytest.raises(ConfigError, match="saved no trained state"):
        sciconv.load_run(run_dir)


def test_out_must_be_new_or_empty(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not an empty folder"):
        sciconv.load_run(finished).predict(out=out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_a_failed_extension_keeps_the_earlier_trained_state(finished: Path, tmp_path: Path) -> None:
    """The trained state is replaced as a whole when a run completes, never half-way."""
    run_dir = copy(finished, tmp_path / "run")
    before = (run_dir / "trained" / "manifest.json").stat().st_ino
    sciconv.run(resume=run_dir, overrides={"train.epochs": 3})
    # replaced as a file (an atomic rename: a new inode). Its text may be the same: early stopping can restore an
    # earlier epoch's weights, and the timestamp has a resolution of one second
    assert (run_dir / "trained" / "manifest.json").stat().st_ino != before, "the completed extension replaced it"
    assert not (run_dir / ".trained-staging").exists()
    assert (
        sciconv.load_run(run_dir).predict(split="test").metrics["test.accuracy"]
        == json.loads((run_dir / "metrics.json").read_text())["test.accuracy"]
    )


class _JournaledTask(sciconv.TaskBase):
    """Saves part 1, fails once, and on resume skips part 1 (journaled) and saves part 2."""

    def run(self, ctx):
        data = ctx.load_data()
        ctx.fit(ctx.build_model(data.spec), data.train, data.val, metrics={"accuracy": lambda o, t: 0.0})  # checkpoints
        journal = ctx.run_dir.path / "journal.txt"
        if not journal.exists():
            ctx.save_state("part1", {"done": 1})
            journal.write_text("part1\n")
            raise RuntimeError("stopped after part 1")
        ctx.save_state("part2", {"done": 2})
        return sciconv.TaskResult(metrics={"parts": 2.0})


def test_a_resumed_run_commits_the_state_of_the_parts_it_skipped(tmp_path: Path) -> None:
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.task = _JournaledTask()
    with pytest.raises(RuntimeError, match="stopped after part 1"):
        pipe.run(tmp_path / "run")
    assert not (tmp_path / "run" / "trained").exists(), "nothing is committed before the run completes"
    pipe.run(resume=tmp_path / "run")
    state = sciconv.load_run(tmp_path / "run").trained
    assert state.load_state("part1") == {"done": 1} and state.load_state("part2") == {"done": 2}


def test_a_run_whose_model_was_a_script_object_predicts_with_that_factory(tmp_path: Path) -> None:
    import torch.nn as nn

    class ScriptNet(nn.Module):  # defined inside a function: config.yaml cannot name it again
        def __init__(self, spec: sciconv.DataSpec, width: int = 4) -> None:
            super().__init__()
            channels = spec.input_shape[0]
            self.net = nn.Sequential(
                nn.Conv1d(channels, width, 5, padding=2),
                nn.ReLU(),
                nn.AdaptiveAvgPool1d(1),
                nn.Flatten(),
                nn.Linear(width, spec.n_outputs),
            )

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.net(x)

    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.model = ScriptNet
    pipe.config.model.params = {"width": 4}
    result = pipe.run(run_dir=tmp_path / "run")
    run = sciconv.load_run(result.run_dir)
    with pytest.raises(ConfigError, match=r"cannot name again .*predict\(\.\.\., model=<the factory>\)"):
        run.predict(split="test")  # the recorded python: reference cannot be imported
    prediction = run.predict(split="test", model=ScriptNet)
    assert prediction.metrics["test.accuracy"] == result.metrics["test.accuracy"]
    with pytest.raises(ConfigError, match="expected the model factory"):
        run.predict(split="test", model="ScriptNet")  # type: ignore[arg-type]


def test_the_report_says_which_network_replaced_the_pipelines_model(tmp_path: Path) -> None:
    import torch.nn as nn

    class Replacement(nn.Module):
        def __init__(self, spec: sciconv.DataSpec) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(spec.input_shape)), spec.n_outputs))

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.net(x)

    pipe = sciconv.load_pipeline("demo-signal", {**SMALL, "train.epochs": 1})
    pipe.model = Replacement
    pipe.config.model.params = {}
    result = pipe.run(run_dir=tmp_path / "own")
    report = (result.run_dir / "report.md").read_text()
    assert "the pipeline's model `demo.cnn1d` was replaced by `Replacement`" in report
    plain = sciconv.run("demo-signal", {**SMALL, "train.epochs": 1}, run_dir=tmp_path / "registered")
    assert "was replaced by" not in (plain.run_dir / "report.md").read_text()
