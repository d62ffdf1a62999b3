"""Coloured Gaussian noise for simulators: a chosen amplitude spectrum, or a 1/f^exponent power spectrum.

Simulated signals (EEG backgrounds, rhythms, sensor drifts) are Gaussian noise shaped in the frequency domain.
:func:`coloured_noise` draws noise along the last axis with the amplitude spectrum ``gain`` over the
``rfft`` bins; :func:`power_law_noise` is its 1/f case: power spectral density proportional to
``1 / f**exponent`` (``exponent`` 1: pink, 2: brown, 0: white), flat below a floor frequency.

Two choices are left to the simulator, because they decide which numbers a given generator gives:

- ``draw``: ``"time"`` draws white Gaussian samples and filters them (the DC and Nyquist bins are then real,
  as for any real signal); ``"frequency"`` draws every Fourier coefficient as an independent complex
  Gaussian (real and imaginary parts of unit variance; the inverse transform keeps the real part of the
  DC and Nyquist bins).
- ``normalize``: ``"expected"`` scales by the process's theoretical standard deviation, so the variance is
  1 in expectation and series differ in power as real recordings do; ``"sample"`` divides each series by
  its own standard deviation, so every series has a sample variance of exactly 1.

Units: the output is dimensionless (unit variance); multiply by an RMS in the signal's units (µV, ...).
Shapes: ``shape`` is ``(..., n_times)``; the spectrum runs along the last axis.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.fft
from numpy.typing import DTypeLike

Draw = Literal["time", "frequency"]
Normalize = Literal["expected", "sample"]


def coloured_noise(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    gain: np.ndarray,
    *,
    draw: Draw = "time",
    normalize: Normalize = "expected",
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """Gaussian noise of ``shape`` whose amplitude spectrum along the last axis is ``gain``.

    Args:
        rng: the generator the noise is drawn from (the only source of randomness).
        shape: ``(..., n_times)``, ``n_times >= 2``.
        gain: amplitude gain of each ``rfft`` bin, shape ``(n_times // 2 + 1,)`` (bin ``k`` is the frequency
            ``k / n_times`` cycles per sample); the power spectrum is proportional to ``gain**2``.
        draw: ``"time"`` (white samples, filtered) or ``"frequency"`` (independent complex Fourier
            coefficients); see the module docstring.
        normalize: ``"expected"`` (unit variance in expectation) or ``"sample"`` (each series scaled to a
            sample standard deviation of 1).
        dtype: the floating type of the draws, the arithmetic and the result (``float32`` or ``float64``).

    Returns:
        Dimensionless noise of ``shape`` and ``dtype``.
    """
    n = int(shape[-1])
    gain = np.asarray(gain)
    if n < 2 or gain.shape != (n // 2 + 1,):
        raise ValueError(f"coloured_noise: need n_times >= 2 and gain of shape ({n // 2 + 1},), got {gain.shape}")
    if draw not in ("time", "frequency") or normalize not in ("expected", "sample"):
        raise ValueError(f"coloured_noise: unknown draw {draw!r} or normalize {normalize!r}")
    real = np.dtype(dtype).type
    if draw == "time":
        spectrum = scipy.fft.rfft(rng.standard_normal(shape, dtype=dtype), axis=-1, workers=-1)
        # variance of the result for unit white noise: (g_0^2 + 2 sum_k g_k^2 (+ g_nyq^2)) / n
        inner, scale = 2.0, n
    else:
        bins = (*shape[:-1], n // 2 + 1)
        spectrum = rng.standard_normal(bins, dtype=dtype) + 1j * rng.standard_normal(bins, dtype=dtype)
        # the inverse transform keeps Re of the DC and Nyquist bins: (g_0^2 + 4 sum_k g_k^2 (+ g_nyq^2)) / n^2
        inner, scale = 4.0, n * n
    spectrum *= gain.astype(dtype)
    if normalize == "expected":
        weights = np.full(gain.shape, inner)
        weights[0] = 1.0
        if n % 2 == 0:
            weights[-1] = 1.0
        spectrum /= real(math.sqrt(float(np.sum(weights * gain.astype(np.float64) ** 2)) / scale))
    noise = scipy.fft.irfft(spectrum, n=n, axis=-1, workers=-1)
    if normalize == "sample":
        noise = noise / noise.std(axis=-1, keepdims=True)
    return noise


def power_law_noise(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    exponent: float = 1.0,
    *,
    sfreq: float = 1.0,
    f_min: float | None = None,
    draw: Draw = "frequency",
    normalize: Normalize = "sample",
    dtype: DTypeLike = np.float64,
) -> np.ndarray:
    """Gaussian noise with a power spectral density proportional to ``1 / f**exponent`` along the last axis.

    The amplitude gain of frequency ``f`` is ``max(f, f_min) ** (-exponent / 2)``: the spectrum is flat below
    ``f_min``, so the DC bin stays finite.

    Args:
        rng: the generator the noise is drawn from.
        shape: ``(..., n_times)``, ``n_times >= 2``.
        exponent: the power-law exponent (1: pink, 2: brown, 0: white).
        sfreq: sampling rate, in the units the frequencies are given in (Hz; default 1: cycles per sample).
        f_min: the floor frequency, in the units of ``sfreq`` (default: the lowest non-zero bin,
            ``sfreq / n_times``).
        draw, normalize, dtype: as for :func:`coloured_noise` (the defaults draw complex Fourier
            coefficients in float64 and give every series a sample standard deviation of 1).

    Returns:
        Dimensionless noise of ``shape`` and ``dtype``.
    """
    n = int(shape[-1])
    if n < 2:
        raise ValueError(f"power_law_noise: need n_times >= 2, got shape {shape}")
    freqs = scipy.fft.rfftfreq(n, 1 / sfreq)
    gain = np.maximum(freqs, freqs[1] if f_min is None else f_min) ** (-exponent / 2)
    return coloured_noise(rng, shape, gain, draw=draw, normalize=normalize, dtype=dtype)


__all__ = ["coloured_noise", "power_law_noise"]
