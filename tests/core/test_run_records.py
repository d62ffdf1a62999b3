"""A run's records say what happened: resume overrides, scripted components, divergence, run folders."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import sciconv
from sciconv.cli import main
from sciconv.errors import ConfigError

SMALL = {
    "dataset.params.n_trials": 200,
    "train.epochs": 2,
    "train.early_stopping.patience": None,
    "train.progress": False,
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed two-epoch demo run, copied by the tests that change it."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    sciconv.run("demo-signal", overrides=SMALL, run_dir=run_dir)
    return run_dir


def copy_run(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


# --- resume applies exactly what it records ------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"dataset.params.n_trials": 400, "dataset.params.snr_db": 5}, ["dataset.params.n_trials=400 (was 200)"]),
        ({"train.lr": 0.1}, ["train.lr=0.1 (was 0.003)"]),
        ({"model.params.n_filters": 4}, ["model.params.n_filters=4"]),
        ({"train.seed": 3}, ["train.seed=3 (was 0)"]),
    ],
)
def test_resume_refuses_overrides_that_change_what_the_run_learns(
    finished_run: Path, tmp_path: Path, overrides: dict, named: list[str]
) -> None:
    run_dir = copy_run(finished_run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    with pytest.raises(ConfigError) as info:
        sciconv.run(resume=run_dir, overrides=overrides)
    message = str(info.value)
    assert all(text in message for text in named), message
    assert "start a new run" in message and f"pipeline run {run_dir / 'config.yaml'}" in message
    assert "\n" not in message
    assert {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()} == before, "nothing may change"


def test_resume_refusal_on_the_command_line_is_one_line_exit_2(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = copy_run(finished_run, tmp_path / "run")
    assert main(["run", "--resume", str(run_dir), "train.lr=0.1", "dataset.params.snr_db=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.lr=0.1 (was 0.003)" in err[0] and "dataset.params.snr_db=5" in err[0]


def test_scripted_resume_with_changed_settings_is_refused(finished_run: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished_run, tmp_path / "run")
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.config.train.lr = 0.5
    with pytest.raises(ConfigError, match=r"cannot change train\.lr=0\.5 \(was 0\.003\)"):
        pipe.run(resume=run_dir)


def test_resume_applies_and_records_safe_changes_with_their_epoch(finished_run: Path, tmp_path: Path) -> None:
    run_dir = copy_run(finished_run, tmp_path / "run")
    more = sciconv.run(resume=run_dir, overrides={"train.epochs": 4, "parallel.n_jobs": 2})
    assert [r["epoch"] for r in more.history] == [1, 2, 3, 4]
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 4 and saved["parallel"]["n_jobs"] == 2
    (resume,) = saved["record"]["resumes"]
    assert resume["changes"] == {"parallel.n_jobs": [1, 2], "train.epochs": [2, 4]}
    assert resume["after_epoch"] == {"model": 2}
    report = (run_dir / "report.md").read_text()
    assert "train.epochs 2 → 4" in report and "after epoch 2 of `model`" in report
    # a second resume keeps the first one's record
    sciconv.run(resume=run_dir, overrides={"train.epochs": 5})
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert [r["changes"] for r in saved["record"]["resumes"]] == [
        {"parallel.n_jobs": [1, 2], "train.epochs": [2, 4]},
        {"train.epochs": [4, 5]},
    ]
    assert saved["record"]["resumes"][1]["after_epoch"] == {"model": 4}
    # the config of a resumed run starts a new run with the final settings and no resume record
    again = sciconv.load_pipeline(run_dir / "config.yaml")
    assert again.config.train.epochs == 5 and "record" not in again.resolved_config()


# --- provenance of scripted components -------------------------------------------------------------


def test_registered_component_given_as_object_is_recorded_with_its_actual_parameters(tmp_path: Path) -> None:
    from sciconv_demo.datasets import OscillationDataset

    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.dataset = OscillationDataset(n_trials=100, snr_db=0.0)
    result = pipe.run(tmp_path / "run")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["dataset"]["name"] == "demo.oscillations"
    assert saved["dataset"]["params"]["n_trials"] == 100 and saved["dataset"]["params"]["snr_db"] == 0.0
    assert "record" not in saved
    report = (tmp_path / "run" / "report.md").read_text()
    assert "`n_trials=100`" in report and "`n_trials=200`" not in report
    splits = json.loads(json.dumps(result.metrics))  # the split sizes in the report add up to the recorded data
    assert splits
    line = next(row for row in report.splitlines() if row.startswith("- **Splits**"))
    assert sum(int(part.split()[-1]) for part in line.split(":", 1)[1].split(",")) == 100
    # repeatable from its config.yaml, with the recorded parameters
    repeat = sciconv.load_pipeline(tmp_path / "run" / "config.yaml")
    assert repeat.config.dataset.params["n_trials"] == 100


def test_component_from_an_importable_module_repeats_from_its_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mylab_data.py").write_text(
        textwrap.dedent(
            """
            from sciconv_demo.datasets import OscillationDataset


            class LabSignals(OscillationDataset):
                def __init__(self, n_trials: int = 100, snr_db: float = 0.0) -> None:
                    super().__init__(n_trials=n_trials, snr_db=snr_db)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import mylab_data  # type: ignore[import-not-found]

    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.dataset = mylab_data.LabSignals(n_trials=120)
    first = pipe.run(tmp_path / "a")
    saved = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert saved["dataset"] == {"name": "python:mylab_data:LabSignals", "params": {"n_trials": 120, "snr_db": 0.0}}
    second = sciconv.run(tmp_path / "a" / "config.yaml", run_dir=tmp_path / "b")
    assert second.metrics == first.metrics
    sys.modules.pop("mylab_data", None)


