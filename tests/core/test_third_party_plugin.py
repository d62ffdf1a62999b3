"""The third-party plugin example (``examples/third_party_plugin``, distribution ``sciconv-ecg``).

It is installed for real with pip into a temporary directory and used through ``python -m sciconv``
exactly as a user would after ``pip install``; and its hook module is registered in process, the way
a plugin's own test suite may do it, for the conformance kit and a short run.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import sciconv
from sciconv.registry import extra_plugin, get_registry, reset_registry
from sciconv.testing import check_plugin

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "third_party_plugin"
VERSION = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["version"]
HOOKS = ["register_datasets", "register_models", "register_pipelines", "register_tasks"]


def _sciconv(args: list[str], site: Path, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m sciconv ARGS`` with the install target on PYTHONPATH and strict plugin loading."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    env["SCICONV_STRICT_PLUGINS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "sciconv", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed with pip into a fresh target directory (built from a copy, so that no
    build/ or egg-info is left in the repository)."""
    tmp = tmp_path_factory.mktemp("ecg-install")
    source = tmp / "sciconv-ecg"
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache", "runs")
    )
    before = sorted(p.name for p in EXAMPLE.iterdir())
    target = tmp / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
    assert sorted(p.name for p in EXAMPLE.iterdir()) == before
    return target


def test_install_ships_package_data_and_entry_point(site: Path, tmp_path: Path) -> None:
    assert (site / "sciconv_ecg" / "pipelines" / "ecg-beats.yaml").is_file()
    (dist_info,) = site.glob("sciconv_ecg-*.dist-info")
    assert re.search(r"^ecg\s*=\s*sciconv_ecg\.plugin$", (dist_info / "entry_points.txt").read_text(), re.M)
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "import sciconv_ecg; print(sciconv_ecg.__file__); print(sciconv_ecg.__version__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    path, version = out.stdout.split()
    assert Path(path).resolve().is_relative_to(site.resolve())  # the installed copy, not the repository's
    assert version == VERSION


def test_pipeline_plugins_shows_the_installed_plugin(site: Path, tmp_path: Path) -> None:
    proc = _sciconv(["plugins", "--json"], site, tmp_path)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    ecg = plugins["ecg"]
    assert ecg["error"] is None
    assert ecg["version"] == VERSION
    assert re.sub(r"[-_.]+", "-", ecg["distribution"]).lower() == "sciconv-ecg"
    assert ecg["module"] == "sciconv_ecg.plugin"
    assert ecg["hooks"] == HOOKS
    assert ecg["contributes"] == {
        "datasets": ["ecg.beats"],
        "models": ["ecg.beat-cnn"],
        "tasks": ["ecg.beat-classification"],
        "pipelines": ["ecg-beats"],
        "conv_backends": [],
    }


def test_pipeline_list_shows_the_installed_pipeline(site: Path, tmp_path: Path) -> None:
    proc = _sciconv(["list"], site, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.split()[:1] == ["ecg-beats"]]
    assert line.split()[1] == "ecg"
    assert "PVC" in line or "premature ventricular" in line


def test_pipeline_run_of_the_installed_plugin(site: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = _sciconv(["run", "ecg-beats", "train.epochs=2", "--run-dir", str(run_dir)], site, tmp_path)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    for name in ("metrics.json", "report.md", "config.yaml", "history.csv", "plots/training_curves.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "checkpoints").is_dir()
    assert list((run_dir / "checkpoints").rglob("*.safetensors"))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("test.accuracy", "test.sensitivity", "test.specificity", "test.auc", "baseline.qrs_width.accuracy"):
        assert 0.0 <= metrics[key] <= 1.0, key
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["name"], config["train"]["epochs"], config["dataset"]["name"]) == ("ecg-beats", 2, "ecg.beats")
    with (run_dir / "history.csv").open() as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [1, 2]
    assert "QRS width >" in (run_dir / "report.md").read_text()
    assert not (tmp_path / "runs").exists()


def test_in_process_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in [m for m in sys.modules if m == "sciconv_ecg" or m.startswith("sciconv_ecg.")]:
        module_file = getattr(sys.modules[name], "__file__", None)
        if module_file is None or not Path(module_file).resolve().is_relative_to(EXAMPLE):
            monkeypatch.delitem(sys.modules, name)  # imported from elsewhere (an installed copy)
    installed = "ecg" in get_registry().plugins
    if installed:  # the example is also pip-installed here: test the repository's module alone
        get_registry().remove_plugin("ecg")
    module = importlib.import_module("sciconv_ecg.plugin")
    assert Path(module.__file__).resolve().is_relative_to(EXAMPLE)
    try:
        with extra_plugin(module, "ecg"):
            report = check_plugin("ecg", pipeline_overrides={"ecg-beats": {"dataset.params.n_beats": 120}})
            result = sciconv.run("ecg-beats", overrides={"train.epochs": 1}, run_dir=tmp_path / "r")
        assert "ecg" not in get_registry().plugins
    finally:
        if installed:
            reset_registry()  # the next lookup rediscovers the installed plugin
    assert (report.datasets, report.models, report.tasks) == (
        ["ecg.beats"],
        ["ecg.beat-cnn"],
        ["ecg.beat-classification"],
    )
    assert report.pipelines == ["ecg-beats"]
    assert result.run_dir == tmp_path / "r"
    assert 0.0 <= result.metrics["test.accuracy"] <= 1.0
    assert 0.0 <= result.metrics["test.auc"] <= 1.0
    assert result.metrics["baseline.qrs_width.threshold_ms"] > 0.0
    assert len(result.history) == 1
    assert result.model is not None
