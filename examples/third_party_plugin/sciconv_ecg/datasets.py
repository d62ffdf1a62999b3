"""The ``ecg.beats`` dataset: simulated single-lead ECG beats, normal sinus beats versus PVCs."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import TensorDataset

from sciconv import DataBundle, DatasetBase, DataSpec
from sciconv.errors import ConfigError
from sciconv_ecg import ecg_simulator

CLASSES = ("normal", "PVC")
"""Class names; label 0 is a normal sinus beat, label 1 a premature ventricular contraction."""
REFERENCE = (
    "McSharry PE, Clifford GD, Tarassenko L, Smith LA. A dynamical model for generating synthetic "
    "electrocardiogram signals. IEEE Trans Biomed Eng 50(3):289-294, 2003"
)


class EcgBeatDataset(DatasetBase):
    """Lead-II beat windows centred on the R peak, simulated with the McSharry et al. (2003) model
    (see :mod:`sciconv_ecg.ecg_simulator`), labelled normal (0) or PVC (1).

    Each beat comes from its own short rhythm strip: heart rate drawn per beat, 4 % sinus arrhythmia,
    premature coupling and a compensatory pause for PVCs, beat-to-beat variability of every wave's
    amplitude, width and position, then baseline wander, EMG noise and mains interference in mV.
    Splits are stratified by class (every split keeps the PVC fraction).

    Args:
        n_beats: beats in all splits together (at least 20).
        pvc_fraction: fraction of beats that are PVCs (class imbalance), in (0, 1).
        sfreq: sampling rate in Hz, 100-2000 (the QRS needs at least 100 Hz).
        window_s: window length in seconds, centred on the R fiducial; 0.4-1.6 s, so that it holds the
            QRS and the T wave.
        heart_rate_bpm: mean sinus heart rate in beats per minute, 40-150.
        heart_rate_std_bpm: standard deviation of the heart rate between beats, 0-30 bpm (the rates are
            clipped to 40-150 bpm).
        variability: beat-to-beat relative variability of the wave amplitudes, 0-0.5 (widths vary half as
            much); also the log-normal spread of the lead gain.
        baseline_wander_mv: amplitude of the respiratory baseline wander in mV, 0-5 (0.15 in the paper).
        emg_noise_mv: typical standard deviation of the electromyographic noise in mV, 0-5.
        mains_hz: power-line frequency in Hz (50 or 60; 0 disables the interference), below the Nyquist
            frequency ``sfreq / 2``.
        mains_mv: amplitude of the mains interference in mV, 0-5.
        val_fraction: fraction of each class held out for validation, in (0, 0.5).
        test_fraction: fraction of each class held out for testing, in (0, 0.5); ``val_fraction +
            test_fraction`` is at most 0.6.
        seed: simulator seed (independent of the training seed).

    Samples are ``(x, y)``: ``x`` float32 of shape ``(1, round(window_s * sfreq))`` in mV, ``y`` an
    int64 class index. ``spec.extra["r_index"]`` is the sample of the R fiducial.

    Each parameter's range is declared in the signature (``Annotated[..., Field(...)]``) and checked by
    the pipeline before the dataset is built, with an error naming ``dataset.params.<name>``;
    :meth:`validate` checks what relates several parameters (the Nyquist limit, the split sizes).
    """

    def __init__(
        self,
        n_beats: Annotated[int, Field(ge=20)] = 600,
        pvc_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.25,
        sfreq: Annotated[float, Field(ge=100.0, le=2000.0)] = 250.0,
        window_s: Annotated[float, Field(ge=0.4, le=1.6)] = 0.8,
        heart_rate_bpm: Annotated[float, Field(ge=40.0, le=150.0)] = 72.0,
        heart_rate_std_bpm: Annotated[float, Field(ge=0.0, le=30.0)] = 8.0,
        variability: Annotated[float, Field(ge=0.0, le=0.5)] = 0.1,
        baseline_wander_mv: Annotated[float, Field(ge=0.0, le=5.0)] = 0.15,
        emg_noise_mv: Annotated[float, Field(ge=0.0, le=5.0)] = 0.04,
        mains_hz: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 50.0,
        mains_mv: Annotated[float, Field(ge=0.0, le=5.0)] = 0.05,
        val_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.2,
        test_fraction: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.2,
        seed: int = 0,
    ) -> None:
        self.n_beats = n_beats
        self.pvc_fraction = pvc_fraction
        self.sfreq = sfreq
        self.window_s = window_s
        self.heart_rate_bpm = heart_rate_bpm
        self.heart_rate_std_bpm = heart_rate_std_bpm
        self.variability = variability
        self.baseline_wander_mv = baseline_wander_mv
        self.emg_noise_mv = emg_noise_mv
        self.mains_hz = mains_hz
        self.mains_mv = mains_mv
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed

    # -- validation ----------------------------------------------------------------------------

    def split_counts(self) -> dict[str, dict[str, int]]:
        """Beats per split and class, ``{"train": {"normal": n, "PVC": m}, ...}``, after checking the
        parameters that relate to each other (:class:`~sciconv.errors.ConfigError` naming them otherwise);
        every split must hold at least 2 beats of each class."""
        self._validate()
        n_pvc = round(self.n_beats * self.pvc_fraction)
        counts: dict[str, dict[str, int]] = {"train": {}, "val": {}, "test": {}}
        for name, total in zip(CLASSES, (self.n_beats - n_pvc, n_pvc), strict=True):
            n_val = round(total * self.val_fraction)
            n_test = round(total * self.test_fraction)
            counts["train"][name] = total - n_val - n_test
            counts["val"][name] = n_val
            counts["test"][name] = n_test
        for split, per_class in counts.items():
            for name, count in per_class.items():
                if count < 2:
                    raise ConfigError(
                        f"dataset.params: the {split} split would hold {count} {name} beat(s) "
                        f"(n_beats={self.n_beats}, pvc_fraction={self.pvc_fraction}, "
                        f"val_fraction={self.val_fraction}, test_fraction={self.test_fraction}); "
                        "every split needs at least 2 beats of each class: raise n_beats or pvc_fraction"
                    )
        return counts

    def _validate(self) -> None:
        """The checks that relate several parameters. Each parameter's own range is declared in the
        signature and checked by the pipeline (``check_params``) before the dataset is built."""
        if self.mains_hz > 0 and self.mains_hz >= self.sfreq / 2:
            raise ConfigError(
                f"dataset.params.mains_hz: {self.mains_hz:g} Hz is at or above the Nyquist frequency "
                f"{self.sfreq / 2:g} Hz of sfreq={self.sfreq:g}; raise sfreq or set mains_hz: 0"
            )
        if self.val_fraction + self.test_fraction > 0.6:
            raise ConfigError(
                f"dataset.params: val_fraction + test_fraction = {self.val_fraction + self.test_fraction:g} "
                "leaves less than 40 % of the beats for training; expected at most 0.6"
            )

    # -- simulation ----------------------------------------------------------------------------

    @property
    def n_times(self) -> int:
        """Samples per window."""
        return round(self.window_s * self.sfreq)

    def simulate(self) -> tuple[np.ndarray, np.ndarray]:
        """All beats, ``(n_beats, 1, n_times)`` float32 in mV, and labels ``(n_beats,)`` int64 (in
        random order)."""
        self.split_counts()
        rng = np.random.default_rng(self.seed)
        n, n_times = self.n_beats, self.n_times
        labels = np.zeros(n, dtype=np.int64)
        labels[: round(n * self.pvc_fraction)] = 1
        labels = rng.permutation(labels)
        heart_rate = np.clip(self.heart_rate_bpm + self.heart_rate_std_bpm * rng.standard_normal(n), 40.0, 150.0)
        params = ecg_simulator.strip_parameters(rng, labels, heart_rate, self.variability)
        gain = ecg_simulator.sinus_gain_mv(self.heart_rate_bpm, self.sfreq, n_times)
        lead_gain = np.exp(1.5 * self.variability * rng.standard_normal((n, 1)))
        x = gain * lead_gain * ecg_simulator.render_strips(params, self.sfreq, n_times)
        t = (np.arange(n_times) - n_times // 2) / self.sfreq
        x += ecg_simulator.baseline_wander(rng, n, t, self.baseline_wander_mv)
        x += ecg_simulator.emg_noise(rng, n, n_times, self.sfreq, self.emg_noise_mv)
        x += ecg_simulator.mains_interference(rng, n, t, self.mains_hz, self.mains_mv)
        return x[:, None, :].astype(np.float32), labels

    def validate(self) -> None:
        """Check every parameter and the split sizes they imply, without simulating anything."""
        self.split_counts()

    def load(self) -> DataBundle:
        """Simulate the beats and split them, stratified by class, into train, val and test."""
        counts = self.split_counts()
        x, y = self.simulate()
        rng = np.random.default_rng([self.seed, 1])
        parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
        for label, name in enumerate(CLASSES):
            idx = rng.permutation(np.flatnonzero(y == label))
            n_val, n_test = counts["val"][name], counts["test"][name]
            parts["val"].append(idx[:n_val])
            parts["test"].append(idx[n_val : n_val + n_test])
            parts["train"].append(idx[n_val + n_test :])

        def split(name: str) -> TensorDataset:
            idx = np.sort(np.concatenate(parts[name]))
            return TensorDataset(torch.from_numpy(x[idx]), torch.from_numpy(y[idx]))

        spec = DataSpec(
            input_shape=(1, self.n_times),
            n_outputs=len(CLASSES),
            task_type="classification",
            sfreq=float(self.sfreq),
            channels=("II",),
            classes=CLASSES,
            units="mV",
            extra={"r_index": self.n_times // 2, "window_s": float(self.window_s), "mains_hz": float(self.mains_hz)},
        )
        info: dict[str, Any] = {
            "simulator": "McSharry et al. (2003) dynamical ECG model; PVCs as wide, P-less, discordant-T beats",
            "reference": REFERENCE,
            "counts": counts,
            "pvc_fraction": self.pvc_fraction,
        }
        return DataBundle(train=split("train"), val=split("val"), test=split("test"), spec=spec, info=info)
