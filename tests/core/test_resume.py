"""A run killed mid-training continues with --resume and ends with the same numbers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


@pytest.fixture(scope="module")
def reference_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The metrics of the uninterrupted run that the interrupted ones must end with."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "SCICONV_STRICT_PLUGINS"} | {"PYTHONUNBUFFERED": "1"}
    work = tmp_path_factory.mktemp("reference")
    done = pipeline("run", "demo-signal", *OVERRIDES, "--run-dir", str(work / "run"), env=env, cwd=work)
    assert done.returncode == 0, done.stderr
    return json.loads((work / "run" / "metrics.json").read_text())


def test_killed_run_resumes_to_identical_metrics(
    tmp_path: Path, subprocess_env: dict[str, str], reference_metrics: dict
) -> None:

    killed = tmp_path / "killed"
    proc = _start_and_wait_for_checkpoint(killed, subprocess_env, tmp_path, epoch=3)
    ckpt_dir = killed / "checkpoints" / "model"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (killed / "metrics.json").exists(), "the run finished before the kill: not a mid-training test"
    last = latest_checkpoint(ckpt_dir)  # verifies hashes: the kill left no corrupt checkpoint
    assert last is not None and 3 <= last.epoch < 8

    (ckpt_dir / ".tmp-epoch-000004-leftover").mkdir()  # what a kill during a checkpoint write leaves

    resumed = pipeline("run", "--resume", str(killed), env=subprocess_env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert not [p for p in ckpt_dir.iterdir() if p.name.startswith(".")], "resume must clear stale temporaries"
    got = json.loads((killed / "metrics.json").read_text())
    assert got == reference_metrics
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


def test_resume_continues_the_learning_rate_schedule(tmp_path: Path) -> None:
    import sciconv

    overrides = {
        "train.epochs": 4,
        "train.scheduler.name": "cosine",
        "train.early_stopping.patience": None,
        "dataset.params.n_trials": 200,
        "train.progress": False,
    }
    whole = sciconv.run("demo-signal", overrides, run_dir=tmp_path / "whole")
    sciconv.run("demo-signal", {**overrides, "train.epochs": 2}, run_dir=tmp_path / "split")
    # resumed to 4 epochs, the schedule continues at epoch 3 of a 4-epoch cosine (it does not restart at lr)
    resumed = sciconv.run(resume=tmp_path / "split", overrides={"train.epochs": 4})
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert [r["lr"] for r in resumed.history[2:]] == [r["lr"] for r in whole.history[2:]]
    assert resumed.history[2]["lr"] < whole.history[0]["lr"]
    assert [r["lr"] for r in whole.history] == sorted((r["lr"] for r in whole.history), reverse=True)


def _start_and_wait_for_checkpoint(
    run_dir: Path, env: dict[str, str], cwd: Path, epoch: int, *extra: str
) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sciconv", "run", "demo-signal", *OVERRIDES, "--run-dir", str(run_dir), *extra],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (run_dir / "checkpoints" / "model" / f"epoch-{epoch:06d}").exists():
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    return proc


def test_ctrl_c_marks_the_run_interrupted_and_says_how_to_resume(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    run_dir = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(run_dir, subprocess_env, tmp_path, epoch=2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in stderr
    assert f"--resume {run_dir}" in stderr
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted"
    assert latest_checkpoint(run_dir / "checkpoints" / "model") is not None


def test_sigterm_is_handled_like_ctrl_c_and_the_run_resumes_identically(
    tmp_path: Path, subprocess_env: dict[str, str], reference_metrics: dict
) -> None:
    """SIGTERM (how SLURM, Kubernetes and kill stop a job): interrupted, signal named, exit 143, resumable."""
    run_dir = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(run_dir, subprocess_env, tmp_path, epoch=3)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr and "interrupted (stopped by SIGTERM)" in stderr
    assert f"--resume {run_dir}" in stderr
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == "SIGTERM"
    resumed = pipeline("run", "--resume", str(run_dir), env=subprocess_env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "metrics.json").read_text()) == reference_metrics


def _live_descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (from /proc), zombies excluded."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _still_alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.add(pid)
        except (OSError, IndexError):
            continue
    return alive


def test_sigterm_under_nproc_stops_every_rank_and_the_run_resumes(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    run_dir = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(run_dir, subprocess_env, tmp_path, 2, "--nproc", "2")
    workers = _live_descendants(proc.pid)
    assert len(workers) >= 2, "the ranks run below the launcher"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted (stopped by SIGTERM)" in stderr and f"--resume {run_dir}" in stderr
    assert "Traceback" not in stderr and "death signal" not in stderr
    time.sleep(1.0)
    assert not _still_alive(workers), "no rank outlives the launcher"
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "interrupted" and status["signal"] == "SIGTERM"
    resumed = pipeline("run", "--resume", str(run_dir), "--nproc", "2", env=subprocess_env, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "status.json").read_text())["status"] == "completed"
    assert len((run_dir / "history.csv").read_text().splitlines()) == 1 + 8


JOBS_SCRIPT = """
import os, sys, time
import sciconv
from sciconv.parallel import Job


def slow_job(i, pid_file):
    with open(pid_file, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    time.sleep(120)
    return i


class JobsTask(sciconv.TaskBase):
    def run(self, ctx):
        ctx.load_data()
        ctx.run_jobs(slow_job, [Job(f"job{i}", (i, sys.argv[1])) for i in range(4)])
        return sciconv.TaskResult(metrics={"done": 1.0})


pipe = sciconv.load_pipeline("demo-signal", {"parallel.n_jobs": 2, "dataset.params.n_trials": 60})
pipe.task = JobsTask()
pipe.run(sys.argv[2])
"""


def test_sigterm_leaves_no_job_worker_behind(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    script = tmp_path / "jobs.py"
    script.write_text(JOBS_SCRIPT)
    pid_file = tmp_path / "pids"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pid_file), str(tmp_path / "run")],
        env=subprocess_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (pid_file.exists() and len(pid_file.read_text().split()) >= 2):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    workers = {int(p) for p in pid_file.read_text().split()}
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert "RunInterrupted: stopped by SIGTERM" in stderr
    deadline = time.monotonic() + 10
    while _still_alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _still_alive(workers), "the joblib workers were stopped with the run"


def test_tampered_checkpoint_is_one_clear_cli_error(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    run_dir = tmp_path / "run"
    proc = _start_and_wait_for_checkpoint(run_dir, subprocess_env, tmp_path, epoch=2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    last = latest_checkpoint(run_dir / "checkpoints" / "model")
    (last.path / "state.pt").write_bytes(b"\x80\x04not a checkpoint")
    resumed = subprocess.run(
        [sys.executable, "-m", "sciconv", "run", "--resume", str(run_dir)],
        env=subprocess_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 1
    errors = [line for line in resumed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "state.pt" in errors[0] and "SHA-256 does not match" in errors[0]
    assert "Traceback" not in resumed.stderr
    assert not (run_dir / "metrics.json").exists()