def test_component_defined_in_a_script_is_recorded_as_not_repeatable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sciconv_demo.datasets import OscillationDataset

    class MyDataset(OscillationDataset):
        def __init__(self, n_trials: int, snr_db: float, extra: object = None) -> None:
            super().__init__(n_trials=n_trials, snr_db=snr_db)

    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    pipe.dataset = MyDataset(n_trials=100, snr_db=0.0)
    pipe.run(tmp_path / "run")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["dataset"]["name"].startswith("python:") and saved["dataset"]["name"].endswith("MyDataset")
    assert saved["dataset"]["params"]["n_trials"] == 100
    why = saved["record"]["not_repeatable"]["dataset"]
    assert "defined inside a function" in why and "'extra'" in why
    report = (tmp_path / "run" / "report.md").read_text()
    assert "cannot be repeated from the command line" in report
    capsys.readouterr()
    assert main(["run", str(tmp_path / "run" / "config.yaml"), "output.root=" + str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert "cannot be built from it" in err and "unknown dataset" not in err and "pipe.dataset = " in err
    assert not (tmp_path / "again").exists()
    assert main(["run", "--resume", str(tmp_path / "run")]) == 2
    assert "resume it from Python" in capsys.readouterr().err


def test_assignments_to_a_scripted_pipeline_are_checked_at_once() -> None:
    pipe = sciconv.load_pipeline("demo-signal", SMALL)
    with pytest.raises(ConfigError, match=r"unknown parameter 'n_filterz' for model 'demo.cnn1d'; did you mean"):
        pipe.config.model.params["n_filterz"] = 4
    with pytest.raises(ConfigError, match=r"model\.params\.n_filters: expected an integer >= 1"):
        pipe.config.model.params = {"n_filters": 0}
    with pytest.raises(ConfigError, match=r"model\.params\.n_filters: expected an integer >= 1"):
        pipe.config.model.params.update(n_filters=0)
    with pytest.raises(ConfigError, match=r"dataset\.params\.n_trials: expected int"):
        pipe.config.dataset.params["n_trials"] = "many"
    with pytest.raises(ConfigError, match=r"unknown dataset 'demo.nope'"):
        pipe.config.dataset.name = "demo.nope"
    with pytest.raises(ConfigError, match=r"train\.lr: input should be a valid number"):
        pipe.config.train.lr = "fast"  # type: ignore[assignment]
    with pytest.raises(ConfigError, match=r"pipe\.dataset: expected an object with a load\(\) method"):
        pipe.dataset = 3
    assert pipe.config.model.params["n_filters"] == 16, "refused changes are not made"
    pipe.config.model.params["n_filters"] = 8
    assert pipe.resolved_config()["model"]["params"]["n_filters"] == 8


# --- divergence ------------------------------------------------------------------------------------


def test_diverged_training_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    args = ["demo-signal", "train.lr=1e8", "dataset.params.n_trials=200", "train.progress=false"]
    code = main(["run", *args, "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert "diverged at epoch 1" in err and "learning rate" in err and "train.lr=1e+08" in err
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "TrainingDivergedError" in status["error"]
    assert not (run_dir / "metrics.json").exists(), "a diverged run reports no result"
    assert (run_dir / "history.csv").read_text().count("\n") >= 2, "the diverged epoch is on record"


# --- run folders -----------------------------------------------------------------------------------


def test_unusable_run_dir_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["run", "demo-signal", "--run-dir", str(blocker / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --run-dir {blocker / 'run'}: cannot create it: {blocker} is a file, not a directory"
    assert main(["run", "demo-signal", f"output.root={blocker}"]) == 2
    assert "output.root=" in capsys.readouterr().err


def test_unwritable_run_dir_is_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    import sciconv.rundir

    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        sciconv.rundir.os, "access", lambda path, mode: False if Path(path) == locked else real_access(path, mode)
    )
    assert main(["run", "demo-signal", "--run-dir", str(locked)]) == 2
    assert capsys.readouterr().err.strip() == f"error: --run-dir {locked}: {locked} is not writable by this user"


def test_failed_run_leaves_no_empty_folders(tmp_path: Path) -> None:
    class Failing(sciconv.TaskBase):
        def run(self, ctx: object) -> sciconv.TaskResult:
            raise RuntimeError("boom")

    root = tmp_path / "runs"
    pipe = sciconv.load_pipeline("demo-signal", {**SMALL, "output.root": str(root)})
    pipe.task = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        pipe.run()
    assert not root.exists(), "the folders the run made are removed with it"
    root.mkdir()
    (root / "demo-signal").mkdir()
    (root / "demo-signal" / "keep.txt").write_text("someone else's")
    with pytest.raises(RuntimeError, match="boom"):
        pipe.run()
    assert sorted(p.name for p in (root / "demo-signal").iterdir()) == ["keep.txt"]
