"""The in-memory form of an SSVEP dataset, shared by the readers, the simulator, the baselines and the task.

Every reader returns an :class:`SSVEPRecording`: MNE epochs of all trials (all subjects) with one
metadata row per trial, plus the stimulus table. Blocks are the unit of cross-validation: in the
Benchmark and BETA datasets a block holds one trial of every target; for recordings read through MNE
each session (file) is a block, so leave-one-block-out is cross-session evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import mne

# The 64 channels of the Benchmark and BETA recordings, in file order (Wang et al. 2017, 64-channels.loc).
BENCHMARK_CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8",
    "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ",
    "C2", "C4", "C6", "T8", "M1", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8",
    "M2", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO5", "PO3", "POZ", "PO4",
    "PO6", "PO8", "CB1", "O1", "OZ", "O2", "CB2",
)  # fmt: skip

# The nine occipital/parietal channels of the paper (1-based indices 48, 54-58, 61-63).
OCCIPITAL_9: tuple[str, ...] = ("PZ", "PO5", "PO3", "POZ", "PO4", "PO6", "O1", "OZ", "O2")

# The epochs' event name of unlabelled trials (target -1), whose targets are unknown.
UNLABELLED_EVENT = "unlabelled"

BENCHMARK_SFREQ = 250.0
BENCHMARK_ONSET_S = 0.5  # epochs start 0.5 s before stimulus onset
BENCHMARK_LATENCY_S = 0.14
BETA_LATENCY_S = 0.13


def benchmark_stimuli(n_targets: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """The Benchmark JFPM table: target k has f = 8 + (k mod 8) + 0.2 floor(k / 8) Hz and phase
    0.5 pi (f - 8) / 0.2 mod 2 pi. Returns ``(freqs in Hz, phases in rad)``, each ``(n_targets,)``."""
    k = np.arange(n_targets)
    freqs = 8.0 + (k % 8) + 0.2 * (k // 8)
    phases = np.mod(0.5 * np.pi * np.round((freqs - 8.0) / 0.2), 2 * np.pi)
    return freqs, phases


def beta_stimuli() -> tuple[np.ndarray, np.ndarray]:
    """The BETA table: target k has f = 8.6 + 0.2 k for k <= 36, then 8.0, 8.2, 8.4 Hz; phases as in
    the Benchmark (0.5 pi per 0.2 Hz step from 8 Hz)."""
    k = np.arange(40)
    freqs = np.where(k <= 36, 8.6 + 0.2 * k, 8.0 + 0.2 * (k - 37))
    phases = np.mod(0.5 * np.pi * np.round((freqs - 8.0) / 0.2), 2 * np.pi)
    return freqs, phases


@dataclass
class SSVEPRecording:
    """All trials of an SSVEP dataset and its stimulus table.

    Attributes:
        epochs: ``mne.EpochsArray`` of every trial (data in volts, MNE's unit), with a montage and a
            ``metadata`` DataFrame holding ``subject`` (str), ``block`` (int, 0-based), ``target``
            (int, 0-based class index; -1 for an unlabelled trial), ``frequency`` (Hz; NaN for a rest
            class or an unlabelled trial), ``phase`` (rad; NaN likewise) and ``session`` (str, the file or
            block it came from).
        freqs: stimulus frequency of each target in Hz, ``(n_targets,)`` (NaN for a rest class).
        phases: stimulus phase of each target in rad, ``(n_targets,)``.
        class_names: one name per target (``"8.0 Hz"``, ``"rest"``).
        onset: time of stimulus onset in the epoch, in seconds from the epoch's first sample.
        latency: visual latency in seconds; windows start at ``onset + latency``.
        name: the dataset (``"benchmark"``, ``"beta"``, ``"simulated-benchmark"``, ``"mne"``).
    """

    epochs: mne.BaseEpochs
    freqs: np.ndarray
    phases: np.ndarray
    class_names: tuple[str, ...]
    onset: float
    latency: float
    name: str

    @property
    def sfreq(self) -> float:
        """Sampling rate in Hz."""
        return float(self.epochs.info["sfreq"])

    @property
    def subjects(self) -> list[str]:
        """Subject ids in order of first appearance."""
        return list(dict.fromkeys(self.epochs.metadata["subject"]))

    @property
    def blocks(self) -> list[int]:
        """Block indices, sorted."""
        return sorted(set(int(b) for b in self.epochs.metadata["block"]))

    def window(self, duration: float, extra_after: float = 0.0) -> np.ndarray:
        """Every trial cropped to ``duration`` seconds from ``onset + latency``, in microvolts.

        Returns ``(n_trials, n_channels, round(duration * sfreq))``. ``extra_after`` seconds more are
        kept after the window (for filters that need a margin). Raises ``ValueError`` naming the
        epoch length when the window does not fit.
        """
        if self.onset + self.latency < 0:
            raise ValueError(f"the window would start {self.onset + self.latency:g} s before the epoch's first sample")
        start = round((self.onset + self.latency) * self.sfreq)
        n = round(duration * self.sfreq)
        extra = round(extra_after * self.sfreq)
        data = self.epochs.get_data(copy=False)
        if start + n + extra > data.shape[-1]:
            available = (data.shape[-1] - start) / self.sfreq
            raise ValueError(
                f"a window of {duration:g} s from onset + latency ({self.onset + self.latency:g} s) needs "
                f"{duration + extra_after:g} s but the epochs hold {available:.3f} s after that point"
            )
        return data[:, :, start : start + n + extra] * 1e6


def build_epochs(
    data: np.ndarray,
    info: mne.Info,
    meta: Mapping[str, Sequence[Any]],
    freqs: np.ndarray,
    phases: np.ndarray,
    event_id: Mapping[str, int],
    tmin: float,
) -> mne.EpochsArray:
    """The epochs every reader returns: ``data`` ``(n_trials, n_channels, n_samples)`` in volts, with the
    metadata columns of :class:`SSVEPRecording` built from ``meta`` (``subject``, ``block``, ``target``,
    ``session`` per trial) and the stimulus table. ``event_id`` maps class names, in target order, to
    event codes. A trial of target -1 is unlabelled: frequency and phase NaN, and the epochs' event
    ``"unlabelled"`` (a code beside those of ``event_id``)."""
    import mne
    import pandas as pd

    targets = np.asarray(meta["target"], dtype=int)
    known = targets >= 0
    class_codes = np.asarray(list(event_id.values()), dtype=int)
    event_id = dict(event_id)
    if not known.all():
        event_id[UNLABELLED_EVENT] = int(class_codes.max(initial=0)) + 1
    codes = np.where(known, class_codes[np.where(known, targets, 0)], event_id.get(UNLABELLED_EVENT, 0))
    freqs = np.asarray(freqs, dtype=float)
    phases = np.asarray(phases, dtype=float)
    events = np.column_stack([np.arange(len(targets)) * data.shape[-1], np.zeros(len(targets), int), codes])
    metadata = pd.DataFrame(
        {
            "subject": meta["subject"],
            "block": np.asarray(meta["block"], dtype=int),
            "target": targets,
            "frequency": np.where(known, freqs[np.where(known, targets, 0)], np.nan),
            "phase": np.where(known, phases[np.where(known, targets, 0)], np.nan),
            "session": meta["session"],
        }
    )
    return mne.EpochsArray(
        data,
        info,
        events=events,
        tmin=tmin,
        event_id=event_id,
        metadata=metadata,
        on_missing="ignore",
        verbose=False,
    )
