"""Sub-band filter banks of the SSVEP methods: the DNN's (Guney et al. 2021) and FBCCA/TRCA's (Chen et al. 2015).

Both banks split a window into sub-bands that share the upper edge (90 Hz) and raise the lower edge in steps
of 8 Hz, so that sub-band ``m`` holds the harmonics ``>= m`` of the 8-15.8 Hz stimuli. Both filter each
already-cropped window forward and backward (zero phase), as the official MATLAB code does with
``filtfilt``.

Edge handling. MATLAB's ``filtfilt`` extends the signal at each end by an odd reflection of
``nfact = 3 * order`` samples and starts the filter from the steady state scaled by the first sample
(Gustafsson's initial conditions); SciPy's ``filtfilt``/``sosfiltfilt`` do the same but default to
``padlen = 3 * (order + 1)`` (for a single second-order section). This module passes
``padtype="odd", padlen=3 * order`` so that the edges are treated as in the papers' code. The filters are
applied as second-order sections (``scipy.signal.sosfiltfilt``): for the single biquad of the DNN bank that
is the same filter as MATLAB's; for the order-10..14 FBCCA filters it equals the MATLAB ``[B, A]`` form up
to rounding (about 1e-11 relative at 250 Hz) and stays well conditioned at higher sampling rates.

Filters are designed once per ``(sfreq, band)`` and cached; the cached coefficient arrays are read-only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

# Nakanishi's filterbank.m (the code that accompanies Chen et al. 2015 and Nakanishi et al. 2018):
# sub-band m (1-based, at most 10) has passband [FBCCA_PASS_LOW[m-1], 90] Hz and stop-band edges
# [FBCCA_STOP_LOW[m-1], 100] Hz; the order comes from cheb1ord(Wp, Ws, 3 dB, 40 dB) and the filter is
# cheby1(N, 0.5 dB, Wn).
FBCCA_PASS_LOW: tuple[float, ...] = (6.0, 14.0, 22.0, 30.0, 38.0, 46.0, 54.0, 62.0, 70.0, 78.0)
FBCCA_STOP_LOW: tuple[float, ...] = (4.0, 10.0, 16.0, 24.0, 32.0, 40.0, 48.0, 56.0, 64.0, 72.0)
FBCCA_PASS_HIGH = 90.0
FBCCA_STOP_HIGH = 100.0
FBCCA_ORDER_RIPPLE_DB = 3.0  # gpass of cheb1ord
FBCCA_STOP_ATTEN_DB = 40.0  # gstop of cheb1ord
FBCCA_RIPPLE_DB = 0.5  # rp of cheby1

# Guney et al.'s PreProcess.m: designfilt('bandpassiir', 'FilterOrder', 2, 'PassbandFrequency1', 8 r,
# 'PassbandFrequency2', 90, 'PassbandRipple', 1, 'DesignMethod', 'cheby1'). MATLAB's FilterOrder of a bandpass
# IIR is the order of the whole filter (even), so this is one biquad: a first-order Chebyshev I prototype
# transformed to a bandpass, i.e. scipy.signal.cheby1(1, 1, [8 r, 90], "bandpass").
GUNEY_STEP_HZ = 8.0
GUNEY_ORDER = 2
GUNEY_RIPPLE_DB = 1.0


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.setflags(write=False)
    return a


@lru_cache(maxsize=256)
def _guney_design(sfreq: float, band: int, high: float) -> np.ndarray:
    low = GUNEY_STEP_HZ * band
    nyquist = sfreq / 2.0
    if high >= nyquist or not np.isfinite(high):
        raise ValueError(
            f"DNN sub-band {band} ([{low:g}, {high:g}] Hz) needs a sampling rate above {2 * high:g} Hz; "
            f"got sfreq={sfreq:g}"
        )
    if not low < high:
        raise ValueError(f"DNN sub-band {band} has lower edge {low:g} Hz, not below the upper edge {high:g} Hz")
    z, p, k = signal.cheby1(GUNEY_ORDER // 2, GUNEY_RIPPLE_DB, [low, high], btype="bandpass", output="zpk", fs=sfreq)
    return _readonly(signal.zpk2sos(z, p, k))


@lru_cache(maxsize=256)
def _fbcca_design(sfreq: float, band: int) -> np.ndarray:
    if not 1 <= band <= len(FBCCA_PASS_LOW):
        raise ValueError(f"the FBCCA filter bank has sub-bands 1..{len(FBCCA_PASS_LOW)}; got {band}")
    nyquist = sfreq / 2.0
    if nyquist <= FBCCA_STOP_HIGH:
        raise ValueError(
            f"FBCCA sub-band {band} (passband [{FBCCA_PASS_LOW[band - 1]:g}, {FBCCA_PASS_HIGH:g}] Hz, stop-band edge "
            f"{FBCCA_STOP_HIGH:g} Hz) needs a sampling rate above {2 * FBCCA_STOP_HIGH:g} Hz; got sfreq={sfreq:g}"
        )
    wp = [FBCCA_PASS_LOW[band - 1], FBCCA_PASS_HIGH]
    ws = [FBCCA_STOP_LOW[band - 1], FBCCA_STOP_HIGH]
    order, wn = signal.cheb1ord(wp, ws, FBCCA_ORDER_RIPPLE_DB, FBCCA_STOP_ATTEN_DB, fs=sfreq)
    z, p, k = signal.cheby1(order, FBCCA_RIPPLE_DB, wn, btype="bandpass", output="zpk", fs=sfreq)
    return _readonly(signal.zpk2sos(z, p, k))


def _check_sfreq(sfreq: float) -> float:
    sfreq = float(sfreq)
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"sfreq must be a positive sampling rate in Hz; got {sfreq!r}")
    return sfreq


def guney_band_filter(sfreq: float, band: int, high: float = 90.0) -> np.ndarray:
    """Second-order sections of band ``band`` (1-based) of the DNN filter bank at ``sfreq`` Hz.

    Chebyshev type I, whole-filter order 2 (one biquad), 1 dB passband ripple, passband
    ``[8 * band, high]`` Hz (Guney et al. 2021, ``PreProcess.m``). Returns a read-only ``(1, 6)`` array
    usable with :func:`scipy.signal.sosfilt`. Raises ``ValueError`` when ``high`` is not below the Nyquist
    frequency or the band's lower edge is not below ``high``.
    """
    if int(band) != band or band < 1:
        raise ValueError(f"band must be a positive integer; got {band!r}")
    return _guney_design(_check_sfreq(sfreq), int(band), float(high))


def fbcca_band_filter(sfreq: float, band: int) -> np.ndarray:
    """Second-order sections of sub-band ``band`` (1..10) of the FBCCA/TRCA filter bank at ``sfreq`` Hz.

    Passband ``[8 * band - 2, 90]`` Hz and stop-band edges ``[FBCCA_STOP_LOW[band - 1], 100]`` Hz; order from
    ``cheb1ord(Wp, Ws, 3, 40)``, Chebyshev type I with 0.5 dB ripple (Nakanishi's ``filterbank.m``). Returns a
    read-only ``(n_sections, 6)`` array. Raises ``ValueError`` (naming the band and ``sfreq``) when the
    100 Hz stop-band edge is not below the Nyquist frequency, i.e. ``sfreq <= 200`` Hz.
    """
    if int(band) != band:
        raise ValueError(f"band must be an integer; got {band!r}")
    return _fbcca_design(_check_sfreq(sfreq), int(band))


def _order(sos: np.ndarray) -> int:
    # Number of poles: a section whose a2 is 0 is first order.
    return int(sum(2 if s[5] != 0 else 1 for s in sos))


def _apply_bank(x: np.ndarray, bank: list[np.ndarray], dtype: np.dtype | type) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"expected data of shape (..., n_channels, n_times); got shape {x.shape}")
    n_times = x.shape[-1]
    out = np.empty((*x.shape[:-2], len(bank), *x.shape[-2:]), dtype=dtype)
    for i, sos in enumerate(bank):
        padlen = 3 * _order(sos)
        if n_times <= padlen:
            raise ValueError(
                f"sub-band {i + 1} needs windows longer than {padlen} samples (3 x filter order, as MATLAB's "
                f"filtfilt); got {n_times}"
            )
        # sosfilt's compiled core wants a writable array: pass a copy of the cached (read-only) design.
        out[..., i, :, :] = signal.sosfiltfilt(np.array(sos), x, axis=-1, padtype="odd", padlen=padlen)
    return out


def guney_subbands(
    x: np.ndarray, sfreq: float, n_subbands: int = 3, high: float = 90.0, dtype: np.dtype | type = np.float32
) -> np.ndarray:
    """Decompose windows into the DNN's sub-bands (Guney et al. 2021).

    Band ``r`` (1..``n_subbands``) is ``[8 r, high]`` Hz, Chebyshev type I of order 2 with 1 dB ripple,
    applied forward and backward (zero phase) to each already-cropped window, with MATLAB ``filtfilt``'s
    edge padding (odd reflection of 3 x order = 6 samples).

    Args:
        x: windows in µV, shape ``(..., n_channels, n_times)``.
        sfreq: sampling rate in Hz (must exceed ``2 * high``).
        n_subbands: number of sub-bands (the paper uses 3).
        high: upper passband edge in Hz.
        dtype: output dtype.

    Returns:
        ``(..., n_subbands, n_channels, n_times)`` in µV, ``dtype`` (float32 by default).
    """
    if int(n_subbands) != n_subbands or n_subbands < 1:
        raise ValueError(f"n_subbands must be a positive integer; got {n_subbands!r}")
    bank = [guney_band_filter(sfreq, r, high) for r in range(1, int(n_subbands) + 1)]
    return _apply_bank(x, bank, dtype)


def fbcca_subbands(x: np.ndarray, sfreq: float, n_subbands: int = 5, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Decompose windows into the FBCCA/TRCA sub-bands (Chen et al. 2015; Nakanishi et al. 2018's code).

    Sub-band ``m`` (1..``n_subbands``, at most 10) has passband ``[8 m - 2, 90]`` Hz, stop-band edges
    ``[4, 10, 16, 24, ...][m-1]`` and 100 Hz, order from ``cheb1ord`` (3 dB, 40 dB), Chebyshev type I with
    0.5 dB ripple, applied forward and backward with MATLAB ``filtfilt``'s edge padding.

    Args:
        x: windows in µV, shape ``(..., n_channels, n_times)``.
        sfreq: sampling rate in Hz (must exceed 200 Hz: the upper stop-band edge is 100 Hz).
        n_subbands: number of sub-bands, 1..10.
        dtype: output dtype.

    Returns:
        ``(..., n_subbands, n_channels, n_times)`` in µV, ``dtype`` (float32 by default).
    """
    if int(n_subbands) != n_subbands or not 1 <= n_subbands <= len(FBCCA_PASS_LOW):
        raise ValueError(f"n_subbands must be an integer in 1..{len(FBCCA_PASS_LOW)}; got {n_subbands!r}")
    bank = [fbcca_band_filter(sfreq, m) for m in range(1, int(n_subbands) + 1)]
    return _apply_bank(x, bank, dtype)


def subband_weights(n: int, a: float = 1.25, b: float = 0.25) -> np.ndarray:
    """Sub-band weights ``w_m = m**-a + b`` for ``m = 1..n`` (Chen et al. 2015), shape ``(n,)`` float64."""
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    m = np.arange(1, int(n) + 1, dtype=np.float64)
    return m ** (-float(a)) + float(b)
