"""The demo's dataset component: simulated oscillation trials (:mod:`sciconv_demo.oscillation_simulator`),
split 60/20/20 into train, validation and test, stratified by class.

The trials are simulated in memory on every load (well under a second at the default size); there is no
file layout to write, so nothing is cached.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError
from sciconv_demo.oscillation_simulator import simulate_oscillations


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
        n_chans: Annotated[int, Field(ge=1)] = 4,
        sfreq: Annotated[float, Field(gt=0)] = 128.0,
        duration: Annotated[float, Field(gt=0)] = 2.0,
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
        """Check the parameters that depend on each other (see the class docstring) without simulating
        anything; single-parameter constraints are in the signature, checked by the pipeline."""
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

    def simulate(self) -> tuple[np.ndarray, np.ndarray]:
        """Trials ``(n_trials, n_chans, n_times)`` in microvolts and labels ``(n_trials,)``."""
        self.validate()
        return simulate_oscillations(
            n_trials=self.n_trials,
            n_chans=self.n_chans,
            sfreq=self.sfreq,
            duration=self.duration,
            freqs=self.freqs,
            snr_db=self.snr_db,
            alpha=self.alpha,
            line_freq=self.line_freq,
            seed=self.seed,
        )

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
