"""Experiment tracking (``output.loggers``): what TensorBoard and MLflow hold, read back with their own readers."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import sciconv
from sciconv.errors import ConfigError
from sciconv.loggers import RunLoggers, check_loggers, default_tracking_uri, flatten_config, mlflow_key

# MLflow's SQLAlchemy store uses a loader strategy SQLAlchemy 2 deprecates: not sciconv's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")

TINY = {
    "dataset.params.n_trials": 60,
    "train.epochs": 2,
    "train.early_stopping.patience": None,
    "train.progress": False,
}
BOTH = {**TINY, "output.loggers": ["tensorboard", "mlflow"]}
PER_EPOCH = ("train_loss", "val_loss", "val_accuracy", "lr", "time_s")


def history_rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "history.csv").open() as fh:
        return list(csv.DictReader(fh))


def tensorboard(run_dir: Path) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def mlflow_run(run_dir: Path) -> tuple[Any, Any]:
    """The MLflow client of the run's store and the run, from ``<run>/mlflow/run.json``."""
    from mlflow.tracking import MlflowClient

    state = json.loads((run_dir / "mlflow" / "run.json").read_text())
    client = MlflowClient(state["tracking_uri"])
    return client, client.get_run(state["run_id"])


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with both loggers and the default store (the run's own SQLite file)."""
    return sciconv.run("demo-signal", BOTH, run_dir=tmp_path_factory.mktemp("logged") / "run").run_dir


def test_both_loggers_hold_the_history_results_config_and_plots(logged_run: Path) -> None:
    run_dir = logged_run
    rows = history_rows(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [int(r["epoch"]) for r in rows] == [1, 2]

    events = tensorboard(run_dir)
    for key in PER_EPOCH:
        got = [(e.step, e.value) for e in events.Scalars(f"model/{key}")]
        assert got == [(int(r["epoch"]), pytest.approx(float(r[key]), rel=1e-6)) for r in rows]
    for key, value in metrics.items():
        if isinstance(value, float):
            assert events.Scalars(f"final/{key}")[0].value == pytest.approx(value, rel=1e-6)
    config_text = events.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert config_text.startswith("```yaml\n") and "name: demo.oscillations" in config_text
    assert "n_trials: 60" in config_text
    image = events.Images("plots/training_curves.png")[0]
    assert image.width > 100 and image.height > 100 and image.encoded_image_string.startswith(b"\x89PNG")

    client, run = mlflow_run(run_dir)
    assert client.tracking_uri == default_tracking_uri(run_dir)  # the run's own store, under the run directory
    assert (run_dir / "mlflow" / "mlflow.db").is_file()
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.info.artifact_uri.startswith((run_dir / "mlflow" / "artifacts").resolve().as_uri())
    assert run.data.tags["sciconv.pipeline"] == "demo-signal" and run.data.tags["sciconv.status"] == "completed"
    assert run.data.tags["sciconv.run_dir"] == str(run_dir.resolve())
    assert client.get_experiment(run.info.experiment_id).name == "demo-signal"
    for key in PER_EPOCH:
        got = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, f"model/{key}")]
        assert got == [(int(r["epoch"]), float(r[key])) for r in rows]
    assert {f"final/{k}": v for k, v in metrics.items() if isinstance(v, float)}.items() <= run.data.metrics.items()
    params = run.data.params
    assert params["train.epochs"] == "2" and params["dataset.params.n_trials"] == "60"
    assert params["model.name"] == "demo.cnn1d" and params["train.early_stopping.patience"] == "null"
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "report.md", "metrics.json", "history.csv", "plots"} <= top
    assert "plots/training_curves.png" in {a.path for a in client.list_artifacts(run.info.run_id, "plots")}


def test_a_tracking_uri_is_honoured_and_a_failing_logger_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logged_run: Path
) -> None:
    from sciconv.loggers import TensorBoardLogger

    def broken(self: Any, metrics: Mapping[str, Any], plots: Sequence[str]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(TensorBoardLogger, "finish", broken)
    monkeypatch.chdir(tmp_path)  # where an SQLite store puts artifacts when the server decides
    store = tmp_path / "store.db"  # an existing store (another run's), as a team's shared one would be
    shutil.copyfile(logged_run / "mlflow" / "mlflow.db", store)
    uri = f"sqlite:///{store}"
    overrides = {**BOTH, "output.tracking_uri": uri, "output.experiment": "ablation"}
    with pytest.warns(RuntimeWarning, match=r"tensorboard failed logging the results \(OSError: disk full\)"):
        result = sciconv.run("demo-signal", overrides, run_dir=tmp_path / "run")
    run_dir = result.run_dir
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert json.loads((run_dir / "metrics.json").read_text()) == result.metrics
    assert not (run_dir / "mlflow" / "mlflow.db").exists()  # the user's store, not the run's own
    client, run = mlflow_run(run_dir)
    assert client.tracking_uri == uri
    assert client.get_experiment(run.info.experiment_id).name == "ablation"
    assert "run/mlflow" not in run.info.artifact_uri  # the store decides where artifacts go (under the cwd here)
    assert "config.yaml" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {e.name for e in client.search_experiments()} == {"Default", "demo-signal", "ablation"}
    assert run.info.status == "FINISHED"  # the other logger was not disturbed
    assert "final/test.accuracy" in run.data.metrics


def test_resume_continues_the_same_mlflow_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import sciconv.engine

    real = sciconv.engine.write_checkpoint

    def interrupt_after_first(ckpt_dir: Path, epoch: int, *args: Any, **kwargs: Any) -> Any:
        written = real(ckpt_dir, epoch, *args, **kwargs)
        if epoch == 1:
            raise KeyboardInterrupt  # Ctrl-C just after the first checkpoint
        return written

    monkeypatch.setattr(sciconv.engine, "write_checkpoint", interrupt_after_first)
    run_dir = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        sciconv.run("demo-signal", BOTH, run_dir=run_dir)
    client, run = mlflow_run(run_dir)
    assert run.info.status == "KILLED" and run.data.tags["sciconv.status"] == "interrupted"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "model/val_loss")] == [1]
    first_id = run.info.run_id

    monkeypatch.setattr(sciconv.engine, "write_checkpoint", real)
    sciconv.run(resume=run_dir)
    client, run = mlflow_run(run_dir)
    assert run.info.run_id == first_id and run.info.status == "FINISHED"
    rows = history_rows(run_dir)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    # epoch 1, replayed from the checkpoint on resume, is not logged twice
    got = [(m.step, m.value) for m in client.get_metric_history(first_id, "model/val_loss")]
    assert got == [(int(r["epoch"]), float(r["val_loss"])) for r in rows]
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 2  # TensorBoard appends
    assert [e.step for e in tensorboard(run_dir).Scalars("model/val_loss")] == [1, 2]
    assert "Creating initial MLflow database tables" not in capfd.readouterr().err  # INFO chatter silenced


