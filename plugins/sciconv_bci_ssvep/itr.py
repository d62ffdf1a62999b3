"""Information transfer rate (Wolpaw et al. 2002) of an N-class speller."""

from __future__ import annotations

import numpy as np


def itr_bits_per_min(
    accuracy: float | np.ndarray, n_classes: int | np.ndarray, seconds: float | np.ndarray
) -> float | np.ndarray:
    """Wolpaw information transfer rate in bits per minute.

    ``B = log2 N + P log2 P + (1 - P) log2((1 - P) / (N - 1))`` bits per selection, times ``60 / t``.
    ``P = 1`` gives ``log2 N`` bits per selection. Below chance (``P < 1 / N``) the rate is 0 by
    convention, as in the DNN paper's evaluation code (Guney et al., ``itr.m``: ``p < 1/M`` gives 0) and in
    Nakanishi's ``itr.m``; at ``P = 1 / N`` the formula itself is 0, so ``P <= 1 / N`` gives exactly 0 here.

    Args:
        accuracy: fraction correct ``P`` in [0, 1] (not percent); scalar or array.
        n_classes: number of targets ``N >= 2``; scalar or array (broadcast against ``accuracy``).
        seconds: time per selection ``t`` in s. In the Benchmark/BETA evaluations this is the window
            length plus the 0.5 s gaze shift (the DNN paper's ``visual_cue + signal_length``).

    Returns:
        bits/min: a ``float`` for scalar inputs, otherwise an array of the broadcast shape.
    """
    p = np.asarray(accuracy, dtype=np.float64)
    n = np.asarray(n_classes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("accuracy must be a fraction in [0, 1] (not percent)")
    if np.any(~np.isfinite(n)) or np.any(n < 2) or np.any(n != np.round(n)):
        raise ValueError("n_classes must be an integer >= 2")
    if np.any(~np.isfinite(t)) or np.any(t <= 0):
        raise ValueError("seconds must be positive")
    p, n, t = np.broadcast_arrays(p, n, t)
    bits = np.log2(n)
    partial = (p > 1.0 / n) & (p < 1.0)
    pp = np.where(partial, p, 0.5)  # placeholder where the log terms are not used
    nn = np.where(partial, n, 2.0)
    wrong = pp * np.log2(pp) + (1.0 - pp) * np.log2((1.0 - pp) / (nn - 1.0))
    bits = np.where(partial, bits + wrong, np.where(p >= 1.0, bits, 0.0))
    rate = bits * 60.0 / t
    if rate.ndim == 0:
        return float(rate)
    return rate
