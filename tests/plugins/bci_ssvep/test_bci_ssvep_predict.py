"""`pipeline predict` for the SSVEP speller: the run's fold models applied again, to its own test blocks (its
metrics exactly) and to new recordings, labelled or not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mne
import numpy as np
import pytest

import sciconv
from sciconv import DataBundle
from sciconv.errors import ConfigError, DataError
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


# ----------------------------------------------------------------------------------------------------
# Unlabelled recordings read by bci-ssvep.mne-recordings: trial-onset events without target codes, or none

EXO_SFREQ = 256.0
EXO_CHANNELS = ["O1", "Oz", "O2"]
# Stimulus of each exoskeleton event code (mne_io.EXOSKELETON_EVENTS: rest 1, 13 Hz 2, 21 Hz 3, 17 Hz 4).
EXO_HZ = {1: None, 2: 13.0, 3: 21.0, 4: 17.0}
TRIAL_START = 32  # an onset marker that names no target


def _exo_raw(codes: list[int], seed: int) -> tuple[mne.io.RawArray, list[int]]:
    """A continuous recording of 5-s trials every 6 s from 2 s on, each carrying its code's 20 µV sinusoid (none
    for rest, and none for the code TRIAL_START); returns it with each trial's onset sample."""
    rng = np.random.default_rng(seed)
    n = int((2 + 6 * len(codes) + 1) * EXO_SFREQ)
    data = rng.normal(0, 2e-6, (len(EXO_CHANNELS), n))
    t = np.arange(n) / EXO_SFREQ
    onsets = []
    for i, code in enumerate(codes):
        start = int((2 + 6 * i) * EXO_SFREQ)
        onsets.append(start)
        hz = EXO_HZ[code] if code in EXO_HZ else (13.0, 17.0, 21.0)[i % 3] if code == TRIAL_START else None
        if hz is not None:
            span = slice(start, start + int(5 * EXO_SFREQ))
            data[:, span] += 20e-6 * np.sin(2 * np.pi * hz * (t[span] - t[start]))
    raw = mne.io.RawArray(data, mne.create_info(EXO_CHANNELS, EXO_SFREQ, "eeg"), verbose="error")
    return raw, onsets


def _write_exo_stim(path: Path, codes: list[int], seed: int, stim: bool = True) -> None:
    """A FIF recording with a stim channel carrying ``codes`` at the trial onsets (``stim=False``: no events)."""
    raw, onsets = _exo_raw(codes, seed)
    if stim:
        channel = np.zeros((1, raw.n_times))
        for sample, code in zip(onsets, codes, strict=True):
            channel[0, sample : sample + 5] = code
        raw.add_channels(
            [mne.io.RawArray(channel, mne.create_info(["STI 014"], EXO_SFREQ, "stim"), verbose="error")],
            force_update_info=True,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, overwrite=True, verbose="error")


def _write_exo_annotations(path: Path, n_trials: int, seed: int) -> None:
    """A FIF recording whose trial onsets are annotations "trial" (no code), after BrainVision's segment marker."""
    raw, onsets = _exo_raw([TRIAL_START] * n_trials, seed)
    times = [0.0] + [s / EXO_SFREQ for s in onsets]
    raw.set_annotations(mne.Annotations(times, [0.0] * len(times), ["New Segment/"] + ["trial"] * n_trials))
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, overwrite=True, verbose="error")


EXO_CODES = [1, 2, 3, 4, 2, 4, 3, 1]  # two trials of each class per session
EXO_TINY = {**get_registry().entry("pipelines", "bci-ssvep-exo").tiny, "output.plots": False}


