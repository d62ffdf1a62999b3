"""`pipeline predict` for the SSVEP speller: the run's fold models applied again, to its own test blocks (its
metrics exactly) and to new recordings, labelled or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import sciconv
from sciconv import DataBundle
from sciconv.errors import DataError
from sciconv.registry import get_registry
from sciconv_bci_ssvep.datasets import bundle_from
from sciconv_bci_ssvep.mat_io import read_benchmark
from sciconv_bci_ssvep.ssvep_simulator import simulate_benchmark

# The registered tiny run, with two subjects and two folds so that standard errors and per-fold models count.
TINY = {
    **get_registry().entry("pipelines", "bci-ssvep").tiny,
    "dataset.params.n_subjects": 2,
    "task.params.test_blocks": [0, 1],
    "task.params.windows": [0.3, 0.5],
}


@pytest.fixture(scope="module", autouse=True)
def simulation_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cache")
        mp.setenv("SCICONV_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def run_dir(simulation_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = sciconv.run("bci-ssvep", overrides=TINY, run_dir=tmp_path_factory.mktemp("ssvep") / "run")
    return result.run_dir


def test_predict_on_the_test_blocks_reproduces_the_runs_metrics(run_dir: Path) -> None:
    expected = json.loads((run_dir / "metrics.json").read_text())
    prediction = sciconv.load_run(run_dir).predict(split="test")
    keys = [f"{m}.{k}@{t}" for m in ("dnn", "dnn_stage1", "fbcca", "etrca") for k in ("acc", "itr") for t in (0.3, 0.5)]
    keys += [f"dnn.acc_se@{t}" for t in (0.3, 0.5)] + ["n_subjects", "n_folds"]
    assert set(keys) <= set(prediction.metrics)
    assert {k: prediction.metrics[k] for k in prediction.metrics} == {k: expected[k] for k in prediction.metrics}
    table = prediction.tables["predictions"]
    assert len(table) == 2 * 2 * 40  # the held-out blocks 0 and 1 of both subjects, one row per trial
    assert (table["fold@0.3"] == table["block"]).all(), "each block is predicted by the models of its own fold"
    assert (table["dnn_stage@0.5"] == 2).all()


def test_predict_on_new_recordings_uses_the_last_folds_models(run_dir: Path, tmp_path: Path) -> None:
    run = sciconv.load_run(run_dir)
    prediction = run.predict({"dataset.params.seed": 5}, out=tmp_path / "out")
    table = prediction.tables["predictions"]
    assert len(table) == 2 * 3 * 40  # every trial of the new recordings
    assert list(table.columns[:6]) == ["trial", "subject", "block", "session", "target", "target_hz"]
    for window in ("0.3", "0.5"):
        for method in ("dnn", "dnn_stage1", "fbcca", "etrca"):
            assert table[f"{method}@{window}"].between(0, 39).all()
            assert np.allclose(
                table[f"{method}_hz@{window}"],
                8.0 + (table[f"{method}@{window}"] % 8) + 0.2 * (table[f"{method}@{window}"] // 8),
            )
        assert (table[f"fold@{window}"] == 1).all()
    assert 0.0 <= prediction.metrics["all.fbcca.acc@0.5"] <= 1.0
    assert (tmp_path / "out" / "predictions.csv").is_file() and (tmp_path / "out" / "report.md").is_file()


class _Unlabelled:
    """New sessions whose targets are unknown (target -1), from a subject the run never saw."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self) -> DataBundle:
        if not self.root.is_dir():
            simulate_benchmark(self.root, n_subjects=1, seed=9, n_blocks=2)
        recording = read_benchmark(self.root)
        recording.epochs.load_data()
        recording.epochs.metadata["target"] = -1
        recording.epochs.metadata["subject"] = "new-subject"
        return bundle_from(recording)


def test_unlabelled_recordings_of_a_new_subject_are_predicted(run_dir: Path, tmp_path: Path) -> None:
    prediction = sciconv.load_run(run_dir).predict(_Unlabelled(tmp_path / "new"))
    table = prediction.tables["predictions"]
    assert len(table) == 2 * 40 and prediction.metrics == {}
    assert "target" not in table.columns
    assert (table["dnn_stage@0.3"] == 1).all(), "no fine-tuned model for a new subject: the global model"
    assert table["dnn@0.3"].equals(table["dnn_stage1@0.3"].astype(table["dnn@0.3"].dtype))
    assert table["etrca@0.3"].isna().all(), "TRCA has no templates for a new subject"
    assert table["fbcca@0.3"].between(0, 39).all()


def test_other_channels_are_refused_naming_both_sides(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"trained on 9 channels Pz\.\.O2 .*these data have 3 channels O1,Oz,O2"):
        sciconv.load_run(run_dir).predict(
            {"dataset.params.channels": ["O1", "OZ", "O2"]}, write=True, out=tmp_path / "out"
        )
    assert not (tmp_path / "out").exists()


def test_a_window_longer_than_the_new_epochs_is_refused(run_dir: Path, tmp_path: Path) -> None:
    class Short:
        def load(self) -> DataBundle:
            bundle = _Unlabelled(tmp_path / "new").load()
            recording = bundle.info["recording"]
            recording.epochs.crop(tmax=recording.epochs.tmin + 1.0, include_tmax=False)
            return bundle_from(recording)

    with pytest.raises(DataError, match=r"T = 0\.5 s"):
        sciconv.load_run(run_dir).predict(Short(), write=True, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
