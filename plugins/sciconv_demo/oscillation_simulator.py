"""Simulated multichannel recordings of narrow-band oscillations in coloured noise.

Each trial holds one rhythmic source whose frequency is the class (like an SSVEP or a sleep spindle
band), projected onto the channels through a random but fixed spatial pattern, with waxing and waning
amplitude (a slow envelope, as bursts of cortical rhythms have), a random phase, a second harmonic, and
background activity with a 1/f^alpha power spectrum (:func:`sciconv.kit.noise.power_law_noise`) plus mains
interference. The signal-to-noise ratio sets how hard the problem is.

The dataset component that splits these trials for a pipeline is
:class:`sciconv_demo.datasets.OscillationDataset`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sciconv.kit.noise import power_law_noise

NOISE_UV = 10.0
"""RMS of the 1/f background on every channel, µV."""


def simulate_oscillations(
    n_trials: int,
    n_chans: int,
    sfreq: float,
    duration: float,
    freqs: Sequence[float],
    snr_db: float,
    alpha: float,
    line_freq: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate the trials; trial ``i`` belongs to class ``i % len(freqs)``.

    Args:
        n_trials: number of trials.
        n_chans: channels.
        sfreq: sampling rate in Hz.
        duration: trial length in seconds.
        freqs: class frequencies in Hz (their second harmonics below Nyquist).
        snr_db: power ratio of the rhythm to the background, in dB, on the best channel.
        alpha: exponent of the background's 1/f^alpha power spectrum.
        line_freq: mains frequency in Hz (0, or at or above Nyquist, leaves the interference out).
        seed: the simulator's seed; the same arguments give the same trials.

    Returns:
        Trials ``(n_trials, n_chans, round(duration * sfreq))`` float32 in µV and labels ``(n_trials,)`` int64.
    """
    nyquist = sfreq / 2
    rng = np.random.default_rng(seed)
    n_times = round(duration * sfreq)
    t = np.arange(n_times) / sfreq
    pattern = rng.uniform(0.3, 1.0, n_chans) * rng.choice([-1.0, 1.0], n_chans)
    pattern /= np.abs(pattern).max()
    labels = np.arange(n_trials) % len(freqs)
    amplitude = NOISE_UV * np.sqrt(2.0) * 10 ** (snr_db / 20.0)
    # complex Fourier coefficients, each trial and channel scaled to unit sample variance
    x = NOISE_UV * power_law_noise(rng, (n_trials, n_chans, n_times), alpha)
    for i, label in enumerate(labels):
        f = freqs[label] * rng.uniform(0.98, 1.02)
        phase = rng.uniform(0, 2 * np.pi)
        envelope = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 2 * np.pi))
        source = envelope * (np.sin(2 * np.pi * f * t + phase) + 0.3 * np.sin(4 * np.pi * f * t + 2 * phase))
        x[i] += amplitude * pattern[:, None] * source[None, :]
    if line_freq > 0 and line_freq < nyquist:
        x += 2.0 * np.sin(2 * np.pi * line_freq * t + rng.uniform(0, 2 * np.pi, (n_trials, n_chans, 1)))
    return x.astype(np.float32), labels.astype(np.int64)