@pytest.fixture(scope="module")
def exo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny bci-ssvep-exo run on two labelled sessions of subject01."""
    root = tmp_path_factory.mktemp("exo")
    for session in range(2):
        _write_exo_stim(root / "subject01" / f"session{session}_raw.fif", EXO_CODES, seed=session)
    overrides = {**EXO_TINY, "dataset.params.root": str(root)}
    result = sciconv.run("bci-ssvep-exo", overrides=overrides, run_dir=tmp_path_factory.mktemp("exo-run") / "run")
    return result.run_dir


def test_unlabelled_trial_onsets_are_predicted_without_labels_or_metrics(exo_run: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    _write_exo_stim(new / "subject01" / "free0_raw.fif", [TRIAL_START] * 5, seed=7)  # onsets only, no target
    _write_exo_annotations(new / "subject01" / "free1_raw.fif", 4, seed=8)  # onsets as annotations
    _write_exo_stim(new / "subject02" / "free0_raw.fif", [TRIAL_START] * 3, seed=9)  # a subject the run never saw
    prediction = sciconv.load_run(exo_run).predict(
        {"dataset.params.root": str(new), "dataset.params.unlabelled": True}, out=tmp_path / "out"
    )
    table = prediction.tables["predictions"]
    assert prediction.metrics == {}
    assert len(table) == 5 + 4 + 3, "one row per trial onset; the segment marker is no trial"
    assert (
        table["session"].tolist()
        == ["subject01/free0_raw.fif"] * 5 + ["subject01/free1_raw.fif"] * 4 + ["subject02/free0_raw.fif"] * 3
    )
    assert not {"target", "target_hz"} & set(table.columns)
    assert table["dnn@1"].between(0, 3).all() and table["fbcca@1"].between(0, 3).all()
    assert table["dnn_stage@1"].tolist() == [2] * 9 + [1] * 3
    header = (tmp_path / "out" / "predictions.csv").read_text().splitlines()[0].split(",")
    assert "target" not in header and "dnn@1" in header
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_unlabelled_codes_can_be_chosen_and_recordings_without_events_cut_by_stride(
    exo_run: Path, tmp_path: Path
) -> None:
    new = tmp_path / "new"
    _write_exo_stim(new / "subject01" / "a_raw.fif", [TRIAL_START, 9, TRIAL_START, 9], seed=3)
    by_code = sciconv.load_run(exo_run).predict(
        {"dataset.params.root": str(new), "dataset.params.unlabelled": True, "dataset.params.trial_codes": [32]}
    )
    assert len(by_code.tables["predictions"]) == 2 and by_code.metrics == {}

    quiet = tmp_path / "quiet"
    _write_exo_stim(quiet / "subject01" / "a_raw.fif", [1] * 4, seed=4, stim=False)  # 27 s, no events at all
    strided = sciconv.load_run(exo_run).predict(
        {"dataset.params.root": str(quiet), "dataset.params.unlabelled": True, "dataset.params.stride": 5.0}
    )
    assert len(strided.tables["predictions"]) == 5  # epochs of 5 s at 0, 5, ..., 20 s in 27 s
    assert "target" not in strided.tables["predictions"].columns and strided.metrics == {}


def test_unlabelled_recordings_need_the_option_and_stride_needs_unlabelled(exo_run: Path, tmp_path: Path) -> None:
    new = tmp_path / "new"
    _write_exo_stim(new / "subject01" / "a_raw.fif", [TRIAL_START] * 2, seed=3)
    with pytest.raises(DataError, match=r"a_raw.fif: no events with the codes of event_id .*dataset.params.unlabelled"):
        sciconv.load_run(exo_run).predict({"dataset.params.root": str(new)})
    quiet = tmp_path / "quiet"
    _write_exo_stim(quiet / "subject01" / "a_raw.fif", [1] * 2, seed=4, stim=False)
    with pytest.raises(DataError, match=r"a_raw.fif: no events: .*dataset.params.stride"):
        sciconv.load_run(exo_run).predict({"dataset.params.root": str(quiet), "dataset.params.unlabelled": True})
    with pytest.raises(ConfigError, match=r"dataset.params.stride .*dataset.params.unlabelled=true"):
        sciconv.load_run(exo_run).predict({"dataset.params.root": str(quiet), "dataset.params.stride": 5.0})


def test_a_run_on_unlabelled_recordings_is_refused_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from sciconv import cli

    root = tmp_path / "new"
    for session in range(2):
        _write_exo_stim(root / "subject01" / f"s{session}_raw.fif", [TRIAL_START] * 3, seed=session)
    args = [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in EXO_TINY.items()]
    args += [f"dataset.params.root={root}", "dataset.params.unlabelled=true", f"output.root={tmp_path / 'runs'}"]
    code = cli.main(["run", "bci-ssvep-exo", *args])
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("running ")]
    assert code == 1 and len(errors) == 1 and errors[0].startswith("error: "), errors
    err = errors[0]
    assert "6 of 6 trials have no target" in err, err
    assert "dataset.params.unlabelled=true" in err and "pipeline predict" in err
