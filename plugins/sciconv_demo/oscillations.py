"""Simulated multichannel recordings of narrow-band oscillations in coloured noise.

Each trial holds one rhythmic source whose frequency is the class (like an SSVEP or a sleep spindle
band), projected onto the channels through a random but fixed spatial pattern, with waxing and waning
amplitude (a slow envelope, as bursts of cortical rhythms have), a random phase, a second harmonic, and
background activity with a 1/f^alpha power spectrum plus mains interference. The signal-to-noise
ratio sets how hard the problem is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError


def pink_noise(rng: np.random.Generator, shape: tuple[int, ...], alpha: float) -> np.ndarray:
    """Gaussian noise with power spectral density proportional to 1/f^alpha along the last axis,
    normalised to unit variance. ``shape``: (..., n_times)."""
    n = shape[-1]
    spectrum = rng.standard_normal((*shape[:-1], n // 2 + 1)) + 1j * rng.standard_normal((*shape[:-1], n // 2 + 1))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1]
    spectrum *= freqs ** (-alpha / 2.0)
    noise = np.fft.irfft(spectrum, n=n, axis=-1)
    return noise / noise.std(axis=-1, keepdims=True)


class OscillationDataset(DatasetBase):
    """Oscillation classification trials.

    Args:
        n_trials: number of trials in all (split 60/20/20 into train/val/test, stratified).
        n_chans: channels.
        sfreq: sampling rate in Hz.
        duration: trial length in seconds.
        freqs: class frequencies in Hz, one class per frequency.
        snr_db: power ratio of the rhythm to the background, in dB, on the best channel.
        alpha: exponent of the background's 1/f^alpha spectrum.
        line_freq: mains frequency in Hz (0 disables the interference).
        seed: simulator seed (independent of the training seed).
    """

    def __init__(
        self,
        n_trials: int = 800,
        n_chans: int = 4,
        sfreq: float = 128.0,
        duration: float = 2.0,
        freqs: tuple[float, ...] = (6.0, 9.0, 12.0, 15.0),
        snr_db: float = -10.0,
        alpha: float = 1.0,
        line_freq: float = 50.0,
        seed: int = 0,
    ) -> None:
        self.n_trials = n_trials
        self.n_chans = n_chans
        self.sfreq = sfreq
        self.duration = duration
        self.freqs = tuple(freqs)
        self.snr_db = snr_db
        self.alpha = alpha
        self.line_freq = line_freq
        self.seed = seed

    def validate(self) -> None:
        """Check the parameters (see the class docstring) without simulating anything."""
        if len(self.freqs) < 2:
            raise ConfigError("dataset.params.freqs: need at least two class frequencies")
        nyquist = self.sfreq / 2
        if max(self.freqs) * 2 >= nyquist:
            raise ConfigError(
                f"dataset.params.freqs: the 2nd harmonic of {max(self.freqs)} Hz exceeds Nyquist ({nyquist} Hz)"
            )
        if self.n_trials < 5 * len(self.freqs):
            raise ConfigError(
                f"dataset.params.n_trials: need at least {5 * len(self.freqs)} trials for {len(self.freqs)} classes"
            )
        if self.n_chans < 1 or self.sfreq <= 0 or self.duration <= 0:
            raise ConfigError("dataset.params: n_chans, sfreq and duration must be positive")

    def simulate(self) -> tuple[np.ndarray, np.ndarray]:
        """Trials ``(n_trials, n_chans, n_times)`` in microvolts and labels ``(n_trials,)``."""
        self.validate()
        nyquist = self.sfreq / 2
        rng = np.random.default_rng(self.seed)
        n_times = round(self.duration * self.sfreq)
        t = np.arange(n_times) / self.sfreq
        pattern = rng.uniform(0.3, 1.0, self.n_chans) * rng.choice([-1.0, 1.0], self.n_chans)
        pattern /= np.abs(pattern).max()
        labels = np.arange(self.n_trials) % len(self.freqs)
        noise_uv = 10.0
        amplitude = noise_uv * np.sqrt(2.0) * 10 ** (self.snr_db / 20.0)
        x = noise_uv * pink_noise(rng, (self.n_trials, self.n_chans, n_times), self.alpha)
        for i, label in enumerate(labels):
            f = self.freqs[label] * rng.uniform(0.98, 1.02)
            phase = rng.uniform(0, 2 * np.pi)
            envelope = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 2 * np.pi))
            source = envelope * (np.sin(2 * np.pi * f * t + phase) + 0.3 * np.sin(4 * np.pi * f * t + 2 * phase))
            x[i] += amplitude * pattern[:, None] * source[None, :]
        if self.line_freq > 0 and self.line_freq < nyquist:
            x += 2.0 * np.sin(
                2 * np.pi * self.line_freq * t + rng.uniform(0, 2 * np.pi, (self.n_trials, self.n_chans, 1))
            )
        return x.astype(np.float32), labels.astype(np.int64)

    def load(self) -> DataBundle:
        x, y = self.simulate()
        folds = (np.arange(len(y)) // len(self.freqs)) % 5  # labels cycle through the classes: stratified
        train_idx = np.flatnonzero(folds < 3)
        val_idx = np.flatnonzero(folds == 3)
        test_idx = np.flatnonzero(folds == 4)

        def split(idx: np.ndarray) -> TensorDataset:
            return TensorDataset(torch.from_numpy(x[idx]), torch.from_numpy(y[idx]))

        spec = DataSpec(
            input_shape=(self.n_chans, x.shape[-1]),
            n_outputs=len(self.freqs),
            task_type="classification",
            sfreq=self.sfreq,
            channels=tuple(f"ch{i + 1}" for i in range(self.n_chans)),
            classes=tuple(f"{f:g} Hz" for f in self.freqs),
            units="uV",
            extra={"freqs": list(self.freqs)},
        )
        return DataBundle(
            train=split(train_idx),
            val=split(val_idx),
            test=split(test_idx),
            spec=spec,
            info={"snr_db": self.snr_db, "simulator": "oscillations in 1/f noise"},
        )
