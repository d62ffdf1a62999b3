"""Spectrogram front-ends of the CMoE paper: STFT, Mel, Bark and CQT log-power features of ship-noise segments.

Xie, Ren and Xu (2024) feed spectrogram-type features of fixed-length segments to a ResNet-18; they name the four
kinds but do not publish frame sizes, hops or filter counts. The defaults of :class:`FeatureConfig` are OUR choice:

- 16 kHz audio, a 64 ms Hann analysis window (1024 samples) and a 32 ms hop (512 samples, 50 % overlap), frames
  centred on ``t = k * hop`` with zero padding at the ends (librosa's ``center=True``): a segment of ``n`` samples
  has ``1 + n // hop`` frames (94 for 3 s at 16 kHz);
- ``stft``: the power of every FFT bin with ``fmin <= f <= fmax``; the FFT length is the window length rounded up
  to a power of two (1024 points: bins 15.6 Hz apart, 512 bins from 15.6 Hz to 8 kHz with the defaults);
  ``n_bands`` does not apply;
- ``mel``: 64 triangular filters on librosa's (Slaney) Mel scale between ``fmin = 10 Hz`` and ``fmax`` (Nyquist);
- ``bark``: 64 triangular filters equally spaced on Traunmüller's (1990) Bark scale between ``fmin`` and ``fmax``
  (librosa has no Bark filterbank; :func:`bark_filterbank`);
- ``cqt``: librosa's constant-Q transform, 64 bins at 12 bins per octave from ``fmin = 10 Hz``: 5.3 octaves,
  10 Hz to 380 Hz, the band of shaft, blade and machinery lines (raise ``bins_per_octave`` or ``fmin`` to reach
  higher).

Levels. The STFT is divided by the window's sum, so that a tone of amplitude ``A`` (waveform units) centred on a
bin gives power ``A**2 / 4`` (-6 dB for ``A = 1``). The Mel and Bark filters have peak weight 1 (no area
normalisation): a band holds the STFT power that it covers, a tone at a filter's centre reads about 1 dB above the
STFT's peak bin (the Hann main lobe spans several bins), and a tone between two centres is shared by both filters.
The CQT's power is librosa's (scaled, L1-normalised wavelets) divided by each filter's length, which also gives
``A**2 / 4`` for a tone centred on a bin. Features are ``10 log10(power + 1e-10)`` in dB, float32, shape
``(n_segments, n_bands_out, n_frames)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import librosa
import numpy as np

from sciconv.errors import ConfigError, DataError, did_you_mean

__all__ = [
    "FEATURE_KINDS",
    "FeatureConfig",
    "band_frequencies",
    "bark_band_edges",
    "bark_filterbank",
    "bark_to_hz",
    "feature_shape",
    "hz_to_bark",
    "spectrogram",
]

FEATURE_KINDS: tuple[str, ...] = ("stft", "mel", "bark", "cqt")

POWER_FLOOR = 1e-10  # added to power before the log: the floor of the features is -100 dB
_MIN_FRAME_SAMPLES = 8
_CHUNK = 128  # segments transformed at a time (bounds the memory of the complex STFT)


@dataclass(frozen=True)
class FeatureConfig:
    """How segments become log-power spectrogram features (defaults: see the module docstring).

    Attributes:
        kind: one of :data:`FEATURE_KINDS`.
        sample_rate: the segments' sampling rate in Hz.
        frame_s: the analysis window in seconds (``round(frame_s * sample_rate)`` samples; the STFT's FFT length is
            that rounded up to a power of two, zero-padded).
        hop_s: the hop between frames in seconds (``round(hop_s * sample_rate)`` samples).
        n_bands: Mel or Bark filters, or CQT bins; not used by ``stft``, which keeps every FFT bin from ``fmin`` to
            ``fmax``.
        fmin: the lowest frequency in Hz (the lower edge of the first Mel / Bark filter, the first CQT bin's centre,
            the lowest STFT bin kept).
        fmax: the highest frequency in Hz, ``None`` for the Nyquist frequency ``sample_rate / 2``.
        bins_per_octave: CQT resolution.
    """

    kind: str = "mel"
    sample_rate: int = 16000
    frame_s: float = 0.064
    hop_s: float = 0.032
    n_bands: int = 64
    fmin: float = 10.0
    fmax: float | None = None
    bins_per_octave: int = 12

    # -- derived sizes -------------------------------------------------------------------------------------------
    @property
    def nyquist(self) -> float:
        """``sample_rate / 2`` in Hz."""
        return self.sample_rate / 2.0

    @property
    def fmax_hz(self) -> float:
        """``fmax``, or the Nyquist frequency when ``fmax`` is ``None``."""
        return self.nyquist if self.fmax is None else float(self.fmax)

    @property
    def win_length(self) -> int:
        """The analysis window in samples."""
        return round(self.frame_s * self.sample_rate)

    @property
    def n_fft(self) -> int:
        """The FFT length in samples: the window length, rounded up to a power of two for ``stft``."""
        if self.kind == "stft":
            return 1 << max(0, math.ceil(math.log2(self.win_length)))
        return self.win_length

    @property
    def hop_length(self) -> int:
        """The hop in samples."""
        return round(self.hop_s * self.sample_rate)

    # -- checks and serialisation --------------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`~sciconv.errors.ConfigError` naming the first bad field: an unknown ``kind``, a
        non-positive rate, frame, hop or band count, ``fmin``/``fmax`` outside ``0 <= fmin < fmax <= Nyquist``,
        Mel / Bark filters too narrow to hold an FFT bin, or CQT bins whose filters reach above ``fmax``."""
        if not isinstance(self.kind, str) or self.kind not in FEATURE_KINDS:
            hint = did_you_mean(self.kind, FEATURE_KINDS) if isinstance(self.kind, str) else ""
            raise ConfigError(f"FeatureConfig.kind={self.kind!r} is not one of {', '.join(FEATURE_KINDS)}{hint}")
        if not _is_int(self.sample_rate) or self.sample_rate <= 0:
            raise ConfigError(f"FeatureConfig.sample_rate={self.sample_rate!r} must be a positive integer (Hz)")
        for name in ("frame_s", "hop_s", "fmin"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value):
                raise ConfigError(f"FeatureConfig.{name}={value!r} must be a finite number")
        if self.frame_s <= 0 or self.win_length < _MIN_FRAME_SAMPLES:
            raise ConfigError(
                f"FeatureConfig.frame_s={self.frame_s!r} gives a {self.win_length}-sample window at "
                f"{self.sample_rate} Hz; need at least {_MIN_FRAME_SAMPLES} samples"
            )
        if self.hop_s <= 0 or self.hop_length < 1:
            raise ConfigError(
                f"FeatureConfig.hop_s={self.hop_s!r} gives a {self.hop_length}-sample hop at {self.sample_rate} Hz; "
                "need at least 1 sample"
            )
        if not _is_int(self.n_bands) or self.n_bands < 1:
            raise ConfigError(f"FeatureConfig.n_bands={self.n_bands!r} must be a positive integer")
        if not _is_int(self.bins_per_octave) or self.bins_per_octave < 1:
            raise ConfigError(f"FeatureConfig.bins_per_octave={self.bins_per_octave!r} must be a positive integer")
        if self.fmax is not None:
            if not _is_real(self.fmax) or not math.isfinite(self.fmax) or self.fmax <= 0:
                raise ConfigError(f"FeatureConfig.fmax={self.fmax!r} must be a positive number (Hz) or None")
            if self.fmax > self.nyquist:
                raise ConfigError(
                    f"FeatureConfig.fmax={self.fmax!r} Hz is above the Nyquist frequency {self.nyquist:g} Hz "
                    f"of sample_rate={self.sample_rate}"
                )
        if self.fmin < 0 or self.fmin >= self.fmax_hz:
            raise ConfigError(f"FeatureConfig.fmin={self.fmin!r} Hz must be >= 0 and below fmax ({self.fmax_hz:g} Hz)")
        if self.kind == "stft":
            if len(_stft_bins(self.sample_rate, self.n_fft, self.fmin, self.fmax_hz)) == 0:
                raise ConfigError(
                    f"FeatureConfig.fmin={self.fmin!r} .. fmax={self.fmax_hz:g} Hz holds no FFT bin of the "
                    f"{self.n_fft}-point STFT (bins {self.sample_rate / self.n_fft:g} Hz apart)"
                )
        elif self.kind in ("mel", "bark"):
            bank = _filterbank(self.kind, self.sample_rate, self.n_fft, self.n_bands, float(self.fmin), self.fmax_hz)
            empty = np.flatnonzero(bank.max(axis=1) <= 0)
            if len(empty):
                raise ConfigError(
                    f"FeatureConfig.n_bands={self.n_bands}: {len(empty)} of the {self.kind} filters between "
                    f"{self.fmin:g} and {self.fmax_hz:g} Hz are narrower than the {self.sample_rate / self.n_fft:g} Hz "
                    f"FFT bin spacing and hold no bin (first: filter {empty[0]}); use fewer bands, a higher fmin or "
                    "a longer frame_s"
                )
        else:  # cqt
            if self.fmin <= 0:
                raise ConfigError(f"FeatureConfig.fmin={self.fmin!r} must be > 0 Hz for the CQT")
            freqs = _cqt_frequencies(self.n_bands, float(self.fmin), self.bins_per_octave)
            _, cutoff = _cqt_lengths(self.sample_rate, self.n_bands, float(self.fmin), self.bins_per_octave)
            if cutoff > self.fmax_hz:
                raise ConfigError(
                    f"FeatureConfig.n_bands={self.n_bands}: CQT bins from fmin={self.fmin:g} Hz at "
                    f"{self.bins_per_octave} per octave reach {freqs[-1]:.1f} Hz, whose filter extends to "
                    f"{cutoff:.1f} Hz, above fmax={self.fmax_hz:g} Hz; use fewer bins, a lower fmin or more "
                    "bins_per_octave"
                )

    def as_dict(self) -> dict[str, Any]:
        """The fields as plain Python values (for cache keys, run reports and :meth:`from_dict`)."""
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, params: dict[str, Any]) -> FeatureConfig:
        """A validated config from ``params`` (missing keys take the defaults); unknown keys raise
        :class:`~sciconv.errors.ConfigError`."""
        names = [f.name for f in fields(cls)]
        unknown = [k for k in params if k not in names]
        if unknown:
            raise ConfigError(
                f"FeatureConfig: unknown parameter {unknown[0]!r} (known: {', '.join(names)})"
                f"{did_you_mean(str(unknown[0]), names)}"
            )
        config = cls(**params)
        config.validate()
        return config


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


