"""A simulator of SSVEP speller recordings that writes the Tsinghua Benchmark layout.

:func:`simulate_benchmark` writes ``S1.mat`` .. ``S<n>.mat`` (``data``: ``[64 channels, 1500 samples,
n_targets, n_blocks]`` float64 in µV at 250 Hz, epochs -0.5 .. 5.5 s around stimulus onset) and
``Freq_Phase.mat``, so that :func:`~sciconv_bci_ssvep.mat_io.read_benchmark` reads the result exactly as
it reads the real dataset. Each trial is the sum of an SSVEP and a background (all in µV):

SSVEP. Target k flickers at ``f_k`` Hz with phase ``phi_k`` rad (the JFPM table of
:func:`~sciconv_bci_ssvep.recording.benchmark_stimuli`) from onset for ``stimulus_duration`` s. Subject s
responds after a visual latency ``L_s`` ~ U(``latency_range``) s; with ``tau = t - onset - L_s - d_n`` (s)
the time since the response of trial n started (``d_n`` ~ N(0, ``latency_jitter``) s), channel c carries::

    x_ssvep[n, c, t] = g_n * sum_{h=1..n_harmonics} Re( G_{s,h}[c] * a_{s,h}(f_k) * e(tau)
                                                      * exp(i (2 pi f_k h tau + h phi_k + theta_{s,h})) )

- ``a_{s,h}(f) = A_s (f / 10 Hz)^-freq_exponent exp(-harmonic_decay (h - 1)) r_{s,h}`` µV: amplitudes
  decay with the harmonic and fall roughly as 1/f with the stimulus frequency; ``r_{s,h}`` ~
  LogNormal(0, 0.2) is a subject's harmonic profile; ``A_s`` is set from the SNR (below).
- ``theta_{s,h}`` ~ U(0, 2 pi): subject- and harmonic-specific phase offsets; with the carrier's
  ``2 pi f h tau`` the phase at onset + L_s is ``h phi_k + theta_{s,h}``, i.e. the response lags the
  stimulus by ``2 pi f h L_s`` rad.
- ``e(tau)``: 0 before the response starts, ``1 - exp(-tau / rise_time)`` during the stimulus (a short
  rise), then an exponential decay with ``decay_time`` s after the stimulus ends.
- ``G_{s,h}`` (64 complex weights, max modulus 1): two sources seen through Gaussian falloffs
  ``exp(-|r_c - r_0|^2 / (2 pattern_width^2))`` over the channels' MNE 10-05 positions ``r_c`` (m); one
  centred near Oz, one near POz (relative strength U(0.3, 0.8), relative phase U(-pi/2, pi/2)), each
  centre shifted per subject by N(0, ``centre_shift``) m per axis and a little more per harmonic. The
  phase therefore varies smoothly across the parieto-occipital channels, as in real SSVEPs.
- ``g_n`` ~ LogNormal(mean 1, sd ``trial_amplitude_sd``): trial-to-trial amplitude variability.

Phase locking (``phase_locking``). ``"locked"`` (the default) is the Benchmark's protocol: the stimulus is
drawn on a monitor synchronised to the trial-start event, so every trial of target k starts at the table's
``phi_k`` and the response is phase-locked to onset, which template methods (TRCA, the Guney DNN) rely on.
``"free"`` models freely flickering LEDs driven by their own oscillator, not synchronised to the trial-start
event (the SSVEP exoskeleton data, Kalunga et al. 2016): in the formula above ``phi_k`` becomes the trial's
``psi_n + D_n(tau)``, where

- ``psi_n`` ~ U(0, 2 pi) rad is the stimulus phase at the trial-start event, independent across trials;
- ``D_n(s) = 2 pi int_0^s df_n(u) du`` rad is the phase the LED gains (or loses) on its nominal carrier
  ``2 pi f_k s`` by time ``s`` (s) after onset, its instantaneous frequency being ``f_k + df_n(s)``; the
  frequency error ``df_n`` is an Ornstein-Uhlenbeck process (a stationary Gauss-Markov process: mean 0,
  sd ``phase_drift_hz`` Hz, correlation time ``phase_drift_time`` s, drawn afresh for each trial), the
  slow wander of a free-running oscillator's frequency. The phase therefore wanders smoothly: its sd grows
  as ``2 pi phase_drift_hz s`` for ``s << phase_drift_time`` and as ``2 pi phase_drift_hz sqrt(2
  phase_drift_time s)`` for ``s >> phase_drift_time`` (about 0.3 rad after 1 s and 0.9 rad after 5 s with
  the defaults, 0.05 Hz and 1 s).

Harmonic h follows the stimulus: its phase is ``h (psi_n + D_n(tau))``. ``Freq_Phase.mat`` keeps the nominal
table (the phases are then not honoured). The free mode draws its numbers from a generator of its own (seeded
from the seed, the subject and a fixed tag), so the rest of a subject (background, amplitudes, latencies) is
the same as in the locked mode, and the locked mode gives the same numbers as before the option existed.

Background (independent across trials; per-subject values drawn once):

- 1/f EEG: 64 independent noises with power spectrum ``1/f^alpha_s`` (alpha_s ~
  U(``background_exponent_range``), flat below 0.5 Hz; :func:`sciconv.kit.noise.power_law_noise`) mixed
  through the Cholesky factor of the smooth spatial covariance ``exp(-|r_c - r_c'| / background_length)``;
  RMS ``background_uv`` x LogNormal(0, 0.2) per channel.
- Alpha rhythm: two parieto-occipital sources (near PO3 and PO4, Gaussian falloff 5 cm) of narrow-band
  noise (a Gaussian spectral peak of sd ``alpha_bandwidth`` Hz at the subject's ``f_alpha`` ~
  U(``alpha_freq_range``) Hz), whose random envelope waxes and wanes over about a second; RMS
  ``alpha_uv`` x LogNormal(0, 0.3) at the source's centre.
- Line noise: ``line_freq`` Hz sinusoid of amplitude ``line_noise_uv`` x U(0.5, 1.5) per channel, a random
  phase per trial common to all channels plus a small per-channel offset. The default, 0.3 µV, is the
  residue of a recording notch-filtered at 50 Hz, as the Benchmark was: a spatially coherent line of
  even 1.5 µV brings FBCCA (whose 8-90 Hz sub-bands and 5-harmonic references include 50 Hz) to chance,
  because targets with a harmonic near 50 Hz then win every trial.
- Sensor noise: white, ``sensor_noise_uv`` RMS per channel.

SNR. ``A_s`` is chosen so that at the channel where the subject's fundamental is strongest, the power of
the steady-state SSVEP averaged over targets, ``mean_k sum_h |a_{s,h}(f_k) G_{s,h}[c]|^2 / 2``, is
``snr_db + delta_s`` dB relative to the subject's measured background power (all components) within
``snr_band`` (7-90 Hz, the band the filter-bank methods analyse) at that channel, with ``delta_s`` ~
N(0, ``subject_snr_sd_db``): some subjects are much easier than others. The band-limited reference keeps
a subject's difficulty from depending on its low-frequency power, which dominates the broadband RMS.
With the defaults (``snr_db`` = -2.5 dB) the fundamental at the peak channel is about 3-6 µV at 10 Hz
on a background of about 10-20 µV RMS broadband (4-7 µV within 7-90 Hz), and FBCCA (5 sub-bands,
5 harmonics, nine occipital channels) reaches accuracies close to those of the real Benchmark: about
45-50 % for 0.4 s windows and 80-85 % for 1 s, averaged over subjects.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.fft
from scipy.signal import lfilter
from scipy.spatial.distance import cdist

from sciconv.errors import ConfigError
from sciconv.kit.noise import coloured_noise, power_law_noise
from sciconv_bci_ssvep.mat_io import (
    BENCHMARK_N_SAMPLES,
    N_CHANNELS,
    benchmark_positions,
    write_benchmark_subject,
    write_freq_phase,
)
from sciconv_bci_ssvep.recording import (
    BENCHMARK_CHANNELS,
    BENCHMARK_ONSET_S,
    BENCHMARK_SFREQ,
    benchmark_stimuli,
)

DEFAULT_SNR_DB = -2.5
PhaseLocking = Literal["locked", "free"]
PHASE_LOCKING_MODES: tuple[str, ...] = ("locked", "free")
DEFAULT_PHASE_DRIFT_HZ = 0.05
"""sd of the free-running stimulus' frequency error, Hz (``phase_locking="free"``)."""
DEFAULT_PHASE_DRIFT_TIME_S = 1.0
"""Correlation time of the free-running stimulus' frequency error, s (``phase_locking="free"``)."""
_FREE_PHASE_TAG = int.from_bytes(b"free", "big")
"""Third word of the free mode's generator seed ``[seed, subject, tag]``: a stream apart from the subject's."""
SIMULATOR_VERSION = 1
"""Part of the simulation cache's key (:func:`sciconv.kit.cached_simulation`): raise it whenever a change here
changes the simulated data for the same parameters, so that cached files written before are not reused."""


