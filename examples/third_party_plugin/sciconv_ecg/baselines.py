"""The classical baseline: QRS duration from the signal's slope, and a width threshold.

A premature ventricular beat spreads through the ventricles muscle cell to muscle cell instead of
through the conduction system, so its QRS complex is wide (the textbook criterion is >= 120 ms, while
a sinus QRS lasts 80-100 ms). The baseline measures each beat's QRS duration with a derivative-based
onset/offset detector, in the spirit of the slope-threshold delineators of the literature (e.g.
Laguna et al., Comput. Biomed. Res. 27:45-60, 1994):

1. zero-phase Butterworth band-pass, 1-30 Hz (removes baseline wander, mains and most EMG noise);
2. slope ``|dx/dt|`` in mV/s, smoothed over three samples;
3. the steepest slope within +-60 ms of the R fiducial marks the QRS, and a threshold at
   ``slope_fraction`` of it separates QRS activity from the flatter P, ST and T segments;
4. onset and offset are the edges of the above-threshold run around the steepest slope, where the
   slope stays below the threshold for at least ``quiet_ms`` (brief dips at the Q, R and S extrema do
   not end the complex).

:class:`QRSWidthClassifier` then calls a beat a PVC when its QRS is wider than a threshold chosen on
the training beats (the one that maximises balanced accuracy).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

from sciconv.errors import DataError


def qrs_bounds(
    x: np.ndarray,
    sfreq: float,
    r_index: int,
    *,
    slope_fraction: float = 0.2,
    quiet_ms: float = 20.0,
    search_ms: tuple[float, float] = (160.0, 240.0),
) -> tuple[np.ndarray, np.ndarray]:
    """QRS onset and offset sample indices of beats centred on their R fiducial.

    Args:
        x: beats, ``(n, n_times)`` in mV (a channel axis of size one, ``(n, 1, n_times)``, is accepted).
        sfreq: sampling rate in Hz.
        r_index: sample index of the R fiducial in each window.
        slope_fraction: threshold as a fraction of the steepest QRS slope.
        quiet_ms: how long the slope must stay below the threshold to end the complex, in ms.
        search_ms: how far before and after the fiducial onset and offset are searched, in ms.

    Returns:
        onset and offset indices, each ``(n,)`` integers (offset inclusive).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 2:
        raise DataError(f"qrs_bounds: expected beats of shape (n, n_times) or (n, 1, n_times), got {x.shape}")
    n, n_times = x.shape
    if not 0 <= r_index < n_times:
        raise DataError(f"qrs_bounds: r_index {r_index} is outside windows of {n_times} samples")
    high = min(30.0, 0.45 * sfreq)
    sos = butter(3, [1.0, high], btype="bandpass", fs=sfreq, output="sos")
    filtered = sosfiltfilt(sos, x, axis=-1)
    slope = np.abs(np.gradient(filtered, axis=-1)) * sfreq
    slope = np.apply_along_axis(lambda s: np.convolve(s, np.ones(3) / 3.0, mode="same"), -1, slope)

    near = max(1, round(0.060 * sfreq))
    lo, hi = max(0, r_index - near), min(n_times, r_index + near + 1)
    peak = lo + np.argmax(slope[:, lo:hi], axis=1)
    threshold = slope_fraction * slope[np.arange(n), peak]
    quiet = max(1, round(quiet_ms * 1e-3 * sfreq))
    first = max(0, r_index - round(search_ms[0] * 1e-3 * sfreq))
    last = min(n_times - 1, r_index + round(search_ms[1] * 1e-3 * sfreq))

    onsets = np.empty(n, dtype=int)
    offsets = np.empty(n, dtype=int)
    for j in range(n):
        active = slope[j] >= threshold[j]
        onsets[j] = _edge(active, int(peak[j]), -1, quiet, first)
        offsets[j] = _edge(active, int(peak[j]), +1, quiet, last)
    return onsets, offsets


def _edge(active: np.ndarray, start: int, step: int, quiet: int, limit: int) -> int:
    """Walk from ``start`` in direction ``step`` to the last active sample before ``quiet``
    consecutive inactive ones (or to ``limit``)."""
    edge = start
    gap = 0
    i = start
    while i != limit:
        i += step
        if active[i]:
            edge, gap = i, 0
        else:
            gap += 1
            if gap >= quiet:
                break
    return edge


def qrs_durations_ms(x: np.ndarray, sfreq: float, r_index: int, **kwargs: float) -> np.ndarray:
    """QRS durations in ms of beats ``(n, n_times)`` or ``(n, 1, n_times)`` in mV -> ``(n,)``.
    Keyword arguments go to :func:`qrs_bounds`."""
    onsets, offsets = qrs_bounds(x, sfreq, r_index, **kwargs)  # type: ignore[arg-type]
    return (offsets - onsets + 1) * 1e3 / sfreq


class QRSWidthClassifier:
    """PVC if the QRS duration exceeds a threshold fitted on labelled beats.

    Following scikit-learn, ``__init__`` stores the detector settings, :meth:`fit` returns ``self``
    and sets ``threshold_ms_``.

    Args:
        sfreq: sampling rate in Hz.
        r_index: sample index of the R fiducial in each window.
        slope_fraction: see :func:`qrs_bounds`.
    """

    def __init__(self, sfreq: float, r_index: int, slope_fraction: float = 0.2) -> None:
        self.sfreq = sfreq
        self.r_index = r_index
        self.slope_fraction = slope_fraction

    def widths_ms(self, x: np.ndarray) -> np.ndarray:
        """QRS durations in ms, ``(n,)``, of beats ``(n, 1, n_times)`` in mV."""
        return qrs_durations_ms(x, self.sfreq, self.r_index, slope_fraction=self.slope_fraction)

    def fit(self, x: np.ndarray, y: np.ndarray) -> QRSWidthClassifier:
        """Choose the threshold (midpoint between consecutive measured widths) that maximises the
        balanced accuracy on ``x`` ``(n, 1, n_times)`` with labels ``y`` ``(n,)`` (1 = PVC)."""
        y = np.asarray(y)
        if not (np.any(y == 0) and np.any(y == 1)):
            raise DataError("QRSWidthClassifier.fit: the labelled beats must include both classes")
        widths = self.widths_ms(x)
        values = np.unique(widths)
        candidates = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1.0]])
        pvc = widths[y == 1][:, None] > candidates[None, :]
        normal = widths[y == 0][:, None] > candidates[None, :]
        balanced = 0.5 * (pvc.mean(axis=0) + 1.0 - normal.mean(axis=0))
        best = np.flatnonzero(balanced == balanced.max())
        self.threshold_ms_ = float(candidates[best[len(best) // 2]])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class indices ``(n,)``: 1 (PVC) where the QRS is wider than ``threshold_ms_``, else 0."""
        return (self.widths_ms(x) > self.threshold_ms_).astype(np.int64)