# -- Bark scale -------------------------------------------------------------------------------------------------------
def hz_to_bark(f: np.ndarray | float) -> np.ndarray | float:
    """Traunmüller's (1990) critical-band rate ``z = 26.81 f / (1960 + f) - 0.53`` in Bark, for ``f`` in Hz (any
    shape; the low- and high-end corrections of the paper are not applied, so that :func:`bark_to_hz` inverts it
    exactly)."""
    f = np.asarray(f, dtype=np.float64)
    z = 26.81 * f / (1960.0 + f) - 0.53
    return z if z.ndim else float(z)


def bark_to_hz(z: np.ndarray | float) -> np.ndarray | float:
    """The inverse of :func:`hz_to_bark`: ``f = 1960 (z + 0.53) / (26.28 - z)`` in Hz, for ``z < 26.28`` Bark."""
    z = np.asarray(z, dtype=np.float64)
    f = 1960.0 * (z + 0.53) / (26.28 - z)
    return f if f.ndim else float(f)


def bark_band_edges(n_bands: int, fmin: float, fmax: float) -> np.ndarray:
    """``n_bands + 2`` frequencies in Hz equally spaced in Bark from ``fmin`` to ``fmax``: filter ``k`` rises from
    ``edges[k]``, peaks at its centre ``edges[k + 1]`` and falls to ``edges[k + 2]``."""
    return np.asarray(bark_to_hz(np.linspace(hz_to_bark(fmin), hz_to_bark(fmax), n_bands + 2)))


