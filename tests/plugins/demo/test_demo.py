"""The demo plugin: conformance, the simulator's physics, parameter checks, and the pipeline's results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

import sciconv
from sciconv.errors import ConfigError
from sciconv.kit.noise import power_law_noise
from sciconv.testing import check_plugin
from sciconv_demo.datasets import OscillationDataset
from sciconv_demo.oscillation_simulator import simulate_oscillations


def test_conformance() -> None:
    report = check_plugin("demo", pipeline_overrides={"demo-signal": {"dataset.params.n_trials": 40}})
    assert report.pipelines == ["demo-signal"]
    assert report.datasets == ["demo.oscillations"] and report.models == ["demo.cnn1d"]


def test_background_noise_has_a_one_over_f_spectrum() -> None:
    """The simulator's background: the kit's power-law noise with its defaults (unit sample variance)."""
    noise = power_law_noise(np.random.default_rng(0), (64, 4096), 1.0)
    f, psd = welch(noise, fs=1.0, nperseg=1024, axis=-1)
    band = (f > 0.01) & (f < 0.4)
    slope = np.polyfit(np.log(f[band]), np.log(psd.mean(0)[band]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert noise.std(axis=-1) == pytest.approx(1.0)


def _pink_noise_before_the_kit(rng: np.random.Generator, shape: tuple[int, ...], alpha: float) -> np.ndarray:
    """The demo's own 1/f noise before it moved into sciconv.kit.noise, kept to prove the data did not change."""
    n = shape[-1]
    spectrum = rng.standard_normal((*shape[:-1], n // 2 + 1)) + 1j * rng.standard_normal((*shape[:-1], n // 2 + 1))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1]
    spectrum *= freqs ** (-alpha / 2.0)
    noise = np.fft.irfft(spectrum, n=n, axis=-1)
    return noise / noise.std(axis=-1, keepdims=True)


@pytest.mark.parametrize(("shape", "alpha"), [((40, 4, 256), 1.0), ((7, 3, 255), 1.6), ((5, 97), 0.0)])
def test_kit_noise_gives_the_same_numbers_as_before(shape: tuple[int, ...], alpha: float) -> None:
    expected = _pink_noise_before_the_kit(np.random.default_rng(3), shape, alpha)
    got = power_law_noise(np.random.default_rng(3), shape, alpha)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_each_class_peaks_at_its_frequency() -> None:
    data = OscillationDataset(n_trials=200, snr_db=-5.0, line_freq=0.0)
    x, y = data.simulate()
    f, psd = welch(x, fs=data.sfreq, nperseg=256, axis=-1)
    for k, freq in enumerate(data.freqs):
        mean = psd[y == k].mean(axis=(0, 1))
        band = (f > 4) & (f < 20)
        assert f[band][np.argmax(mean[band])] == pytest.approx(freq, abs=1.0)


def test_simulation_is_seeded_and_splits_are_stratified() -> None:
    a, b = OscillationDataset(n_trials=100, seed=1), OscillationDataset(n_trials=100, seed=1)
    np.testing.assert_array_equal(a.simulate()[0], b.simulate()[0])
    bundle = a.load()
    labels = [int(bundle.test[i][1]) for i in range(len(bundle.test))]
    assert np.bincount(labels).tolist() == [5, 5, 5, 5]


def test_the_dataset_simulates_through_the_simulator() -> None:
    data = OscillationDataset(n_trials=40, n_chans=3, duration=1.5, seed=2)
    x, y = simulate_oscillations(
        n_trials=40, n_chans=3, sfreq=128.0, duration=1.5, freqs=(6.0, 9.0, 12.0, 15.0), snr_db=-10.0,
        alpha=1.0, line_freq=50.0, seed=2,
    )  # fmt: skip
    assert x.shape == (40, 3, 192) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(data.simulate()[0], x)
    np.testing.assert_array_equal(data.simulate()[1], y)


@pytest.mark.parametrize(
    ("params", "message"),
    [({"freqs": (6.0,)}, "at least two"), ({"freqs": (6.0, 40.0)}, "Nyquist"), ({"n_trials": 8}, "at least 20")],
)
def test_bad_parameters(params, message) -> None:
    with pytest.raises(ConfigError, match=message):
        OscillationDataset(**params).load()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dataset.params.n_chans", 0, r"dataset\.params\.n_chans: expected an integer >= 1"),
        ("dataset.params.sfreq", 0.0, r"dataset\.params\.sfreq: expected a number > 0"),
        ("dataset.params.duration", -1.0, r"dataset\.params\.duration: expected a number > 0"),
        ("model.params.n_filters", 0, r"model\.params\.n_filters: expected an integer >= 1 for model 'demo\.cnn1d'"),
        ("model.params.dropout", 1.0, r"model\.params\.dropout: expected a number >= 0 and < 1"),
    ],
)
def test_out_of_range_parameters_are_refused_by_the_pipeline(key: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sciconv.load_pipeline("demo-signal", {key: value})


def test_default_pipeline_beats_baselines_and_chance(tmp_path) -> None:
    result = sciconv.run("demo-signal", run_dir=tmp_path / "run")
    m = result.metrics
    assert m["test.accuracy"] > 0.9
    assert m["test.accuracy"] > m["baseline.spectral_peak.accuracy"] > m["chance"]
    assert m["test.accuracy"] > m["baseline.nearest_centroid.accuracy"]
