"""Tests of the ECG plugin's components: simulator, dataset, baseline, metrics, model, and one run."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import sciconv
from sciconv.conv import Conv1d
from sciconv.errors import ConfigError, DataError
from sciconv.registry import get_registry
from sciconv.testing import registered_plugin
from sciconv_ecg import ecg_simulator
from sciconv_ecg.baselines import QRSWidthClassifier, qrs_durations_ms
from sciconv_ecg.datasets import EcgBeatDataset
from sciconv_ecg.metrics import binary_metrics, roc_auc
from sciconv_ecg.models import BeatCNN

SFREQ = 250.0
N_TIMES = 200
T_MS = (np.arange(N_TIMES) - N_TIMES // 2) * 1e3 / SFREQ


@pytest.fixture(scope="module")
def ecg_plugin() -> Iterator[str]:
    """The name of the registered ECG plugin (installed, or registered in process for the module)."""
    if "ecg" in get_registry().plugins:
        yield "ecg"
        return
    with registered_plugin(importlib.import_module("sciconv_ecg.plugin"), "ecg"):
        yield "ecg"


def clean_beats(labels: np.ndarray, heart_rate: float = 60.0, variability: float = 0.0, seed: int = 0) -> np.ndarray:
    """Noiseless beats ``(n, N_TIMES)`` in mV, without fiducial jitter."""
    rng = np.random.default_rng(seed)
    hr = np.full(len(labels), heart_rate)
    params = ecg_simulator.strip_parameters(rng, labels, hr, variability)
    params.r_times[:] -= params.r_times[:, 2:3]  # put the R peak exactly at the window centre
    gain = ecg_simulator.sinus_gain_mv(heart_rate, SFREQ, N_TIMES)
    return gain * ecg_simulator.render_strips(params, SFREQ, N_TIMES)


def peak_ms(x: np.ndarray, lo_ms: float, hi_ms: float, sign: float = 1.0) -> float:
    """Time in ms of the extremum of ``sign * x`` within ``[lo_ms, hi_ms]``."""
    t_ms = T_MS
    window = (t_ms >= lo_ms) & (t_ms <= hi_ms)
    return float(t_ms[window][np.argmax(sign * x[window])])


def test_hook_module_is_import_light() -> None:
    code = (
        "import json, sys; import sciconv_ecg.plugin; "
        "print(json.dumps([m for m in ('torch', 'numpy', 'scipy', 'matplotlib') if m in sys.modules]))"
    )
    package_root = str(Path(importlib.import_module("sciconv_ecg").__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == []


def test_sinus_beat_follows_table1_morphology() -> None:
    # At 60 bpm (omega = 2 pi rad/s, no heart-rate adjustment) an angle theta lies at theta / (2 pi) s.
    beat = clean_beats(np.array([0]))[0]
    assert np.ptp(beat) == pytest.approx(ecg_simulator.SINUS_PEAK_TO_PEAK_MV, rel=1e-3)
    assert abs(peak_ms(beat, -60, 60)) <= 4  # R at theta = 0
    assert peak_ms(beat, -300, -100) == pytest.approx(-1e3 / 6, abs=12)  # P at -pi/3
    assert peak_ms(beat, 150, 380) == pytest.approx(250, abs=20)  # T at pi/2
    assert peak_ms(beat, -80, -8, sign=-1) == pytest.approx(-1e3 / 24, abs=12)  # Q at -pi/12
    assert peak_ms(beat, 8, 80, sign=-1) == pytest.approx(1e3 / 24, abs=12)  # S at pi/12
    r, p, t = beat[N_TIMES // 2], beat[np.argmin(np.abs(T_MS + 1e3 / 6))], beat[np.argmin(np.abs(T_MS - 250))]
    assert r > t > p > 0
    assert beat[np.argmin(np.abs(T_MS - 1e3 / 24))] < 0


def test_pvc_morphology_and_timing() -> None:
    labels = np.array([0] * 40 + [1] * 40)
    beats = clean_beats(labels, heart_rate=72.0, variability=0.1, seed=3)
    widths = qrs_durations_ms(beats, SFREQ, N_TIMES // 2)
    assert widths[labels == 0].max() < 120.0
    assert np.median(widths[labels == 1]) > 120.0

    qrs = (T_MS > -60) & (T_MS < 60)
    late = (T_MS > 150) & (T_MS < 390)
    dominant_qrs = np.take_along_axis(beats[:, qrs], np.abs(beats[:, qrs]).argmax(1)[:, None], 1)[:, 0]
    dominant_t = np.take_along_axis(beats[:, late], np.abs(beats[:, late]).argmax(1)[:, None], 1)[:, 0]
    assert np.all(np.sign(dominant_qrs[labels == 1]) != np.sign(dominant_t[labels == 1]))  # discordant T
    assert np.all(np.sign(dominant_t[labels == 0]) == 1.0)  # upright sinus T in lead II

    rng = np.random.default_rng(0)
    params = ecg_simulator.strip_parameters(rng, labels, np.full(len(labels), 72.0), 0.1)
    assert np.all(params.a[labels == 1, 2, 0] == 0.0)  # no P wave
    assert np.all(params.a[labels == 0, 2, 0] > 0.0)
    rr = 60.0 / 72.0
    coupling = -params.r_times[:, 1] + params.r_times[:, 2]
    assert np.all(coupling[labels == 1] < 0.81 * rr)  # premature
    pause = params.r_times[:, 3] - params.r_times[:, 1]
    assert np.allclose(pause[labels == 1], 2 * rr)  # full compensatory pause


def test_dataset_bundle_spec_and_stratified_splits() -> None:
    bundle = EcgBeatDataset(n_beats=200, pvc_fraction=0.2, seed=5).load()
    spec = bundle.spec
    assert spec.input_shape == (1, 200)
    assert (spec.task_type, spec.classes, spec.channels, spec.units, spec.sfreq) == (
        "classification",
        ("normal", "PVC"),
        ("II",),
        "mV",
        250.0,
    )
    assert spec.extra["r_index"] == 100
    sizes = {name: len(getattr(bundle, name)) for name in ("train", "val", "test")}
    assert sizes == {"train": 120, "val": 40, "test": 40}
    for name in ("train", "val", "test"):
        x, y = getattr(bundle, name).tensors
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert float((y == 1).float().mean()) == pytest.approx(0.2)
        assert torch.isfinite(x).all() and x.abs().max() < 8.0  # millivolts, not volts or microvolts
    again = EcgBeatDataset(n_beats=200, pvc_fraction=0.2, seed=5).load()
    other = EcgBeatDataset(n_beats=200, pvc_fraction=0.2, seed=6).load()
    assert torch.equal(bundle.test.tensors[0], again.test.tensors[0])
    assert not torch.equal(bundle.test.tensors[0], other.test.tensors[0])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sfreq": 100.0, "mains_hz": 60.0}, "Nyquist"),
        ({"n_beats": 40, "pvc_fraction": 0.05}, "at least 2 beats of each class"),
        ({"val_fraction": 0.3, "test_fraction": 0.35}, "leaves less than 40 %"),
    ],
)
def test_dataset_rejects_bad_parameter_combinations(params: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EcgBeatDataset(**params).load()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dataset.params.pvc_fraction", 1.0),
        ("dataset.params.window_s", 0.1),
        ("dataset.params.emg_noise_mv", -0.1),
        ("dataset.params.n_beats", 10),
        ("dataset.params.n_beats", 120.5),
        ("dataset.params.sfreq", 50.0),
        ("dataset.params.mains_hz", -50.0),
        ("dataset.params.variability", float("nan")),
        ("model.params.n_filters", 0),
        ("model.params.kernel_size", 0),
        ("model.params.dropout", 1.0),
        ("task.params.slope_fraction", 0.0),
        ("task.params.example_beats", -1),
    ],
)
def test_pipeline_rejects_bad_parameters_naming_the_key(ecg_plugin: str, key: str, value: Any) -> None:
    # each parameter's range lives in its component's signature; the pipeline checks it before building anything
    with pytest.raises(ConfigError, match=f"^{re.escape(key)}: "):
        sciconv.load_pipeline("ecg-beats", {key: value})


def test_pipeline_rejects_bad_parameter_combinations(ecg_plugin: str) -> None:
    with pytest.raises(ConfigError, match=r"^dataset\.params\.mains_hz: .*Nyquist"):
        sciconv.load_pipeline("ecg-beats", {"dataset.params.sfreq": 100.0, "dataset.params.mains_hz": 60.0})
    with pytest.raises(ConfigError, match="at least 2 beats of each class"):
        sciconv.load_pipeline("ecg-beats", {"dataset.params.n_beats": 40, "dataset.params.pvc_fraction": 0.05})


def test_roc_auc_is_the_pairwise_probability() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.normal(labels * 0.8, 1.0), 1)  # rounded: many ties
    pos, neg = scores[labels == 1], scores[labels == 0]
    pairwise = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc_auc(scores, labels) == pytest.approx(pairwise, abs=1e-12)
    assert roc_auc(labels.astype(float), labels) == 1.0
    assert roc_auc(-labels.astype(float), labels) == 0.0
    assert roc_auc(np.zeros(len(labels)), labels) == 0.5
    with pytest.raises(DataError, match="both classes"):
        roc_auc(scores, np.ones_like(labels))
    m = binary_metrics(np.array([1, 1, 0, 0, 0]), np.array([1, 0, 0, 0, 1]), np.array([0.9, 0.2, 0.1, 0.3, 0.8]))
    assert (m["accuracy"], m["sensitivity"], m["specificity"]) == pytest.approx((0.6, 0.5, 2 / 3))


def test_qrs_width_classifier_fits_a_physiological_threshold() -> None:
    labels = np.array([0, 1] * 30)
    beats = clean_beats(labels, heart_rate=72.0, variability=0.1, seed=1)[:, None, :]
    clf = QRSWidthClassifier(SFREQ, N_TIMES // 2).fit(beats, labels)
    assert 90.0 < clf.threshold_ms_ < 150.0
    assert np.mean(clf.predict(beats) == labels) > 0.9
    with pytest.raises(DataError, match="both classes"):
        QRSWidthClassifier(SFREQ, N_TIMES // 2).fit(beats, np.zeros_like(labels))


def test_beat_cnn_uses_sciconv_convolutions() -> None:
    spec = EcgBeatDataset(n_beats=60).load().spec
    model = BeatCNN(spec, n_filters=4, n_blocks=2)
    assert sum(isinstance(m, Conv1d) for m in model.modules()) == 2
    assert model(torch.randn(3, 1, 200)).shape == (3, 2)
    with pytest.raises(ConfigError, match="n_blocks"):
        BeatCNN(spec, n_blocks=9)


def test_pipeline_runs_end_to_end(ecg_plugin: str, tmp_path: Path) -> None:
    result = sciconv.run(
        "ecg-beats",
        overrides={"train.epochs": 1, "dataset.params.n_beats": 120, "train.progress": False},
        run_dir=tmp_path / "run",
    )
    for key in ("test.accuracy", "test.sensitivity", "test.specificity", "test.auc", "baseline.qrs_width.accuracy"):
        assert 0.0 <= result.metrics[key] <= 1.0, key
    assert result.metrics["baseline.majority.accuracy"] == pytest.approx(0.75)
    report = (result.run_dir / "report.md").read_text()
    assert "QRS width >" in report and "majority class" in report
    assert (result.run_dir / "plots" / "example_beats.png").is_file()
    assert (result.run_dir / "plots" / "qrs_widths.png").is_file()
    assert (result.run_dir / "checkpoints" / "beat-cnn" / "model.safetensors").is_file()