@dataclass(frozen=True)
class SSVEPPhysics:
    """Parameters of the simulated physiology (see the module docstring for the model).

    Attributes:
        latency_range: range of the subjects' visual latencies, s.
        latency_jitter: sd of the trial-to-trial latency jitter, s.
        rise_time: time constant of the response's rise after onset + latency, s.
        decay_time: time constant of its decay after the stimulus ends, s.
        stimulus_duration: flicker duration from onset, s.
        n_harmonics: number of harmonics of the response.
        harmonic_decay: amplitude of harmonic h relative to the fundamental is exp(-harmonic_decay (h-1)).
        freq_exponent: SSVEP amplitude falls as (f / 10 Hz)^-freq_exponent with the stimulus frequency.
        snr_band: frequency band of the background power that the SNR is relative to, Hz.
        subject_snr_sd_db: sd of the subjects' SNR around ``snr_db``, dB.
        trial_amplitude_sd: sd of the trial-to-trial SSVEP amplitude factor (mean 1).
        pattern_width: sd of the Gaussian spatial falloff of the SSVEP sources, m.
        centre_shift: sd of the subject-specific shift of the SSVEP source centres per axis, m.
        background_uv: RMS of the 1/f background per channel, µV.
        background_exponent_range: range of the subjects' 1/f^alpha power-spectrum exponents.
        background_length: spatial correlation length of the background, m.
        alpha_uv: RMS of the alpha rhythm at its sources' centres, µV.
        alpha_freq_range: range of the subjects' alpha peak frequencies, Hz.
        alpha_bandwidth: sd of the alpha spectral peak, Hz.
        line_noise_uv: typical amplitude of the line noise, µV.
        line_freq: line frequency, Hz.
        sensor_noise_uv: RMS of the white sensor noise, µV.
    """

    latency_range: tuple[float, float] = (0.13, 0.15)
    latency_jitter: float = 0.005
    rise_time: float = 0.05
    decay_time: float = 0.1
    stimulus_duration: float = 5.0
    n_harmonics: int = 5
    harmonic_decay: float = 0.6
    freq_exponent: float = 1.0
    snr_band: tuple[float, float] = (7.0, 90.0)
    subject_snr_sd_db: float = 3.0
    trial_amplitude_sd: float = 0.25
    pattern_width: float = 0.035
    centre_shift: float = 0.01
    background_uv: float = 12.0
    background_exponent_range: tuple[float, float] = (1.8, 2.3)
    background_length: float = 0.1
    alpha_uv: float = 5.0
    alpha_freq_range: tuple[float, float] = (9.0, 11.0)
    alpha_bandwidth: float = 0.6
    line_noise_uv: float = 0.3
    line_freq: float = 50.0
    sensor_noise_uv: float = 1.0

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first invalid parameter."""
        lo, hi = self.latency_range
        if not 0 <= lo <= hi < BENCHMARK_N_SAMPLES / BENCHMARK_SFREQ - BENCHMARK_ONSET_S:
            raise ConfigError(f"latency_range must be 0 <= low <= high < 5.5 s, got {self.latency_range}")
        lo, hi = self.alpha_freq_range
        if not 0 < lo <= hi < BENCHMARK_SFREQ / 2:
            raise ConfigError(f"alpha_freq_range must be 0 < low <= high < 125 Hz, got {self.alpha_freq_range}")
        lo, hi = self.background_exponent_range
        if not 0 <= lo <= hi:
            raise ConfigError(
                f"background_exponent_range must be 0 <= low <= high, got {self.background_exponent_range}"
            )
        lo, hi = self.snr_band
        if not 0 <= lo < hi:
            raise ConfigError(f"snr_band must be 0 <= low < high Hz, got {self.snr_band}")
        if not isinstance(self.n_harmonics, int) or self.n_harmonics < 1:
            raise ConfigError(f"n_harmonics must be an integer >= 1, got {self.n_harmonics!r}")
        positive = ("rise_time", "decay_time", "stimulus_duration", "pattern_width", "background_length")
        positive += ("alpha_bandwidth", "line_freq")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        non_negative = ("latency_jitter", "harmonic_decay", "subject_snr_sd_db", "trial_amplitude_sd")
        non_negative += ("centre_shift", "background_uv", "alpha_uv", "line_noise_uv", "sensor_noise_uv")
        for name in non_negative:
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be >= 0, got {value!r}")
        if not np.isfinite(self.freq_exponent):
            raise ConfigError(f"freq_exponent must be finite, got {self.freq_exponent!r}")


@dataclass
class SimulatedSubject:
    """One simulated subject and the parameters drawn for it.

    Attributes:
        data: ``[64 channels, 1500 samples, n_targets, n_blocks]`` in µV (the Benchmark layout; float32,
            written to files as float64).
        freqs: stimulus frequencies, Hz, ``(n_targets,)``; ``phases``: stimulus phases, rad.
        latency: the subject's visual latency, s.
        snr_db: the subject's SNR (``snr_db`` plus its offset), dB.
        alpha_freq: alpha peak frequency, Hz.
        background_exponent: exponent alpha of the 1/f^alpha background power spectrum.
        peak_channel: the channel (Benchmark name) where the fundamental is strongest.
        amplitudes: SSVEP amplitude of each target and harmonic at ``peak_channel``, µV,
            ``(n_targets, n_harmonics)``.
        background_rms: RMS of the background at ``peak_channel``, µV.
        band_rms: RMS of the background at ``peak_channel`` within ``snr_band``, µV.
        ssvep: the SSVEP component alone, like ``data``; only with ``keep_components=True``.
        onset_phases: with ``phase_locking="free"``, each trial's stimulus phase at onset (``psi_n``), rad,
            ``(n_targets, n_blocks)``; ``None`` in the locked mode (the phases are ``phases``).
    """

    data: np.ndarray
    freqs: np.ndarray
    phases: np.ndarray
    latency: float
    snr_db: float
    alpha_freq: float
    background_exponent: float
    peak_channel: str
    amplitudes: np.ndarray
    background_rms: float
    band_rms: float
    ssvep: np.ndarray | None = None
    onset_phases: np.ndarray | None = None


def _gaussian_pattern(positions: np.ndarray, centre: np.ndarray, width: float) -> np.ndarray:
    d2 = np.sum((positions - centre) ** 2, axis=1)
    return np.exp(-d2 / (2 * width**2))


def _check_design(n_targets: int, n_blocks: int, snr_db: float) -> None:
    for name, value in (("n_targets", n_targets), ("n_blocks", n_blocks)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    if n_targets > 40:
        raise ConfigError(f"n_targets must be at most 40 (the Benchmark stimulus table), got {n_targets}")
    if not isinstance(snr_db, int | float | np.number) or not (np.isfinite(snr_db) or snr_db == -np.inf):
        raise ConfigError(f"snr_db must be a number (or -inf for no SSVEP), got {snr_db!r}")


def _check_phase_locking(phase_locking: str, phase_drift_hz: float, phase_drift_time: float) -> None:
    if not isinstance(phase_locking, str) or phase_locking not in PHASE_LOCKING_MODES:
        raise ConfigError(f"phase_locking must be one of {', '.join(PHASE_LOCKING_MODES)}, got {phase_locking!r}")

    def finite(value: object) -> bool:
        return isinstance(value, int | float | np.number) and not isinstance(value, bool) and bool(np.isfinite(value))

    if not (finite(phase_drift_hz) and phase_drift_hz >= 0):
        raise ConfigError(f"phase_drift_hz must be a finite number >= 0 Hz, got {phase_drift_hz!r}")
    if not (finite(phase_drift_time) and phase_drift_time > 0):
        raise ConfigError(f"phase_drift_time must be a finite number > 0 s, got {phase_drift_time!r}")


def _free_phases(
    rng: np.random.Generator, n_trials: int, n_t: int, sfreq: float, drift_hz: float, drift_time: float
) -> tuple[np.ndarray, np.ndarray]:
    """The free-running stimulus of each trial: its phase at onset ``psi_n`` ~ U(0, 2 pi), rad,
    ``(n_trials,)``, and its phase drift ``D_n`` at times ``j / sfreq`` s after onset, rad, ``(n_trials, n_t)``:
    ``2 pi`` times the integral of an Ornstein-Uhlenbeck frequency error (sd ``drift_hz`` Hz, correlation
    time ``drift_time`` s), drawn with its exact AR(1) discretisation from its stationary distribution."""
    onset = rng.uniform(0, 2 * np.pi, n_trials)
    rho = math.exp(-1 / (sfreq * drift_time))
    innovations = rng.standard_normal((n_trials, n_t)) * (drift_hz * math.sqrt(1 - rho**2))
    innovations[:, 0] *= 1 / math.sqrt(1 - rho**2)  # the first value from the stationary N(0, drift_hz^2)
    freq_error = lfilter([1.0], [1.0, -rho], innovations, axis=-1)  # Hz
    drift = np.zeros((n_trials, n_t))
    drift[:, 1:] = (2 * np.pi / sfreq) * np.cumsum(freq_error[:, :-1], axis=-1)
    return onset, drift


def simulate_subject(
    subject: int,
    *,
    seed: int = 0,
    n_blocks: int = 6,
    n_targets: int = 40,
    snr_db: float = DEFAULT_SNR_DB,
    physics: SSVEPPhysics | None = None,
    keep_components: bool = False,
    phase_locking: PhaseLocking = "locked",
    phase_drift_hz: float = DEFAULT_PHASE_DRIFT_HZ,
    phase_drift_time: float = DEFAULT_PHASE_DRIFT_TIME_S,
) -> SimulatedSubject:
    """Simulate one subject (1-based number) in the Benchmark layout; see the module docstring.

    The subject's parameters and noise depend only on ``(seed, subject)``, so subject 3 is the same
    whichever other subjects are simulated. ``snr_db=-inf`` leaves the SSVEP out (background only).
    ``keep_components=True`` also returns the SSVEP component alone (``SimulatedSubject.ssvep``).
    ``phase_locking="free"`` gives every trial a random stimulus phase at onset and a slowly drifting
    stimulus frequency (sd ``phase_drift_hz`` Hz, correlation time ``phase_drift_time`` s; both unused when
    ``"locked"``), as with freely flickering LEDs; everything but the SSVEP's phase is the same as locked.
    Returns a :class:`SimulatedSubject` whose ``data`` is ``[64, 1500, n_targets, n_blocks]`` in µV.
    Raises ``ConfigError`` for invalid parameters, or a finite ``snr_db`` with every background
    component switched off (the SNR is relative to the background).
    """
    physics = physics or SSVEPPhysics()
    physics.validate()
    _check_design(n_targets, n_blocks, snr_db)
    _check_phase_locking(phase_locking, phase_drift_hz, phase_drift_time)
    rng = np.random.default_rng([int(seed), int(subject)])
    sfreq, n_t = BENCHMARK_SFREQ, BENCHMARK_N_SAMPLES
    n_trials = n_blocks * n_targets  # trial n is block n // n_targets, target n % n_targets
    positions = benchmark_positions()
    index = {c: i for i, c in enumerate(BENCHMARK_CHANNELS)}
    freqs_bins = scipy.fft.rfftfreq(n_t, 1 / sfreq)

    # --- subject parameters
    latency = rng.uniform(*physics.latency_range)
    exponent = rng.uniform(*physics.background_exponent_range)
    alpha_freq = rng.uniform(*physics.alpha_freq_range)
    subject_snr = snr_db + rng.normal(0.0, physics.subject_snr_sd_db)
    harmonics = np.arange(1, physics.n_harmonics + 1)
    harmonic_gain = np.exp(-physics.harmonic_decay * (harmonics - 1)) * rng.lognormal(0.0, 0.2, harmonics.size)
    theta = rng.uniform(0, 2 * np.pi, harmonics.size)

    # --- SSVEP spatial patterns: complex (64, n_harmonics), max modulus 1 per harmonic
    centre_a = positions[index["OZ"]] + rng.normal(0, physics.centre_shift, 3)
    centre_b = positions[index["POZ"]] + rng.normal(0, physics.centre_shift, 3)
    strength_b = rng.uniform(0.3, 0.8)
    patterns = np.empty((N_CHANNELS, harmonics.size), dtype=complex)
    for j in range(harmonics.size):
        wa = _gaussian_pattern(positions, centre_a + rng.normal(0, physics.centre_shift / 2, 3), physics.pattern_width)
        wb = _gaussian_pattern(positions, centre_b + rng.normal(0, physics.centre_shift / 2, 3), physics.pattern_width)
        g = wa + strength_b * np.exp(1j * rng.uniform(-np.pi / 2, np.pi / 2)) * wb
        patterns[:, j] = g / np.abs(g).max()
    peak = int(np.argmax(np.abs(patterns[:, 0])))

    # --- background: 1/f EEG mixed by a smooth spatial covariance
    distances = cdist(positions, positions)
    mixing = np.linalg.cholesky(np.exp(-distances / physics.background_length) + 1e-9 * np.eye(N_CHANNELS))
    channel_rms = physics.background_uv * rng.lognormal(0.0, 0.2, N_CHANNELS)
    mixing = (channel_rms[:, None] * mixing).astype(np.float32)
    # white float32 samples filtered to 1/f^exponent (flat below 0.5 Hz), unit variance in expectation
    sources = power_law_noise(
        rng,
        (n_trials, N_CHANNELS, n_t),
        exponent,
        sfreq=sfreq,
        f_min=0.5,
        draw="time",
        normalize="expected",
        dtype=np.float32,
    )
    background = np.einsum("ij,njt->nit", mixing, sources, optimize=True)  # float32, (n_trials, 64, n_t)
    del sources

    # alpha rhythm: two narrow-band parieto-occipital sources
    if physics.alpha_uv > 0:
        alpha_gain = np.exp(-((freqs_bins - alpha_freq) ** 2) / (2 * physics.alpha_bandwidth**2))
        alpha_sources = coloured_noise(
            rng, (n_trials, 2, n_t), alpha_gain, draw="time", normalize="expected", dtype=np.float32
        )
        alpha_patterns = np.stack(
            [
                _gaussian_pattern(positions, positions[index[c]] + rng.normal(0, physics.centre_shift, 3), 0.05)
                for c in ("PO3", "PO4")
            ],
            axis=1,
        ) * (physics.alpha_uv * rng.lognormal(0.0, 0.3, 2))
        background += np.einsum("ij,njt->nit", alpha_patterns.astype(np.float32), alpha_sources, optimize=True)

    # line noise: common phase per trial, small per-channel phase offsets
    if physics.line_noise_uv > 0:
        t = np.arange(n_t) / sfreq
        amp = physics.line_noise_uv * rng.uniform(0.5, 1.5, N_CHANNELS)
        offset = rng.normal(0.0, 0.3, N_CHANNELS)
        carrier = 2 * np.pi * physics.line_freq * t[None, :] + rng.uniform(0, 2 * np.pi, (n_trials, 1))
        # A sin(w t + psi + offset) = A cos(offset) sin(w t + psi) + A sin(offset) cos(w t + psi)
        weights = np.stack([amp * np.cos(offset), amp * np.sin(offset)], axis=1).astype(np.float32)
        carriers = np.stack([np.sin(carrier), np.cos(carrier)], axis=1).astype(np.float32)  # (n_trials, 2, n_t)
        background += np.einsum("ck,nkt->nct", weights, carriers, optimize=True)

    if physics.sensor_noise_uv > 0:
        background += np.float32(physics.sensor_noise_uv) * rng.standard_normal(background.shape, dtype=np.float32)
    at_peak = background[:, peak].astype(np.float64)
    background_power = float(np.mean(at_peak**2))
    # background power at the peak channel within snr_band (Parseval over the rfft bins in the band)
    spectrum = np.abs(scipy.fft.rfft(at_peak, axis=-1)) ** 2
    in_band = (freqs_bins >= physics.snr_band[0]) & (freqs_bins <= physics.snr_band[1])
    band_power = float(2 * spectrum[:, in_band].sum(axis=-1).mean() / n_t**2)

    # --- SSVEP
    stim_freqs, stim_phases = benchmark_stimuli(n_targets)
    freq_gain = (stim_freqs / 10.0) ** (-physics.freq_exponent)
    unit_amplitudes = freq_gain[:, None] * harmonic_gain[None, :] * np.abs(patterns[peak])[None, :]
    unit_power = float(np.mean(np.sum(unit_amplitudes**2, axis=1) / 2))
    if np.isfinite(subject_snr) and band_power <= 0:
        raise ConfigError(
            f"snr_db={snr_db} is relative to the background within {physics.snr_band} Hz, which is zero here; "
            "keep some background (background_uv, alpha_uv, sensor_noise_uv) or use keep_components=True"
        )
    scale = math.sqrt(band_power * 10 ** (subject_snr / 10) / unit_power) if np.isfinite(subject_snr) else 0.0
    trial_gain = rng.lognormal(-(physics.trial_amplitude_sd**2) / 2, physics.trial_amplitude_sd, n_trials)
    jitter = rng.normal(0.0, physics.latency_jitter, n_trials)
    onset_phase = drift = None
    if phase_locking == "free":  # a generator of its own: the locked mode's numbers stay as they were
        free_rng = np.random.default_rng([int(seed), int(subject), _FREE_PHASE_TAG])
        onset_phase, drift = _free_phases(free_rng, n_trials, n_t, sfreq, float(phase_drift_hz), phase_drift_time)
    ssvep = np.zeros_like(background) if keep_components else None
    if scale > 0:
        target = np.arange(n_trials) % n_targets
        tau = (np.arange(n_t) / sfreq - BENCHMARK_ONSET_S)[None, :] - latency - jitter[:, None]  # (n_trials, n_t)
        duration = physics.stimulus_duration
        envelope = np.where(tau < 0, 0.0, 1 - np.exp(-np.clip(tau, 0, None) / physics.rise_time))
        after = tau > duration
        envelope[after] = (1 - math.exp(-duration / physics.rise_time)) * np.exp(
            -(tau[after] - duration) / physics.decay_time
        )
        amplitude = scale * trial_gain * freq_gain[target]  # (n_trials,)
        if onset_phase is None:
            stimulus_phase = stim_phases[target, None, None]  # (n_trials, 1, 1)
        else:
            # the stimulus phase psi_n + D_n(tau) that the response at tau follows, D_n interpolated linearly
            # from its grid j / sfreq (tau < 0: no response yet, D_n(0) = 0)
            position = np.clip(tau * sfreq, 0, n_t - 1)
            below = np.minimum(position.astype(np.intp), n_t - 2)
            frac = position - below
            at_tau = np.take_along_axis(drift, below, axis=1) * (1 - frac)
            at_tau += np.take_along_axis(drift, below + 1, axis=1) * frac
            stimulus_phase = (onset_phase[:, None] + at_tau)[:, None, :]  # (n_trials, 1, n_t)
        phase = (
            2 * np.pi * stim_freqs[target, None, None] * harmonics[None, :, None] * tau[:, None, :]
            + harmonics[None, :, None] * stimulus_phase
            + theta[None, :, None]
        )  # (n_trials, n_harmonics, n_t)
        weight = (amplitude[:, None] * harmonic_gain[None, :])[:, :, None] * envelope[:, None, :]
        source_re = (weight * np.cos(phase)).astype(np.float32)
        source_im = (weight * np.sin(phase)).astype(np.float32)
        # Re(G z) = Re(G) Re(z) - Im(G) Im(z), summed over harmonics: (64, H) @ (n, H, T) -> (n, 64, T)
        response = np.einsum("ch,nht->nct", patterns.real.astype(np.float32), source_re, optimize=True)
        response -= np.einsum("ch,nht->nct", patterns.imag.astype(np.float32), source_im, optimize=True)
        background += response
        if ssvep is not None:
            ssvep += response
        del response

    def layout(x: np.ndarray) -> np.ndarray:  # (n_trials, 64, n_t) -> [64, n_t, n_targets, n_blocks]
        return x.reshape(n_blocks, n_targets, N_CHANNELS, n_t).transpose(2, 3, 1, 0)

    data = layout(background)
    return SimulatedSubject(
        data=data,
        freqs=stim_freqs,
        phases=stim_phases,
        latency=float(latency),
        snr_db=float(subject_snr),
        alpha_freq=float(alpha_freq),
        background_exponent=float(exponent),
        peak_channel=BENCHMARK_CHANNELS[peak],
        amplitudes=scale * unit_amplitudes,
        background_rms=math.sqrt(background_power),
        band_rms=math.sqrt(band_power),
        ssvep=None if ssvep is None else layout(ssvep),
        onset_phases=None if onset_phase is None else onset_phase.reshape(n_blocks, n_targets).T,
    )


def simulate_benchmark(
    root: str | Path,
    n_subjects: int = 8,
    *,
    seed: int = 0,
    n_blocks: int = 6,
    n_targets: int = 40,
    snr_db: float = DEFAULT_SNR_DB,
    physics: SSVEPPhysics | None = None,
    subjects: Sequence[int] | None = None,
    phase_locking: PhaseLocking = "locked",
    phase_drift_hz: float = DEFAULT_PHASE_DRIFT_HZ,
    phase_drift_time: float = DEFAULT_PHASE_DRIFT_TIME_S,
) -> list[Path]:
    """Write a simulated dataset in the Benchmark layout to ``root`` and return the subject files.

    Writes ``S1.mat`` .. ``S<n_subjects>.mat`` (``data``: float64 ``[64, 1500, n_targets, n_blocks]`` in µV,
    250 Hz, -0.5 .. 5.5 s around onset; about 184 MB per subject at 40 targets x 6 blocks) and
    ``Freq_Phase.mat`` (the JFPM table of the first ``n_targets`` Benchmark targets). ``subjects`` (1-based
    numbers) writes only those subjects instead of 1 .. n_subjects. Existing files are replaced. Each
    file is written to a temporary name and renamed. See the module docstring for the model and
    :class:`SSVEPPhysics` for its parameters; ``phase_locking``, ``phase_drift_hz`` (Hz) and
    ``phase_drift_time`` (s) are :func:`simulate_subject`'s (``"free"``: not phase-locked to onset).

    Returns the paths of the subject files, in subject order.
    """
    if isinstance(n_subjects, bool) or not isinstance(n_subjects, int | np.integer) or n_subjects < 1:
        raise ConfigError(f"n_subjects must be an integer >= 1, got {n_subjects!r}")
    numbers = list(range(1, n_subjects + 1)) if subjects is None else [int(s) for s in subjects]
    if not numbers or min(numbers) < 1:
        raise ConfigError(f"subjects must be subject numbers >= 1, got {subjects!r}")
    physics = physics or SSVEPPhysics()
    physics.validate()
    _check_design(n_targets, n_blocks, snr_db)
    _check_phase_locking(phase_locking, phase_drift_hz, phase_drift_time)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    others = sorted(
        (
            p.name
            for p in root.glob("S*.mat")
            if re.fullmatch(r"S(\d+)\.mat", p.name) and int(p.name[1:-4]) not in numbers
        ),
        key=lambda name: int(name[1:-4]),
    )
    if others:
        warnings.warn(
            f"{root} already holds {', '.join(others)}, which this simulation does not write; "
            "read_benchmark on the folder will read them too",
            stacklevel=2,
        )
    # each file is written in a background thread while the next subject is simulated
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: list[Future[Path]] = []
        for number in numbers:
            sim = simulate_subject(
                number,
                seed=seed,
                n_blocks=n_blocks,
                n_targets=n_targets,
                snr_db=snr_db,
                physics=physics,
                phase_locking=phase_locking,
                phase_drift_hz=phase_drift_hz,
                phase_drift_time=phase_drift_time,
            )
            if pending:
                pending[-1].result()  # at most one subject waiting to be written: bounded memory
            pending.append(writer.submit(write_benchmark_subject, root / f"S{number}.mat", sim.data))
            del sim
        paths = [f.result() for f in pending]
    write_freq_phase(root, *benchmark_stimuli(n_targets))
    return paths