def test_a_missing_extra_is_a_config_error_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # importing it now raises ImportError
    root = tmp_path / "runs"
    with pytest.raises(ConfigError) as caught:
        sciconv.run("demo-signal", {**TINY, "output.loggers": ["mlflow"], "output.root": str(root)})
    message = str(caught.value)
    assert message.startswith("output.loggers: 'mlflow' needs the optional extra: pip install \"sciconv[tracking]\"")
    assert "\n" not in message
    assert not root.exists()
    with pytest.raises(ConfigError, match=r"sciconv\[tracking\]"):
        sciconv.run("demo-signal", {**TINY, "output.loggers": "mlflow"}, run_dir=tmp_path / "explicit")
    assert not (tmp_path / "explicit").exists()

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    output = sciconv.load_pipeline("demo-signal", {"output.loggers": ["tensorboard"]}).config.output
    with pytest.raises(ConfigError, match=r"'tensorboard' needs the optional extra: pip install \"sciconv\[tracking\]"):
        check_loggers(output)


def test_logger_names_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"output\.loggers\.1: input should be 'tensorboard' or 'mlflow'.*'wandb'"):
        sciconv.load_pipeline("demo-signal", ["output.loggers=[mlflow, wandb]"])
    with pytest.raises(ConfigError, match="'mlflow' is repeated"):
        sciconv.load_pipeline("demo-signal", ["output.loggers=[mlflow, tensorboard, mlflow]"])
    assert sciconv.load_pipeline("demo-signal", ["output.loggers=mlflow"]).config.output.loggers == ["mlflow"]
    assert sciconv.load_pipeline("demo-signal").config.output.loggers == []


def test_names_are_made_valid_for_mlflow_and_the_config_flattened() -> None:
    assert mlflow_key("subject-03/val_accuracy") == "subject-03/val_accuracy"
    assert mlflow_key("fold 1/acc@5 (%)") == "fold 1/acc_5 ___"
    assert mlflow_key("/a//b/../c:d") == "a/b/_/c_d"
    assert mlflow_key("") == "_" and len(mlflow_key("x" * 400)) == 250
    flat = flatten_config({"train": {"epochs": 2, "lr": 0.003, "grad_clip": None}, "task": {"params": {}}, "n": "x"})
    assert flat == {"train.epochs": "2", "train.lr": "0.003", "train.grad_clip": "null", "task.params": "{}", "n": "x"}


class FakeLogger:
    def __init__(self, name: str, continuing: bool = False, fail_at: int | None = None) -> None:
        self.name, self.continuing, self.fail_at = name, continuing, fail_at
        self.epochs: list[tuple[str, int]] = []
        self.closed: str | None = None

    def log_epoch(self, record: Mapping[str, Any]) -> None:
        if record["epoch"] == self.fail_at:
            raise RuntimeError("server gone")
        self.epochs.append((record["fit"], record["epoch"]))

    def finish(self, metrics: Mapping[str, Any], plots: Sequence[str]) -> None:
        self.closed = "completed"

    def close(self, status: str) -> None:
        self.closed = status

    def describe(self) -> str:
        return self.name


def test_replayed_epochs_are_skipped_only_by_continuing_loggers_and_a_failing_one_is_dropped() -> None:
    old, new, failing = FakeLogger("old", continuing=True), FakeLogger("new"), FakeLogger("bad", fail_at=3)
    group = RunLoggers([old, new, failing], restored={"a": 2})
    records = [{"fit": "a", "epoch": e} for e in (1, 2, 3, 4)] + [{"fit": "b", "epoch": 1}]
    with pytest.warns(RuntimeWarning, match="bad failed logging epoch 3 .RuntimeError: server gone."):
        for record in records:
            group.log_epoch(record)
    assert old.epochs == [("a", 3), ("a", 4), ("b", 1)]
    assert new.epochs == [("a", 1), ("a", 2), ("a", 3), ("a", 4), ("b", 1)]
    assert failing.epochs == [("a", 1), ("a", 2)] and failing.closed == "failed"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        group.finish({}, [])
    assert old.closed == new.closed == "completed" and group.describe() == []
