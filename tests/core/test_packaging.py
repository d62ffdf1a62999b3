"""A non-editable install ships the pipelines: `pipeline run` works from any directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [f for f in out.stdout.splitlines() if (REPO / f).is_file()]


def test_wheel_install_runs_pipelines_from_elsewhere(tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    source = tmp_path / "src"
    for rel in _tracked_files():
        if rel.startswith(("tests/", "examples/", "benchmarks/")):
            continue
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, source / rel)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        env=subprocess_env,
    )
    (wheel,) = wheels.glob("sciconv-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "sciconv/pipelines/demo-signal.yaml" in names
    assert "sciconv_demo/plugin.py" in names and "sciconv/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[sciconv]" in text and "demo = sciconv_demo.plugin" in text and "pipeline = sciconv.cli:main" in text

    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        env=subprocess_env,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**subprocess_env, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import sciconv, sciconv_demo; print(sciconv.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(site)), "the installed copy, not the source tree, must be used"
    script = site / "bin" / "pipeline"
    listed = subprocess.run(
        [sys.executable, str(script), "list"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert "demo-signal" in listed.stdout
    run = subprocess.run(
        [
            sys.executable,
            str(script),
            "run",
            "demo-signal",
            "train.epochs=1",
            "dataset.params.n_trials=100",
            "--run-dir",
            "out",
        ],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((elsewhere / "out" / "metrics.json").read_text())
    assert 0.0 <= metrics["test.accuracy"] <= 1.0
    assert not (REPO / "build").exists() or os.environ.get("CI") is None
