"""The Benchmark simulator: its physics, its file output and its parameters."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import scipy.io
from scipy.signal import butter, sosfiltfilt, welch

from sciconv.errors import ConfigError
from sciconv.kit.noise import coloured_noise, power_law_noise
from sciconv_bci_ssvep.mat_io import read_benchmark
from sciconv_bci_ssvep.recording import BENCHMARK_CHANNELS, benchmark_stimuli
from sciconv_bci_ssvep.ssvep_simulator import DEFAULT_SNR_DB, SSVEPPhysics, simulate_benchmark, simulate_subject

FS = 250.0
OZ = BENCHMARK_CHANNELS.index("OZ")
NO_JITTER = SSVEPPhysics(latency_jitter=0.0)


def _trials(data: np.ndarray, channel: int) -> np.ndarray:
    """``[64, 1500, targets, blocks]`` -> ``(targets * blocks, 1500)`` of one channel."""
    return data[channel].reshape(1500, -1).T


def test_layout_reproducibility_and_magnitudes() -> None:
    a = simulate_subject(3, seed=7, n_targets=4, n_blocks=2)
    assert a.data.shape == (64, 1500, 4, 2) and a.data.dtype == np.float32
    np.testing.assert_array_equal(a.data, simulate_subject(3, seed=7, n_targets=4, n_blocks=2).data)
    assert not np.allclose(a.data, simulate_subject(4, seed=7, n_targets=4, n_blocks=2).data)
    assert not np.allclose(a.data, simulate_subject(3, seed=8, n_targets=4, n_blocks=2).data)
    np.testing.assert_allclose(a.freqs, benchmark_stimuli(4)[0])
    assert 0.13 <= a.latency <= 0.15 and 9.0 <= a.alpha_freq <= 11.0
    assert a.peak_channel in {"OZ", "O1", "O2", "POZ", "PO3", "PO4", "PO5", "PO6", "OI1", "CB1", "CB2"}
    # µV: background of tens of µV, an SSVEP fundamental of a few µV
    assert 5.0 < a.background_rms < 40.0
    assert 0.5 < a.amplitudes[:, 0].mean() < 15.0
    assert np.all(a.amplitudes[:, 0] > a.amplitudes[:, -1])  # harmonics decay


def test_trial_average_peaks_at_the_stimulus_frequency_and_its_harmonic() -> None:
    sim = simulate_subject(2, seed=0, n_targets=8, n_blocks=6)
    start = round((0.5 + sim.latency) * FS)
    average = sim.data[OZ].mean(axis=-1)[start : start + 1250]  # 5 s: 0.2 Hz bins
    spectrum = np.abs(np.fft.rfft(average, axis=0))
    bins = np.fft.rfftfreq(1250, 1 / FS)
    band = (bins >= 6) & (bins <= 60)
    for k, f in enumerate(sim.freqs):
        peak = bins[band][np.argmax(spectrum[band, k])]
        assert peak == pytest.approx(f) or peak == pytest.approx(2 * f)
        floor = np.median(spectrum[band, k])
        assert spectrum[np.argmin(abs(bins - f)), k] > 10 * floor
        assert spectrum[np.argmin(abs(bins - 2 * f)), k] > 10 * floor


def test_background_has_a_one_over_f_slope_an_alpha_peak_and_line_noise() -> None:
    sim = simulate_subject(1, seed=0, n_targets=8, n_blocks=4, snr_db=-np.inf)
    f, psd = welch(_trials(sim.data, OZ), fs=FS, nperseg=750, axis=-1)
    psd = psd.mean(axis=0)
    aperiodic = ((f >= 2) & (f <= 6)) | ((f >= 15) & (f <= 40))
    fit = np.polyfit(np.log(f[aperiodic]), np.log(psd[aperiodic]), 1)
    assert fit[0] == pytest.approx(-sim.background_exponent, abs=0.4)
    alpha = np.argmin(abs(f - sim.alpha_freq))
    assert psd[alpha] > 5 * np.exp(np.polyval(fit, np.log(f[alpha])))
    f_fine, psd_fine = welch(_trials(sim.data, OZ), fs=FS, nperseg=1500, axis=-1)
    psd_fine = psd_fine.mean(axis=0)
    line = np.argmin(abs(f_fine - 50.0))
    neighbours = (abs(f_fine - 50.0) > 2) & (abs(f_fine - 50.0) < 5)
    assert psd_fine[line] > 5 * psd_fine[neighbours].mean()
    # alpha is parieto-occipital: far weaker at the frontal pole
    fp1 = _trials(sim.data, BENCHMARK_CHANNELS.index("FPZ"))
    f, psd_fp = welch(fp1, fs=FS, nperseg=750, axis=-1)
    assert psd_fp.mean(axis=0)[alpha] < 0.5 * psd[alpha]


def test_background_is_spatially_correlated() -> None:
    sim = simulate_subject(1, seed=0, n_targets=4, n_blocks=2, snr_db=-np.inf)
    x = sim.data.transpose(0, 2, 3, 1).reshape(64, -1)
    corr = np.corrcoef(x)
    near = corr[OZ, BENCHMARK_CHANNELS.index("O1")]
    far = corr[OZ, BENCHMARK_CHANNELS.index("FPZ")]
    assert near > 0.5 and near > far + 0.3


def test_response_starts_after_onset_plus_latency() -> None:
    # the SSVEP component: exactly nothing before onset + latency, the full response soon after
    sim = simulate_subject(5, seed=0, n_targets=4, n_blocks=1, physics=NO_JITTER, keep_components=True)
    start = 0.5 + sim.latency
    t = np.arange(1500) / FS
    x = sim.ssvep[OZ, :, :, 0]
    assert np.all(x[t < start] == 0.0)
    assert np.all(np.abs(x[(t > start + 0.3) & (t < start + 1.0)]).max(axis=0) > 0.5 * sim.amplitudes[:, 0])

    # with the default noise: the (6-40 Hz) trial average follows the stimulus after onset + latency, not
    # before onset
    sim = simulate_subject(2, seed=0, n_targets=8, n_blocks=6)
    average = sosfiltfilt(butter(4, [6, 40], btype="bandpass", fs=FS, output="sos"), sim.data[OZ].mean(axis=-1), axis=0)
    n = int(0.5 * FS)
    after, before = round((0.5 + sim.latency) * FS), 0
    tt = np.arange(n) / FS

    def fit_r(segment: np.ndarray, f: float) -> float:
        ref = np.column_stack([g(2 * np.pi * h * f * tt) for h in (1, 2) for g in (np.sin, np.cos)])
        coef = np.linalg.lstsq(ref, segment, rcond=None)[0]
        return float(np.corrcoef(ref @ coef, segment)[0, 1])

    r_after = [fit_r(average[after : after + n, k], f) for k, f in enumerate(sim.freqs)]
    r_before = [fit_r(average[before : before + n, k], f) for k, f in enumerate(sim.freqs)]
    assert np.mean(r_after) > 0.7 and np.mean(r_after) > np.mean(r_before) + 0.3


def test_latency_is_subject_specific_and_shifts_the_phase() -> None:
    latencies = [simulate_subject(s, n_targets=1, n_blocks=1).latency for s in range(1, 6)]
    assert len(set(latencies)) == 5 and all(0.13 <= lat <= 0.15 for lat in latencies)
    physics = replace(NO_JITTER, latency_range=(0.20, 0.20), n_harmonics=1)
    late = simulate_subject(1, n_targets=1, n_blocks=1, physics=physics, keep_components=True)
    t = np.arange(1500) / FS
    x = late.ssvep[OZ, :, 0, 0]
    assert np.all(x[t < 0.7] == 0.0) and np.abs(x[(t > 0.75) & (t < 1.0)]).max() > 0


def test_trial_to_trial_variability() -> None:
    sim = simulate_subject(1, n_targets=1, n_blocks=6, physics=replace(NO_JITTER, n_harmonics=1), keep_components=True)
    x = sim.ssvep[OZ, 500:1000, 0, :]
    rms = np.sqrt((x**2).mean(axis=0))
    assert rms.std() / rms.mean() > 0.05  # amplitudes differ between the six trials of a target


def test_simulate_benchmark_writes_what_read_benchmark_reads(tmp_path: Path) -> None:
    paths = simulate_benchmark(tmp_path, n_subjects=2, seed=4, n_blocks=2, n_targets=5)
    assert paths == [tmp_path / "S1.mat", tmp_path / "S2.mat"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Freq_Phase.mat", "S1.mat", "S2.mat"]
    raw = scipy.io.loadmat(paths[1])["data"]
    assert raw.shape == (64, 1500, 5, 2)
    assert raw.dtype == np.float64
    np.testing.assert_array_equal(raw, simulate_subject(2, seed=4, n_blocks=2, n_targets=5).data)
    rec = read_benchmark(tmp_path)
    assert rec.epochs.get_data().shape == (20, 9, 1500)
    np.testing.assert_allclose(rec.freqs, benchmark_stimuli(5)[0])
    np.testing.assert_allclose(rec.phases, benchmark_stimuli(5)[1])
    only = simulate_benchmark(tmp_path / "one", subjects=[2], seed=4, n_blocks=2, n_targets=5)
    assert [p.name for p in only] == ["S2.mat"]
    np.testing.assert_array_equal(scipy.io.loadmat(only[0])["data"], raw)
    with pytest.warns(UserWarning, match=r"already holds S2.mat, which this simulation does not write"):
        simulate_benchmark(tmp_path / "one", n_subjects=1, n_blocks=1, n_targets=1)


def test_snr_controls_the_ssvep_amplitude() -> None:
    low = simulate_subject(1, n_targets=4, n_blocks=1, snr_db=DEFAULT_SNR_DB - 10)
    high = simulate_subject(1, n_targets=4, n_blocks=1, snr_db=DEFAULT_SNR_DB + 10)
    np.testing.assert_allclose(high.amplitudes / low.amplitudes, 10.0)
    assert high.snr_db - low.snr_db == pytest.approx(20.0)
    none = simulate_subject(1, n_targets=4, n_blocks=1, snr_db=-np.inf)
    assert np.all(none.amplitudes == 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_targets": 0}, "n_targets must be an integer >= 1"),
        ({"n_targets": 41}, "at most 40"),
        ({"n_blocks": 1.5}, "n_blocks must be an integer"),
        ({"snr_db": float("nan")}, "snr_db"),
        ({"physics": SSVEPPhysics(background_uv=-1.0)}, "background_uv must be >= 0"),
        ({"physics": SSVEPPhysics(latency_range=(0.2, 0.1))}, "latency_range"),
        ({"physics": SSVEPPhysics(n_harmonics=0)}, "n_harmonics"),
        ({"physics": SSVEPPhysics(background_uv=0, alpha_uv=0, line_noise_uv=0, sensor_noise_uv=0)}, "which is zero"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_subject(1, **kwargs)


def test_bad_subject_counts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_subjects"):
        simulate_benchmark(tmp_path, n_subjects=0)
    with pytest.raises(ConfigError, match="subjects"):
        simulate_benchmark(tmp_path, subjects=[0])
    assert list(tmp_path.iterdir()) == []


def test_locked_is_the_default_and_gives_the_numbers_it_gave_before_the_option() -> None:
    omitted = simulate_subject(3, seed=7, n_targets=3, n_blocks=2, keep_components=True)
    locked = simulate_subject(
        3, seed=7, n_targets=3, n_blocks=2, keep_components=True, phase_locking="locked", phase_drift_hz=0.3
    )
    assert np.array_equal(omitted.data, locked.data) and np.array_equal(omitted.ssvep, locked.ssvep)
    assert omitted.onset_phases is None and locked.onset_phases is None
    # values simulated before phase_locking existed (a changed draw order or phase formula moves them by µV;
    # the tolerance only absorbs float32 rounding that differs between machines)
    np.testing.assert_allclose(
        omitted.data[OZ, [0, 300, 700, 1499], 1, 1], [-2.3014798, 0.9303038, 6.4119821, 0.7516150], rtol=1e-4, atol=1e-3
    )
    np.testing.assert_allclose(omitted.amplitudes[:, 0], [4.3124018, 3.8332461, 3.4499215], rtol=1e-5)
    assert omitted.peak_channel == "OZ"


def _fourier(x: np.ndarray, f: float, start: int, n: int) -> np.ndarray:
    """Complex amplitude at ``f`` Hz of ``x[..., start : start + n]`` (µV)."""
    t = np.arange(n) / FS
    return 2 * (x[..., start : start + n] * np.exp(-2j * np.pi * f * t)).mean(axis=-1)


def test_free_mode_is_not_phase_locked_but_keeps_the_amplitude() -> None:
    kwargs = {"seed": 0, "n_targets": 2, "n_blocks": 24, "keep_components": True}
    locked = simulate_subject(1, **kwargs)
    free = simulate_subject(1, phase_locking="free", **kwargs)
    assert free.onset_phases.shape == (2, 24)
    sims = {"locked": locked, "free": free}
    start, n = round((0.5 + locked.latency) * FS), 1000  # 4 s of steady response: 0.25 Hz bins
    for k, f in enumerate(locked.freqs):
        bins = np.fft.rfftfreq(n, 1 / FS)
        j = np.argmin(abs(bins - f))
        spectra = {m: np.fft.rfft(sim.data[OZ, start : start + n, k].T, axis=-1)[:, j] for m, sim in sims.items()}
        itc = {m: abs(np.mean(z / abs(z))) for m, z in spectra.items()}  # inter-trial phase coherence, 24 trials
        assert itc["locked"] > 0.8 and itc["free"] < 0.4
        power = {m: np.mean(abs(z) ** 2) for m, z in spectra.items()}
        assert 0.6 < power["free"] / power["locked"] < 1.5
    # only the SSVEP's phase changes: the same background, the same trial amplitudes
    np.testing.assert_allclose(free.data - free.ssvep, locked.data - locked.ssvep, atol=1e-4)
    rms = {m: np.sqrt((sim.ssvep[OZ, start : start + n] ** 2).mean(axis=0)) for m, sim in sims.items()}
    np.testing.assert_allclose(rms["free"], rms["locked"], rtol=0.05)
    assert (locked.latency, locked.snr_db, locked.peak_channel) == (free.latency, free.snr_db, free.peak_channel)


def test_free_mode_onset_phase_sets_every_harmonic_and_the_phase_drifts() -> None:
    physics = replace(NO_JITTER, n_harmonics=2, harmonic_decay=0.0)
    kwargs = {"seed": 3, "n_targets": 2, "n_blocks": 12, "keep_components": True, "physics": physics}
    locked = simulate_subject(2, **kwargs)
    steady = simulate_subject(2, phase_locking="free", phase_drift_hz=0.0, **kwargs)
    drifting = simulate_subject(2, phase_locking="free", phase_drift_hz=0.1, **kwargs)
    np.testing.assert_array_equal(steady.onset_phases, drifting.onset_phases)  # the same draws, then the drift
    start, n = round((0.5 + locked.latency + 0.5) * FS), 250  # 1 s windows: whole cycles of every frequency
    late = start + 3 * 250
    for k, f in enumerate(locked.freqs):
        x_locked, x_steady, x_drifting = (sim.ssvep[OZ, :, k].T for sim in (locked, steady, drifting))  # (12, 1500)
        for h in (1, 2):
            # without drift: harmonic h is shifted by h (psi_n - phi_k) from the locked response, at all times
            shift = np.angle(_fourier(x_steady, h * f, start, n) / _fourier(x_locked, h * f, start, n))
            expected = h * (steady.onset_phases[k] - locked.phases[k])
            np.testing.assert_allclose(np.angle(np.exp(1j * (shift - expected))), 0.0, atol=1e-3)
            later = _fourier(x_steady, h * f, late, n) / _fourier(x_steady, h * f, start, n)
            np.testing.assert_allclose(np.angle(later), 0.0, atol=1e-3)
        # with drift (sd 0.1 Hz, correlation time 1 s): the phase wanders over the 3 s between the two windows
        wander = np.angle(_fourier(x_drifting, f, late, n) / _fourier(x_drifting, f, start, n))
        assert 0.3 < np.sqrt(np.mean(wander**2)) < 2.5


def test_free_mode_is_reproducible_and_seeded(tmp_path: Path) -> None:
    kwargs = {"n_targets": 2, "n_blocks": 2, "phase_locking": "free"}
    a = simulate_subject(4, seed=1, **kwargs)
    np.testing.assert_array_equal(a.data, simulate_subject(4, seed=1, **kwargs).data)
    np.testing.assert_array_equal(a.onset_phases, simulate_subject(4, seed=1, **kwargs).onset_phases)
    assert np.all((a.onset_phases >= 0) & (a.onset_phases < 2 * np.pi))
    assert not np.allclose(a.onset_phases, simulate_subject(4, seed=2, **kwargs).onset_phases)
    assert not np.allclose(a.onset_phases, simulate_subject(5, seed=1, **kwargs).onset_phases)
    assert not np.allclose(a.data, simulate_subject(4, seed=1, n_targets=2, n_blocks=2).data)
    paths = simulate_benchmark(tmp_path, n_subjects=1, subjects=[4], seed=1, **kwargs)
    np.testing.assert_array_equal(scipy.io.loadmat(paths[0])["data"], a.data)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phase_locking": "loose"}, "phase_locking must be one of locked, free, got 'loose'"),
        ({"phase_locking": True}, "phase_locking must be one of"),
        ({"phase_locking": "free", "phase_drift_hz": -0.1}, "phase_drift_hz must be a finite number >= 0 Hz"),
        ({"phase_locking": "free", "phase_drift_hz": float("nan")}, "phase_drift_hz"),
        ({"phase_locking": "free", "phase_drift_hz": "0.1"}, "phase_drift_hz"),
        ({"phase_locking": "free", "phase_drift_time": 0.0}, "phase_drift_time must be a finite number > 0 s"),
        ({"phase_drift_hz": float("inf")}, "phase_drift_hz"),
    ],
)
def test_bad_phase_parameters(kwargs: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        simulate_subject(1, n_targets=1, n_blocks=1, **kwargs)
    with pytest.raises(ConfigError, match=message):
        simulate_benchmark(tmp_path, n_subjects=1, n_targets=1, n_blocks=1, **kwargs)
    assert list(tmp_path.iterdir()) == []


def _shaped_noise_before_the_kit(rng: np.random.Generator, shape: tuple[int, ...], gain: np.ndarray) -> np.ndarray:
    """The simulator's own shaped noise before it moved into sciconv.kit.noise, kept to prove the data did not
    change: white float32 samples, filtered by ``gain``, scaled to unit expected variance."""
    n = shape[-1]
    spectrum = scipy.fft.rfft(rng.standard_normal(shape, dtype=np.float32), axis=-1, workers=-1)
    spectrum *= gain.astype(np.float32)
    weights = np.full(gain.shape, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    spectrum /= np.float32(math.sqrt(float(np.sum(weights * gain**2)) / n))
    return scipy.fft.irfft(spectrum, n=n, axis=-1, workers=-1)


@pytest.mark.parametrize("shape", [(6, 64, 1500), (3, 2, 1001)])
def test_kit_noise_gives_the_same_numbers_as_before(shape: tuple[int, ...]) -> None:
    bins = scipy.fft.rfftfreq(shape[-1], 1 / 250.0)
    exponent = 2.07
    expected = _shaped_noise_before_the_kit(np.random.default_rng(9), shape, np.maximum(bins, 0.5) ** (-exponent / 2))
    got = power_law_noise(
        np.random.default_rng(9), shape, exponent, sfreq=250.0, f_min=0.5, draw="time", normalize="expected",
        dtype=np.float32,
    )  # fmt: skip
    assert got.dtype == np.float32 and np.array_equal(got, expected)
    alpha = np.exp(-((bins - 10.2) ** 2) / (2 * 0.6**2))
    expected = _shaped_noise_before_the_kit(np.random.default_rng(9), shape, alpha)
    assert np.array_equal(coloured_noise(np.random.default_rng(9), shape, alpha, dtype=np.float32), expected)
