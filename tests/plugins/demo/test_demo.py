"""The demo plugin: conformance, the simulator's physics, and the pipeline's results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import welch

import sciconv
from sciconv.errors import ConfigError
from sciconv.testing import check_plugin
from sciconv_demo.oscillations import OscillationDataset, pink_noise


def test_conformance() -> None:
    report = check_plugin("demo", pipeline_overrides={"demo-signal": {"dataset.params.n_trials": 40}})
    assert report.pipelines == ["demo-signal"]
    assert report.datasets == ["demo.oscillations"] and report.models == ["demo.cnn1d"]


def test_pink_noise_has_a_one_over_f_spectrum() -> None:
    noise = pink_noise(np.random.default_rng(0), (64, 4096), alpha=1.0)
    f, psd = welch(noise, fs=1.0, nperseg=1024, axis=-1)
    band = (f > 0.01) & (f < 0.4)
    slope = np.polyfit(np.log(f[band]), np.log(psd.mean(0)[band]), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert noise.std(axis=-1) == pytest.approx(1.0)


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


@pytest.mark.parametrize(
    ("params", "message"),
    [({"freqs": (6.0,)}, "at least two"), ({"freqs": (6.0, 40.0)}, "Nyquist"), ({"n_trials": 8}, "at least 20")],
)
def test_bad_parameters(params, message) -> None:
    with pytest.raises(ConfigError, match=message):
        OscillationDataset(**params).load()


def test_default_pipeline_beats_baselines_and_chance(tmp_path) -> None:
    result = sciconv.run("demo-signal", run_dir=tmp_path / "run")
    m = result.metrics
    assert m["test.accuracy"] > 0.9
    assert m["test.accuracy"] > m["baseline.spectral_peak.accuracy"] > m["chance"]
    assert m["test.accuracy"] > m["baseline.nearest_centroid.accuracy"]
