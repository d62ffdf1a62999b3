"""The plugin's own conformance test, as a plugin author writes it.

After ``pip install -e examples/third_party_plugin`` the entry point registers the plugin ``ecg`` and
:func:`sciconv.testing.check_plugin` checks it as installed. From a source checkout where the example
is not installed (pytest puts it on ``sys.path``, see ``__init__.py``), the fixture registers its hook
module in process, under the same name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from sciconv.registry import get_registry
from sciconv.testing import check_plugin, registered_plugin

SMALL = {"ecg-beats": {"dataset.params.n_beats": 120}}


@pytest.fixture(scope="module")
def ecg_plugin() -> Iterator[str]:
    """The name of the registered ECG plugin (installed, or registered in process for the module)."""
    if "ecg" in get_registry().plugins:
        yield "ecg"
        return
    module = importlib.import_module("sciconv_ecg.plugin")
    with registered_plugin(module, "ecg"):
        yield "ecg"


def test_check_plugin(ecg_plugin: str) -> None:
    # validates the pipeline, checks each component, then runs ecg-beats twice on its tiny overrides
    report = check_plugin(ecg_plugin, pipeline_overrides=SMALL)
    assert report.pipelines == ["ecg-beats"]
    assert report.datasets == ["ecg.beats"]
    assert report.models == ["ecg.beat-cnn"]
    assert report.tasks == ["ecg.beat-classification"]
    assert list(report.runs) == ["ecg-beats"]
    metrics = report.runs["ecg-beats"]
    for key in ("test.accuracy", "test.auc", "baseline.qrs_width.accuracy"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["baseline.majority.accuracy"] == 0.75  # 30 of the 120 tiny beats are PVCs


def test_registered_hooks_and_names(ecg_plugin: str) -> None:
    registry = get_registry()
    info = registry.plugins[ecg_plugin]
    assert info.error is None
    assert sorted(info.hooks) == ["register_datasets", "register_models", "register_pipelines", "register_tasks"]
    owned = {
        kind: sorted(n for n, e in entries.items() if e.plugin == ecg_plugin)
        for kind, entries in registry.entries.items()
    }
    assert owned == {
        "datasets": ["ecg.beats"],
        "models": ["ecg.beat-cnn"],
        "tasks": ["ecg.beat-classification"],
        "pipelines": ["ecg-beats"],
        "conv_backends": [],
    }
    tiny = registry.entries["pipelines"]["ecg-beats"].tiny
    assert tiny == {"dataset.params.n_beats": 120, "train.epochs": 1, "train.progress": False}


def test_a_trained_run_classifies_new_beats(ecg_plugin: str, tmp_path: Path) -> None:
    import sciconv

    run = sciconv.run("ecg-beats", {"dataset.params.n_beats": 120, "train.epochs": 1}, run_dir=tmp_path / "run")
    prediction = sciconv.load_run(run.run_dir).predict({"dataset.params.n_beats": 80, "dataset.params.seed": 9})
    table = prediction.tables["predictions"]
    assert len(table) == 80
    assert {"beat", "cnn", "pvc_score", "qrs_width_ms", "qrs_width_call", "label"} <= set(table.columns)
    assert 0.0 <= prediction.metrics["all.accuracy"] <= 1.0