def bark_filterbank(sample_rate: int, n_fft: int, n_bands: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters equally spaced on the Bark scale, weights of the ``n_fft // 2 + 1`` FFT bins: shape
    ``(n_bands, n_fft // 2 + 1)``, float32.

    Filter ``k`` is a triangle on the Bark axis with peak 1 at its centre (:func:`bark_band_edges`) and zeros at
    its neighbours' centres: ``w = max(0, 1 - |z(f) - z_k| / dz)``. Between the first and last centres the weights
    of the filters sum to 1 at every frequency; the first filter starts at ``fmin``, the last ends at ``fmax``.
    """
    if n_bands < 1 or not 0 <= fmin < fmax:
        raise ConfigError(f"bark_filterbank: need n_bands >= 1 and 0 <= fmin < fmax; got {n_bands}, {fmin}, {fmax}")
    z_edges = np.linspace(hz_to_bark(fmin), hz_to_bark(fmax), n_bands + 2)
    dz = z_edges[1] - z_edges[0]
    z_bins = np.asarray(hz_to_bark(librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)))
    weights = 1.0 - np.abs(z_bins[None, :] - z_edges[1:-1, None]) / dz
    return np.clip(weights, 0.0, None).astype(np.float32)


# -- band frequencies and shapes ------------------------------------------------------------------------------------
def _stft_bins(sample_rate: int, n_fft: int, fmin: float, fmax: float) -> np.ndarray:
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)
    return np.flatnonzero((freqs >= fmin) & (freqs <= fmax))


def _cqt_frequencies(n_bins: int, fmin: float, bins_per_octave: int) -> np.ndarray:
    return librosa.cqt_frequencies(n_bins=n_bins, fmin=fmin, bins_per_octave=bins_per_octave)


def _cqt_lengths(sample_rate: int, n_bins: int, fmin: float, bins_per_octave: int) -> tuple[np.ndarray, float]:
    """librosa's CQT filter lengths in samples and the frequency where the top filter has decayed by 3 dB."""
    freqs = _cqt_frequencies(n_bins, fmin, bins_per_octave)
    ratio = 2.0 ** (1.0 / bins_per_octave)
    alpha = None if n_bins > 1 else np.atleast_1d((ratio**2 - 1.0) / (ratio**2 + 1.0))  # librosa, one bin
    lengths, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sample_rate, alpha=alpha)
    return np.asarray(lengths), float(cutoff)


@lru_cache(maxsize=32)
def _filterbank(kind: str, sample_rate: int, n_fft: int, n_bands: int, fmin: float, fmax: float) -> np.ndarray:
    if kind == "bark":
        bank = bark_filterbank(sample_rate, n_fft, n_bands, fmin, fmax)
    else:
        with warnings.catch_warnings():  # empty filters are reported by FeatureConfig.validate
            warnings.filterwarnings("ignore", message="Empty filters detected")
            bank = librosa.filters.mel(
                sr=sample_rate, n_fft=n_fft, n_mels=n_bands, fmin=fmin, fmax=fmax, norm=None, dtype=np.float32
            )
    bank.setflags(write=False)
    return bank


def band_frequencies(config: FeatureConfig) -> np.ndarray:
    """The centre frequency in Hz of each output band, low to high: shape ``(n_bands_out,)`` (STFT: the bins kept;
    Mel / Bark: the filters' peaks; CQT: the bins' centres)."""
    config.validate()
    fmin, fmax = float(config.fmin), config.fmax_hz
    if config.kind == "stft":
        freqs = librosa.fft_frequencies(sr=config.sample_rate, n_fft=config.n_fft)
        return freqs[_stft_bins(config.sample_rate, config.n_fft, fmin, fmax)]
    if config.kind == "mel":
        return librosa.mel_frequencies(n_mels=config.n_bands + 2, fmin=fmin, fmax=fmax)[1:-1]
    if config.kind == "bark":
        return bark_band_edges(config.n_bands, fmin, fmax)[1:-1]
    return _cqt_frequencies(config.n_bands, fmin, config.bins_per_octave)


def feature_shape(config: FeatureConfig, segment_samples: int) -> tuple[int, int]:
    """``(n_bands_out, n_frames)`` of :func:`spectrogram` for segments of ``segment_samples`` samples, without
    computing it: ``n_frames = 1 + segment_samples // hop_length``."""
    config.validate()
    if not _is_int(segment_samples) or segment_samples < config.win_length:
        raise ConfigError(
            f"segment_samples={segment_samples!r} is shorter than one {config.win_length}-sample analysis frame "
            f"(frame_s={config.frame_s:g} s at {config.sample_rate} Hz)"
        )
    if config.kind == "stft":
        n_bands = len(_stft_bins(config.sample_rate, config.n_fft, float(config.fmin), config.fmax_hz))
    else:
        n_bands = config.n_bands
    return n_bands, 1 + int(segment_samples) // config.hop_length


# -- the transform ----------------------------------------------------------------------------------------------------
def _stft_power(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``(n, n_fft // 2 + 1, n_frames)`` power, calibrated so that a centred tone of amplitude A gives A**2 / 4."""
    spec = librosa.stft(
        y,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window="hann",
        center=True,
        pad_mode="constant",
    )
    window_sum = float(librosa.filters.get_window("hann", config.win_length, fftbins=True).sum())
    power = spec.real**2 + spec.imag**2
    power /= np.float32(window_sum**2)
    return power


def _cqt_power(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """``(n, n_bins, n_frames)`` power; librosa's scaled CQT gives ``A sqrt(length) / 2`` for a tone of amplitude A
    at a bin's centre, so dividing the power by the filter length calibrates it to ``A**2 / 4``."""
    with warnings.catch_warnings():  # short segments: reported once by spectrogram(), not per octave
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large for input signal")
        spec = librosa.cqt(
            y,
            sr=config.sample_rate,
            hop_length=config.hop_length,
            fmin=float(config.fmin),
            n_bins=config.n_bands,
            bins_per_octave=config.bins_per_octave,
            tuning=0.0,
            scale=True,
            pad_mode="constant",
        )
    lengths, _ = _cqt_lengths(config.sample_rate, config.n_bands, float(config.fmin), config.bins_per_octave)
    power = spec.real**2 + spec.imag**2
    power /= lengths.astype(np.float32)[:, None]
    return power.astype(np.float32, copy=False)


def _power(y: np.ndarray, config: FeatureConfig) -> np.ndarray:
    if config.kind == "cqt":
        return _cqt_power(y, config)
    power = _stft_power(y, config)
    if config.kind == "stft":
        return power[:, _stft_bins(config.sample_rate, config.n_fft, float(config.fmin), config.fmax_hz), :]
    fmin, fmax = float(config.fmin), config.fmax_hz
    bank = _filterbank(config.kind, config.sample_rate, config.n_fft, config.n_bands, fmin, fmax)
    return np.matmul(bank, power)


def spectrogram(segments: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Log-power spectrogram features of a batch of segments.

    Args:
        segments: ``(n, n_samples)`` waveforms sampled at ``config.sample_rate`` (any real dtype; computed in
            float32), each at least one analysis frame long.
        config: the front-end (:class:`FeatureConfig`; validated here).

    Returns:
        ``(n, n_bands_out, n_frames)`` float32, ``10 log10(power + 1e-10)`` in dB, bands from low to high frequency
        (:func:`band_frequencies`), ``(n_bands_out, n_frames) == feature_shape(config, n_samples)``.

    Raises:
        DataError: ``segments`` is not 2-D, holds NaN or infinite values, or is shorter than one frame.
        ConfigError: ``config`` is invalid.
    """
    config.validate()
    x = np.asarray(segments)
    if x.ndim != 2:
        raise DataError(f"spectrogram: expected segments of shape (n_segments, n_samples); got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise DataError(f"spectrogram: segments must be real numbers; got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if x.shape[1] < config.win_length:
        raise DataError(
            f"spectrogram: segments of {x.shape[1]} samples are shorter than one {config.win_length}-sample "
            f"analysis frame (frame_s={config.frame_s:g} s at {config.sample_rate} Hz)"
        )
    if not np.all(np.isfinite(x)):
        raise DataError(f"spectrogram: segments hold NaN or infinite samples ({int(np.sum(~np.isfinite(x)))} of them)")
    n_bands, n_frames = feature_shape(config, x.shape[1])
    if config.kind == "cqt":
        lengths, _ = _cqt_lengths(config.sample_rate, config.n_bands, float(config.fmin), config.bins_per_octave)
        longest = int(np.ceil(lengths.max()))
        if longest > x.shape[1]:
            warnings.warn(
                f"spectrogram: the lowest CQT bin's filter ({longest / config.sample_rate:.2f} s at "
                f"fmin={config.fmin:g} Hz) is longer than the {x.shape[1] / config.sample_rate:.2f} s segments; "
                "the lowest bins see zero padding",
                UserWarning,
                stacklevel=2,
            )
    out = np.empty((x.shape[0], n_bands, n_frames), dtype=np.float32)
    for start in range(0, x.shape[0], _CHUNK):
        power = _power(x[start : start + _CHUNK], config)
        out[start : start + _CHUNK] = 10.0 * np.log10(power + np.float32(POWER_FLOOR))
    return out
