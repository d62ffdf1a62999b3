"""One underwater recording of a dataset, and how recordings are cut into segments.

A recording is the unit that splits keep whole: its segments never straddle a train / test boundary, and,
where the metadata names the ship, neither do a ship's recordings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class AudioNotice(UserWarning):
    """Something the reader changed or noticed about a recording (resampled, channel 0 of a stereo file, clipped
    samples, a recording too short for one segment, a class folder without recordings)."""


@dataclass(frozen=True)
class Recording:
    """One recording of a dataset.

    Attributes:
        path: the audio file.
        label: the class name as the dataset spells it (``Tanker``, ``Passengers``); ``None`` for a recording read
            without labels (to predict).
        recording_id: unique within the dataset, stable across runs (``Tanker/19``; ShipsEar: its numeric id).
        ship: the ship's identity where the metadata names it unambiguously (for splits by ship), else ``None``.
        duration_s: the recording's length in seconds.
        sample_rate: the file's own sampling rate in Hz.
    """

    path: Path
    label: str | None
    recording_id: str
    ship: str | None
    duration_s: float
    sample_rate: int


def segment_starts(n_samples: int, segment_samples: int, hop_samples: int) -> np.ndarray:
    """Start indices of the whole segments of ``segment_samples`` samples, every ``hop_samples``; shape
    ``(n_segments,)``, empty when the signal is shorter than one segment."""
    if segment_samples < 1 or hop_samples < 1:
        raise ValueError(f"segment and hop must be >= 1 sample, got {segment_samples} and {hop_samples}")
    if n_samples < segment_samples:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - segment_samples + 1, hop_samples, dtype=np.int64)


def cut_segments(
    signal: np.ndarray, sample_rate: int, segment_s: float, hop_s: float, *, name: str | Path = "recording"
) -> np.ndarray:
    """Cut a mono signal into whole segments: shape ``(n_segments, round(segment_s * sample_rate))``.

    A signal shorter than one segment gives no segments and an :class:`AudioNotice` naming it (its recording
    then takes no part in the run)."""
    seg = round(segment_s * sample_rate)
    hop = round(hop_s * sample_rate)
    starts = segment_starts(len(signal), seg, hop)
    if len(starts) == 0:
        warnings.warn(
            f"{name}: {len(signal) / sample_rate:.2f} s is shorter than one {segment_s:g} s segment; skipped",
            AudioNotice,
            stacklevel=2,
        )
        return np.zeros((0, seg), dtype=np.float32)
    index = starts[:, None] + np.arange(seg)[None, :]
    return np.asarray(signal, dtype=np.float32)[index]
