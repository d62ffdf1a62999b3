"""What the SSVEP DNN sees: sub-band waveforms (the paper's input) or their spectra, and shifted crops.

Guney et al.'s DNN is, in effect, a learnt template method: it reads the sub-band waveforms of a window that
starts a fixed latency after the stimulus onset, so it needs responses phase-locked to that onset. Where the
stimuli flicker freely (LEDs, head-mounted displays: the SSVEP exoskeleton data) the phase at the trial start is
random and the time-domain network learns nothing. Two documented options make it work there, following the
literature on non-phase-locked SSVEP:

- **Spectral input** (``dnn_input``): each sub-band's window (Hann-tapered, zero-padded to at least
  ``1 / spectral_resolution`` s) Fourier-transformed and cut to ``spectral_band``; ``magnitude`` gives the log
  magnitude, z-scored across the band for each sub-band and channel (Kwak, Müller & Lee 2017 fed magnitude spectra
  to a CNN; the log and the z-score remove the session's gain and 1/f slope), which is independent of the phase;
  ``complex`` gives the real and imaginary parts (Ravi et al. 2020), scaled by the window's RMS, concatenated
  along the frequency axis, which keeps the phase. The DNN's layers are unchanged: its "time" axis becomes a
  frequency axis.
- **Cropped training** (``crops``): each training trial contributes windows of length T starting at random
  shifts anywhere in the epoch after onset + latency (Braindecode's cropped decoding); at test time the softmax
  outputs of ``test_crops`` evenly spaced windows are averaged. A phase-sensitive input then cannot rely on
  the phase at the window start.

All features are float32, shaped ``(n_trials, n_subbands, n_channels, n_features)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from sciconv_bci_ssvep.filterbank import guney_subbands
from sciconv_bci_ssvep.recording import SSVEPRecording

DnnInput = Literal["time", "magnitude", "complex"]


def spectral_grid(n_times: int, sfreq: float, band: Sequence[float], resolution: float) -> tuple[int, np.ndarray]:
    """The FFT length (the window zero-padded to at least ``1 / resolution`` s) and the mask of the rfft bins in
    ``band`` (Hz). Returns ``(nfft, keep (nfft // 2 + 1,) bool)``."""
    lo, hi = float(band[0]), float(band[1])
    if not 0 <= lo < hi:
        raise ValueError(f"spectral_band must be [low, high] Hz with 0 <= low < high, got {list(band)}")
    if hi > sfreq / 2:
        raise ValueError(f"spectral_band's upper edge {hi:g} Hz is above the Nyquist frequency {sfreq / 2:g} Hz")
    nfft = max(int(n_times), int(np.ceil(sfreq / resolution)))
    freqs = np.fft.rfftfreq(nfft, 1.0 / sfreq)
    keep = (freqs >= lo) & (freqs <= hi)
    if not keep.any():
        raise ValueError(f"spectral_band {list(band)} holds no frequency bin at {sfreq / nfft:.3g} Hz resolution")
    return nfft, keep


def n_features(
    kind: DnnInput, n_times: int, sfreq: float, band: Sequence[float] = (5.0, 90.0), resolution: float = 0.5
) -> int:
    """Length of the DNN input's last axis for a window of ``n_times`` samples."""
    if kind == "time":
        return int(n_times)
    _, keep = spectral_grid(n_times, sfreq, band, resolution)
    return int(keep.sum()) * (2 if kind == "complex" else 1)


def dnn_features(
    x: np.ndarray,
    sfreq: float,
    n_subbands: int,
    kind: DnnInput = "time",
    band: Sequence[float] = (5.0, 90.0),
    resolution: float = 0.5,
) -> np.ndarray:
    """The DNN's input of windows ``x`` (n, C, N) µV: sub-band waveforms (``time``, µV) or their spectra (see the
    module docstring). Returns ``(n, n_subbands, C, n_features)`` float32."""
    bands = guney_subbands(x, sfreq, n_subbands)
    if kind == "time":
        return bands
    n = bands.shape[-1]
    nfft, keep = spectral_grid(n, sfreq, band, resolution)
    taper = np.hanning(n).astype(np.float32)
    spectrum = np.fft.rfft(bands * taper, n=nfft, axis=-1)[..., keep]
    if kind == "magnitude":
        logmag = np.log(np.abs(spectrum) + 1e-6)
        mean = logmag.mean(axis=-1, keepdims=True)
        sd = logmag.std(axis=-1, keepdims=True)
        return ((logmag - mean) / (sd + 1e-6)).astype(np.float32)
    if kind == "complex":
        scale = np.sqrt(np.mean(bands**2, axis=-1, keepdims=True)) * np.sqrt(n) + 1e-6
        return (np.concatenate((spectrum.real, spectrum.imag), axis=-1) / scale).astype(np.float32)
    raise ValueError(f"dnn_input must be time, magnitude or complex, got {kind!r}")


def epoch_span(recording: SSVEPRecording) -> float:
    """Seconds of every epoch available after onset + latency (where windows may start and end)."""
    start = round((recording.onset + recording.latency) * recording.sfreq)
    n_total = recording.epochs.get_data(copy=False).shape[-1]
    return (n_total - start) / recording.sfreq


def cropped_windows(recording: SSVEPRecording, window: float, starts_s: np.ndarray) -> np.ndarray:
    """Each trial's window of ``window`` s starting ``starts_s[i]`` s after onset + latency, in µV.
    Shapes: starts (n_trials,) -> (n_trials, C, round(window * sfreq))."""
    full = recording.window(epoch_span(recording))
    n_win = round(window * recording.sfreq)
    offsets = np.round(np.asarray(starts_s, dtype=float) * recording.sfreq).astype(int)
    if offsets.shape != (len(full),):
        raise ValueError(f"starts must give one start per trial ({len(full)}), got shape {offsets.shape}")
    if offsets.min(initial=0) < 0 or offsets.max(initial=0) + n_win > full.shape[-1]:
        raise ValueError(
            f"crops of {window:g} s starting up to {offsets.max(initial=0) / recording.sfreq:g} s after onset + "
            f"latency do not fit the {full.shape[-1] / recording.sfreq:g} s the epochs hold"
        )
    return np.stack([full[i, :, o : o + n_win] for i, o in enumerate(offsets)])


def evenly_spaced_starts(recording: SSVEPRecording, window: float, n_crops: int) -> np.ndarray:
    """``n_crops`` starts (s after onset + latency) from 0 to the last that fits, evenly spaced."""
    room = _room(recording, window)
    return np.linspace(0.0, room, n_crops) if n_crops > 1 else np.zeros(1)


def _room(recording: SSVEPRecording, window: float) -> float:
    """The latest start (s after onset + latency, on the sample grid) of a ``window`` s crop."""
    room = max(0.0, epoch_span(recording) - window)
    return float(np.floor(room * recording.sfreq) / recording.sfreq)


def test_inputs(
    recording: SSVEPRecording,
    window: float,
    n_subbands: int,
    kind: DnnInput,
    n_crops: int,
    band: Sequence[float],
    resolution: float,
) -> torch.Tensor:
    """Every trial's DNN inputs at test time: ``n_crops`` evenly spaced windows (1: the window at onset + latency,
    the paper's). Returns ``(n_crops, n_trials, n_subbands, C, n_features)``."""
    n = len(recording.epochs)
    if n_crops <= 1:
        x = recording.window(window)
        return torch.from_numpy(dnn_features(x, recording.sfreq, n_subbands, kind, band, resolution))[None]
    out = []
    for start in evenly_spaced_starts(recording, window, n_crops):
        x = cropped_windows(recording, window, np.full(n, start))
        out.append(torch.from_numpy(dnn_features(x, recording.sfreq, n_subbands, kind, band, resolution)))
    return torch.stack(out)


def training_crops(
    recording: SSVEPRecording,
    members: np.ndarray,
    window: float,
    n_subbands: int,
    kind: DnnInput,
    n_crops: int,
    band: Sequence[float],
    resolution: float,
    rng: np.random.Generator,
) -> torch.Tensor:
    """``n_crops`` windows per trial of ``members`` (boolean mask over all trials) at random shifts (each trial
    its own, uniform over the room the epoch leaves). Returns ``(n_crops, n_members, n_subbands, C, F)``."""
    room = _room(recording, window)
    n = len(recording.epochs)
    index = np.flatnonzero(members)
    out = []
    for _ in range(n_crops):
        starts = np.zeros(n)
        starts[index] = np.round(rng.uniform(0.0, room, len(index)) * recording.sfreq) / recording.sfreq
        x = cropped_windows(recording, window, starts)[index]
        out.append(torch.from_numpy(dnn_features(x, recording.sfreq, n_subbands, kind, band, resolution)))
    return torch.stack(out)


class CropPool(Dataset):
    """Training trials with several crops each: item ``i`` is one of trial ``i``'s crops, drawn at random (torch's
    RNG, so the engine's seeding makes it reproducible) each time it is read. Shapes: pool (K, n, ...), labels (n,)."""

    def __init__(self, pool: torch.Tensor, labels: torch.Tensor) -> None:
        if pool.shape[1] != len(labels):
            raise ValueError(f"the pool holds {pool.shape[1]} trials but there are {len(labels)} labels")
        self.pool = pool
        self.labels = labels

    def __len__(self) -> int:
        return int(self.pool.shape[1])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = int(torch.randint(self.pool.shape[0], ()).item()) if self.pool.shape[0] > 1 else 0
        return self.pool[k, index], self.labels[index]


def average_softmax(outputs: torch.Tensor, n_crops: int) -> torch.Tensor:
    """Mean softmax over crops of outputs stacked crop-major. Shapes: (n_crops * n, classes) -> (n, classes)."""
    return torch.softmax(outputs.reshape(n_crops, -1, outputs.shape[-1]), dim=-1).mean(dim=0)


__all__ = [
    "CropPool",
    "DnnInput",
    "average_softmax",
    "cropped_windows",
    "dnn_features",
    "epoch_span",
    "evenly_spaced_starts",
    "n_features",
    "spectral_grid",
    "test_inputs",
    "training_crops",
]
