"""The DNN's input options: spectral inputs (phase-free magnitude, complex), cropped windows, averaged crops;
and the speller run with them on recordings whose responses are not phase-locked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import sciconv
from sciconv_bci_ssvep.dnn_inputs import (
    CropPool,
    average_softmax,
    cropped_windows,
    dnn_features,
    evenly_spaced_starts,
    n_features,
    spectral_grid,
    training_crops,
)
from sciconv_bci_ssvep.recording import SSVEPRecording, build_epochs

SFREQ = 256.0


def _sines(phases: np.ndarray, freq: float = 13.0, seconds: float = 2.0) -> np.ndarray:
    t = np.arange(round(seconds * SFREQ)) / SFREQ
    return np.stack([[10 * np.sin(2 * np.pi * freq * t + p)] * 2 for p in phases])  # (n, 2 channels, N)


def test_magnitude_spectra_ignore_the_phase_and_peak_at_the_frequency() -> None:
    x = _sines(np.array([0.0, 1.0, 2.5]))
    feats = dnn_features(x, SFREQ, 2, "magnitude", (5.0, 40.0), 0.5)
    _, keep = spectral_grid(x.shape[-1], SFREQ, (5.0, 40.0), 0.5)
    freqs = np.fft.rfftfreq(max(x.shape[-1], 512), 1 / SFREQ)[keep]
    assert feats.shape == (3, 2, 2, int(keep.sum())) and feats.dtype == np.float32
    assert abs(freqs[feats[0, 0, 0].argmax()] - 13.0) < 0.5
    near = np.abs(freqs - 13.0) <= 1.0  # phase-free where the response is (far bins hold only leakage)
    for a, b in ((0, 1), (0, 2)):  # the same spectral shape at any phase (the z-score's offset aside)
        assert np.corrcoef(feats[a][..., near].ravel(), feats[b][..., near].ravel())[0, 1] > 0.99
    assert (feats.argmax(axis=-1) == feats[0, 0, 0].argmax()).all()
    np.testing.assert_allclose(feats.mean(axis=-1), 0.0, atol=1e-4)  # z-scored across the band
    complex_ = dnn_features(x, SFREQ, 2, "complex", (5.0, 40.0), 0.5)
    assert complex_.shape[-1] == 2 * int(keep.sum())
    assert np.abs(complex_[0] - complex_[1]).max() > 0.1  # the complex spectrum keeps the phase
    time = dnn_features(x, SFREQ, 2, "time")
    assert time.shape == (3, 2, 2, x.shape[-1])
    for kind in ("time", "magnitude", "complex"):
        assert (
            n_features(kind, x.shape[-1], SFREQ, (5.0, 40.0), 0.5)
            == dnn_features(  # type: ignore[arg-type]
                x,
                SFREQ,
                2,
                kind,
                (5.0, 40.0),
                0.5,  # type: ignore[arg-type]
            ).shape[-1]
        )


def test_spectral_grid_checks_the_band() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        spectral_grid(256, SFREQ, (5.0, 200.0), 0.5)
    with pytest.raises(ValueError, match="low < high"):
        spectral_grid(256, SFREQ, (40.0, 5.0), 0.5)


def _recording(n: int = 6, seconds: float = 4.0) -> SSVEPRecording:
    import mne

    rng = np.random.default_rng(0)
    data = rng.normal(0, 1e-6, (n, 2, round(seconds * SFREQ)))
    data[:, 0, :] = np.arange(data.shape[-1]) * 1e-6  # channel 0 holds its sample index (in µV after scaling)
    info = mne.create_info(["O1", "O2"], SFREQ, "eeg")
    meta = {
        "subject": ["s1"] * n,
        "block": [i % 2 for i in range(n)],
        "target": [i % 2 for i in range(n)],
        "session": [f"b{i % 2}" for i in range(n)],
    }
    freqs, phases = np.array([13.0, 17.0]), np.zeros(2)
    epochs = build_epochs(data, info, meta, freqs, phases, {"13 Hz": 1, "17 Hz": 2}, tmin=0.0)
    return SSVEPRecording(epochs, freqs, phases, ("13 Hz", "17 Hz"), 0.0, 0.5, "test")


def test_crops_are_cut_where_asked_within_the_epoch() -> None:
    rec = _recording()
    starts = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    windows = cropped_windows(rec, 1.0, starts)
    assert windows.shape == (6, 2, 256)
    first = windows[:, 0, 0]  # the sample index where each crop starts (onset + latency = 0.5 s = 128 samples)
    np.testing.assert_allclose(first, 128 + starts * SFREQ, atol=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        cropped_windows(rec, 1.0, np.full(6, 3.0))
    spread = evenly_spaced_starts(rec, 1.0, 4)
    assert spread[0] == 0 and spread[-1] == pytest.approx(2.5) and len(spread) == 4
    pool = training_crops(
        rec, np.array([True, False] * 3), 1.0, 1, "time", 5, (5.0, 40.0), 0.5, np.random.default_rng(1)
    )
    assert pool.shape == (5, 3, 1, 2, 256)


def test_crop_pool_draws_crops_and_softmax_is_averaged() -> None:
    pool = torch.arange(12.0).reshape(3, 4, 1)  # 3 crops of 4 trials
    data = CropPool(pool, torch.tensor([0, 1, 0, 1]))
    torch.manual_seed(0)
    seen = {float(data[2][0]) for _ in range(60)}
    assert seen == {2.0, 6.0, 10.0} and int(data[1][1]) == 1
    outputs = torch.tensor([[10.0, 0.0], [0.0, 1.0], [0.0, 10.0], [0.0, 1.0]])  # 2 crops x 2 trials
    mean = average_softmax(outputs, 2)
    assert mean.shape == (2, 2) and torch.allclose(mean.sum(1), torch.ones(2))
    assert mean[0, 0] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.parametrize("dnn_input", ["magnitude", "complex"])
def test_speller_runs_with_spectral_input_and_crops(tmp_path: Path, dnn_input: str) -> None:
    from test_speller_task import EXO_TINY, _exoskeleton_like_folder  # the exoskeleton-like recordings

    root = _exoskeleton_like_folder(tmp_path / "exo", {"subject01": 2})
    overrides = {
        **EXO_TINY,
        "dataset.params.root": str(root),
        "task.params.dnn_input": dnn_input,
        "task.params.crops": 3,
        "task.params.test_crops": 2,
        "task.params.spectral_band": [5.0, 45.0],
    }
    result = sciconv.run("bci-ssvep-exo", overrides=overrides, run_dir=tmp_path / "run")
    assert 0 <= result.metrics["dnn.acc@1"] <= 1
    prediction = sciconv.load_run(result.run_dir).predict(split="test", log=lambda m: None)
    assert prediction.metrics["dnn.acc@1"] == result.metrics["dnn.acc@1"]


def test_within_session_protocol_trains_on_the_same_session_and_predict_reproduces_it(tmp_path: Path) -> None:
    from test_speller_task import EXO_TINY, _exoskeleton_like_folder

    root = _exoskeleton_like_folder(tmp_path / "exo", {"subject01": 2})
    overrides = {
        **EXO_TINY,
        "dataset.params.root": str(root),
        "task.params.protocol": "within_session",
        "task.params.within_folds": 2,
        "task.params.baselines": ["fbcca"],  # one training trial per class here: too few for TRCA
    }
    result = sciconv.run("bci-ssvep-exo", overrides=overrides, run_dir=tmp_path / "run")
    cells = (result.run_dir / "cells.csv").read_text().splitlines()
    assert {line.split(",")[2] for line in cells[1:]} == {"0", "1"}  # block 0's two folds
    report = (result.run_dir / "report.md").read_text()
    assert "Within-session: 2-fold cross-validation" in report
    assert "Phase locking of the responses" in report and "ITPC" in report
    assert 0 <= result.metrics["itpc.stimulus"] <= 1
    prediction = sciconv.load_run(result.run_dir).predict(split="test", log=lambda m: None)
    for key in ("dnn.acc@1", "fbcca.acc@1"):
        assert prediction.metrics[key] == result.metrics[key]
