"""A run killed mid-training continues with --resume and ends with the same numbers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from sciconv.checkpoint import latest_checkpoint

# Slow enough per epoch (about 0.1-0.3 s here) to be killed mid-way, short enough for the suite.
OVERRIDES = [
    "train.epochs=8",
    "train.early_stopping.patience=null",
    "dataset.params.n_trials=1600",
    "train.progress=false",
]


def pipeline(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sciconv", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_killed_run_resumes_to_identical_metrics(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    reference = tmp_path / "reference"
    done = pipeline("run", "demo-signal", *OVERRIDES, "--run-dir", str(reference), env=subprocess_env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sciconv", "run", "demo-signal", *OVERRIDES, "--run-dir", str(killed)],
        env=subprocess_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt_dir = killed / "checkpoints" / "model"
    deadline = time.monotonic() + 120
    while not (ckpt_dir / "epoch-000003").exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists(), "the run finished before the kill: not a mid-training test"
    last = latest_checkpoint(ckpt_dir)  # verifies hashes: the kill left no corrupt checkpoint
    assert last is not None and 3 <= last.epoch < 8
    assert not any(p.name.startswith(".tmp") for p in ckpt_dir.iterdir() if p.name.startswith(".tmp-epoch"))

    resumed = pipeline("run", "--resume", str(killed), env=subprocess_env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    expected = json.loads((reference / "metrics.json").read_text())
    got = json.loads((killed / "metrics.json").read_text())
    assert got == expected
    status = json.loads((killed / "status.json").read_text())
    assert status["status"] == "completed"
    history = (killed / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 8  # header + every epoch once, restored ones included
    assert "Resumed" in (killed / "report.md").read_text()


def test_resume_with_more_epochs_continues_training(tmp_path: Path) -> None:
    import sciconv

    first = sciconv.run(
        "demo-signal",
        {
            "train.epochs": 2,
            "train.early_stopping.patience": None,
            "dataset.params.n_trials": 200,
            "train.progress": False,
        },
        run_dir=tmp_path / "run",
    )
    assert first.history[-1]["epoch"] == 2
    more = sciconv.run(resume=tmp_path / "run", overrides={"train.epochs": 4})
    assert [r["epoch"] for r in more.history] == [1, 2, 3, 4]
    assert more.history[:2] == first.history
