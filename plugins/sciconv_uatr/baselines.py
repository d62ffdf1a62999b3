"""The classical baseline: a sonar engineer's hand-crafted features of each segment and a linear classifier.

Three groups of features, all computed per segment and vectorised over segments (:func:`classical_features`
concatenates them in this order; :func:`classical_feature_slices` says where each lies):

- ``lofar`` (:func:`lofar_features`): LOFAR (low-frequency analysis and recording), the time-averaged power
  spectrum. Welch's estimate (Hann windows of ~0.5 s, a power of two, 50 % overlap) is averaged in ``n_lofar = 32``
  log-spaced bands from 10 Hz to the Nyquist frequency and turned into dB; the mean over bands is removed, so the
  features describe the spectrum's shape, not the recording level.
- ``demon`` (:func:`demon_features`): DEMON (detection of envelope modulation on noise), the envelope spectrum that
  shows propeller shaft and blade rates. The segment is band-passed in the cavitation band (1-6 kHz, 4th-order
  Butterworth, zero-phase; the upper edge is clipped to 0.9 x Nyquist), its Hilbert envelope is taken, mean-removed
  and decimated to about 4 x 60 Hz (polyphase anti-alias filter), and its Hann-windowed periodogram is averaged in
  ``n_demon = 30`` bins 2 Hz wide centred on 2, 4, ..., 60 Hz. Each bin is given in dB relative to the mean of the
  bins (a normalised shape: a modulation at ``f`` Hz makes the bin centred nearest ``f`` stand out).
- ``demon_depth``: one number, the envelope's fluctuation power from 1 to 61 Hz over its squared mean, in dB (how
  strongly the noise is modulated at all).
- ``mfcc``: the mean and standard deviation over frames of 20 MFCCs (librosa; ~64 ms frames, a power of two,
  50 % hop, 40 Mel bands): 40 numbers.

With the defaults a segment gives ``32 + 30 + 1 + 40 = 103`` features (:data:`N_CLASSICAL_FEATURES`), float64 and
finite (silence included). :class:`ClassicalClassifier` is a standardisation plus multinomial logistic regression
(scikit-learn) that exports to plain arrays and predicts from them without pickle.
"""

from __future__ import annotations

import math

import librosa
import numpy as np
import scipy.signal
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sciconv.errors import ConfigError, DataError

__all__ = [
    "N_CLASSICAL_FEATURES",
    "ClassicalClassifier",
    "classical_feature_slices",
    "classical_features",
    "demon_bin_centres",
    "demon_bin_edges",
    "demon_features",
    "lofar_band_edges",
    "lofar_features",
    "mfcc_features",
]

N_LOFAR = 32
N_DEMON = 30
N_MFCC = 20
N_CLASSICAL_FEATURES = N_LOFAR + N_DEMON + 1 + 2 * N_MFCC

LOFAR_FMIN = 10.0
DEMON_BAND = (1000.0, 6000.0)
DEMON_FMAX = 60.0
MIN_SEGMENT_S = 0.25  # shortest segment the features are defined for

_DB_FLOOR = 1e-10  # absolute power floor before a log (silence)
_REL_FLOOR = 1e-6  # relative floor (-60 dB) of the normalised DEMON bins


# -- input checks ---------------------------------------------------------------------------------------------------
def _check_rate(sample_rate: int) -> int:
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise ConfigError(f"sample_rate={sample_rate!r} must be a positive integer (Hz)")
    return int(sample_rate)


def _check_segments(segments: np.ndarray, sample_rate: int, what: str) -> np.ndarray:
    x = np.asarray(segments)
    if x.ndim != 2:
        raise DataError(f"{what}: expected segments of shape (n_segments, n_samples); got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise DataError(f"{what}: segments must be real numbers; got dtype {x.dtype}")
    if x.shape[1] < MIN_SEGMENT_S * sample_rate:
        raise DataError(
            f"{what}: segments of {x.shape[1]} samples ({x.shape[1] / sample_rate:.3f} s at {sample_rate} Hz) are "
            f"shorter than {MIN_SEGMENT_S:g} s"
        )
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{what}: segments hold NaN or infinite samples ({int(np.sum(~np.isfinite(x)))} of them)")
    return x


def _band_means(freqs: np.ndarray, psd: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of the density ``psd`` (``(n, n_freqs)`` on the increasing grid ``freqs``) over each band
    ``[edges[k], edges[k + 1]]``: the integral of the piecewise-linear density over the band divided by its width,
    so that bands narrower than the grid's spacing get the interpolated density. ``(n, len(edges) - 1)``."""
    steps = 0.5 * (psd[:, 1:] + psd[:, :-1]) * np.diff(freqs)
    cumulative = np.concatenate([np.zeros((psd.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
    # linear interpolation of every row at the edges (shared abscissae)
    e = np.clip(edges, freqs[0], freqs[-1])
    right = np.clip(np.searchsorted(freqs, e, side="right"), 1, len(freqs) - 1)
    left = right - 1
    frac = (e - freqs[left]) / (freqs[right] - freqs[left])
    at_edges = cumulative[:, left] * (1.0 - frac) + cumulative[:, right] * frac
    return np.diff(at_edges, axis=1) / np.diff(edges)


# -- LOFAR ------------------------------------------------------------------------------------------------------------
def lofar_band_edges(
    sample_rate: int, n_lofar: int = N_LOFAR, fmin: float = LOFAR_FMIN, fmax: float | None = None
) -> np.ndarray:
    """``n_lofar + 1`` log-spaced band edges in Hz from ``fmin`` to ``fmax`` (``None``: the Nyquist frequency)."""
    sample_rate = _check_rate(sample_rate)
    top = sample_rate / 2.0 if fmax is None else float(fmax)
    if not isinstance(n_lofar, (int, np.integer)) or n_lofar < 1:
        raise ConfigError(f"n_lofar={n_lofar!r} must be a positive integer")
    if not 0 < fmin < top <= sample_rate / 2.0:
        raise ConfigError(
            f"LOFAR bands need 0 < fmin < fmax <= Nyquist ({sample_rate / 2:g} Hz); got fmin={fmin!r}, fmax={fmax!r}"
        )
    return np.geomspace(fmin, top, n_lofar + 1)


def lofar_features(
    segments: np.ndarray,
    sample_rate: int,
    *,
    n_lofar: int = N_LOFAR,
    fmin: float = LOFAR_FMIN,
    fmax: float | None = None,
) -> np.ndarray:
    """LOFAR shape: the Welch power spectrum of each segment averaged in ``n_lofar`` log-spaced bands
    (:func:`lofar_band_edges`), in dB, minus its mean over bands.

    Args:
        segments: ``(n, n_samples)`` waveforms at ``sample_rate`` Hz, at least 0.25 s long.
    Returns:
        ``(n, n_lofar)`` float64, dB relative to the segment's mean band level.
    """
    sample_rate = _check_rate(sample_rate)
    edges = lofar_band_edges(sample_rate, n_lofar, fmin, fmax)
    x = _check_segments(segments, sample_rate, "lofar_features")
    nperseg = min(1 << round(math.log2(0.5 * sample_rate)), 1 << int(math.log2(x.shape[1])))
    freqs, psd = scipy.signal.welch(x, fs=sample_rate, window="hann", nperseg=nperseg, axis=-1)
    power = _band_means(freqs, psd, edges)
    # floor 120 dB below the strongest band (level-independent), and a tiny absolute one for silence
    level = 10.0 * np.log10(power + 1e-12 * power.max(axis=1, keepdims=True) + 1e-300)
    return level - level.mean(axis=1, keepdims=True)


# -- DEMON ------------------------------------------------------------------------------------------------------------
def demon_bin_edges(n_demon: int = N_DEMON, fmax: float = DEMON_FMAX) -> np.ndarray:
    """``n_demon + 1`` edges in Hz of the DEMON bins: width ``w = fmax / n_demon``, centred on ``w, 2w, ..., fmax``
    (the 0 Hz bin, where the envelope's mean and slow drifts sit, is left out)."""
    if not isinstance(n_demon, (int, np.integer)) or n_demon < 1:
        raise ConfigError(f"n_demon={n_demon!r} must be a positive integer")
    if not (isinstance(fmax, (int, float, np.number)) and math.isfinite(fmax) and fmax > 0):
        raise ConfigError(f"demon fmax={fmax!r} must be a positive number of Hz")
    width = float(fmax) / n_demon
    return width * (np.arange(n_demon + 1) + 0.5)


def demon_bin_centres(n_demon: int = N_DEMON, fmax: float = DEMON_FMAX) -> np.ndarray:
    """The centres in Hz of the DEMON bins: ``(n_demon,)``, ``fmax / n_demon`` apart, the last at ``fmax``."""
    edges = demon_bin_edges(n_demon, fmax)
    return 0.5 * (edges[1:] + edges[:-1])


def _envelope_spectrum(
    x: np.ndarray, sample_rate: int, band: tuple[float, float], edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean envelope-PSD in each DEMON bin ``(n, n_bins)`` and the envelope's squared mean ``(n,)``."""
    nyquist = sample_rate / 2.0
    low, high = float(band[0]), min(float(band[1]), 0.9 * nyquist)
    if not 0 < low < high:
        raise ConfigError(
            f"demon band={tuple(band)!r} Hz is empty at sample_rate={sample_rate} (its upper edge is clipped to "
            f"{0.9 * nyquist:g} Hz): need 0 < low < high"
        )
    sos = scipy.signal.butter(4, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    passband = scipy.signal.sosfiltfilt(sos, x, axis=-1)
    n = x.shape[1]
    envelope = np.abs(scipy.signal.hilbert(passband, N=scipy.fft.next_fast_len(n), axis=-1))[:, :n]
    mean = envelope.mean(axis=1)
    decimation = max(1, int(sample_rate // (4.0 * edges[-1])))
    env_rate = sample_rate / decimation
    fluctuation = envelope - mean[:, None]
    if decimation > 1:
        fluctuation = scipy.signal.resample_poly(fluctuation, 1, decimation, axis=-1)
    freqs, psd = scipy.signal.periodogram(fluctuation, fs=env_rate, window="hann", detrend="constant", axis=-1)
    return _band_means(freqs, psd, edges), mean**2


def demon_features(
    segments: np.ndarray,
    sample_rate: int,
    *,
    band: tuple[float, float] = DEMON_BAND,
    n_demon: int = N_DEMON,
    fmax: float = DEMON_FMAX,
) -> np.ndarray:
    """DEMON envelope spectrum and modulation depth of each segment.

    Args:
        segments: ``(n, n_samples)`` waveforms at ``sample_rate`` Hz, at least 0.25 s long.
        band: the cavitation band in Hz that is demodulated (upper edge clipped to 0.9 x Nyquist).
        n_demon: bins of the envelope spectrum (:func:`demon_bin_edges`).
        fmax: the centre of the last bin in Hz.
    Returns:
        ``(n, n_demon + 1)`` float64: columns ``0 .. n_demon - 1`` the mean envelope power of each bin in dB relative
        to the mean over the bins (floor -60 dB), centres :func:`demon_bin_centres`; the last column the modulation
        depth, ``10 log10(envelope fluctuation power in the bins' span / envelope mean ** 2)`` (floor -100 dB).
    """
    sample_rate = _check_rate(sample_rate)
    edges = demon_bin_edges(n_demon, fmax)
    if 2.0 * edges[-1] >= sample_rate / 2.0:
        raise ConfigError(f"demon fmax={fmax!r} Hz is too high for sample_rate={sample_rate} Hz")
    x = _check_segments(segments, sample_rate, "demon_features")
    bins, mean_sq = _envelope_spectrum(x, sample_rate, band, edges)
    avg = bins.mean(axis=1, keepdims=True)
    shape = 10.0 * np.log10(bins / np.where(avg > 0, avg, 1.0) + _REL_FLOOR)
    fluct = bins.sum(axis=1) * (edges[1] - edges[0])
    depth = 10.0 * np.log10(fluct / np.where(mean_sq > 0, mean_sq, 1.0) + _DB_FLOOR)
    return np.concatenate([shape, depth[:, None]], axis=1)


# -- MFCC -------------------------------------------------------------------------------------------------------------
def mfcc_features(segments: np.ndarray, sample_rate: int, *, n_mfcc: int = N_MFCC) -> np.ndarray:
    """Mean and standard deviation over frames of ``n_mfcc`` MFCCs (librosa; frames of ~64 ms rounded to a power
    of two, 50 % hop, 40 Mel bands up to Nyquist).

    Returns:
        ``(n, 2 * n_mfcc)`` float64: the means of coefficients 0 .. n_mfcc - 1, then their standard deviations.
    """
    sample_rate = _check_rate(sample_rate)
    if not isinstance(n_mfcc, (int, np.integer)) or n_mfcc < 1:
        raise ConfigError(f"n_mfcc={n_mfcc!r} must be a positive integer")
    x = _check_segments(segments, sample_rate, "mfcc_features")
    n_fft = min(1 << round(math.log2(0.064 * sample_rate)), 1 << int(math.log2(x.shape[1])))
    mfcc = librosa.feature.mfcc(
        y=x.astype(np.float32), sr=sample_rate, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=n_fft // 2, n_mels=40
    )
    mfcc = mfcc.astype(np.float64)
    return np.concatenate([mfcc.mean(axis=-1), mfcc.std(axis=-1)], axis=1)


# -- all of them ------------------------------------------------------------------------------------------------------
def classical_feature_slices(n_lofar: int = N_LOFAR, n_demon: int = N_DEMON, n_mfcc: int = N_MFCC) -> dict[str, slice]:
    """Where each group lies in a row of :func:`classical_features`: ``lofar``, ``demon``, ``demon_depth``,
    ``mfcc_mean``, ``mfcc_std`` (and ``mfcc``, both MFCC groups)."""
    a = n_lofar
    b = a + n_demon
    c = b + 1
    return {
        "lofar": slice(0, a),
        "demon": slice(a, b),
        "demon_depth": slice(b, c),
        "mfcc_mean": slice(c, c + n_mfcc),
        "mfcc_std": slice(c + n_mfcc, c + 2 * n_mfcc),
        "mfcc": slice(c, c + 2 * n_mfcc),
    }


def classical_features(
    segments: np.ndarray,
    sample_rate: int,
    *,
    n_lofar: int = N_LOFAR,
    n_demon: int = N_DEMON,
    n_mfcc: int = N_MFCC,
) -> np.ndarray:
    """The classical feature vector of each segment: LOFAR, DEMON, DEMON depth and MFCC statistics (module
    docstring; layout :func:`classical_feature_slices`).

    Args:
        segments: ``(n, n_samples)`` waveforms at ``sample_rate`` Hz, at least 0.25 s long.
        sample_rate: Hz.
    Returns:
        ``(n, n_lofar + n_demon + 1 + 2 n_mfcc)`` float64, finite (103 columns with the defaults).
    Raises:
        DataError: segments not 2-D, not finite, or too short. ConfigError: a bad rate or size.
    """
    sample_rate = _check_rate(sample_rate)
    x = _check_segments(segments, sample_rate, "classical_features")
    parts = [
        lofar_features(x, sample_rate, n_lofar=n_lofar),
        demon_features(x, sample_rate, n_demon=n_demon),
        mfcc_features(x, sample_rate, n_mfcc=n_mfcc),
    ]
    features = np.concatenate(parts, axis=1)
    if not np.all(np.isfinite(features)):  # defensive: every part has a floor
        raise DataError("classical_features: non-finite features; the segments may hold extreme values")
    return features


# -- the classifier ---------------------------------------------------------------------------------------------------
_ARRAY_KEYS = ("scaler_mean", "scaler_scale", "coef", "intercept", "classes", "C", "seed")


class ClassicalClassifier:
    """StandardScaler + multinomial LogisticRegression (scikit-learn, lbfgs, L2 penalty ``1 / C``) on
    :func:`classical_features`.

    Probabilities are computed from the fitted arrays (:meth:`to_arrays`) by the same code before and after a
    round trip through :meth:`from_arrays`: ``softmax(((x - mean) / scale) @ coef.T + intercept)`` (two classes:
    scikit-learn's single logistic row, ``p1 = sigmoid(...)``). ``classes_`` holds the labels seen in :meth:`fit`,
    sorted; probability columns follow it.
    """

    def __init__(self, C: float = 1.0, seed: int = 0) -> None:
        if not isinstance(C, (int, float, np.number)) or isinstance(C, bool) or not math.isfinite(C) or C <= 0:
            raise ConfigError(f"ClassicalClassifier: C={C!r} must be a positive number")
        self.C = float(C)
        self.seed = int(seed)
        self._arrays: dict[str, np.ndarray] | None = None

    @property
    def classes_(self) -> np.ndarray:
        """The class labels ``(n_classes,)``, sorted, in the order of :meth:`predict_proba`'s columns."""
        return self._fitted()["classes"]

    @property
    def n_features_in_(self) -> int:
        """The feature dimension the classifier was fitted on."""
        return int(self._fitted()["coef"].shape[1])

    def _fitted(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            raise RuntimeError("ClassicalClassifier is not fitted: call fit() or from_arrays() first")
        return self._arrays

    @staticmethod
    def _check_features(features: np.ndarray, what: str, n_features: int | None = None) -> np.ndarray:
        x = np.asarray(features)
        if x.ndim != 2 or x.shape[0] < 1:
            raise DataError(f"ClassicalClassifier.{what}: expected features of shape (n, d); got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise DataError(f"ClassicalClassifier.{what}: features must be real numbers; got dtype {x.dtype}")
        x = x.astype(np.float64, copy=False)
        if not np.all(np.isfinite(x)):
            raise DataError(f"ClassicalClassifier.{what}: features hold NaN or infinite values")
        if n_features is not None and x.shape[1] != n_features:
            raise DataError(
                f"ClassicalClassifier.{what}: features have {x.shape[1]} columns; the classifier expects {n_features}"
            )
        return x

    def fit(self, features: np.ndarray, labels: np.ndarray) -> ClassicalClassifier:
        """Fit on ``features`` ``(n, d)`` and ``labels`` ``(n,)`` (any sortable labels; at least two classes)."""
        x = self._check_features(features, "fit")
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DataError(f"ClassicalClassifier.fit: expected labels of shape ({x.shape[0]},); got {y.shape}")
        if y.dtype == object:
            y = y.astype(str)
        if len(np.unique(y)) < 2:
            raise DataError(f"ClassicalClassifier.fit: labels hold a single class ({y[0]!r}); need at least two")
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        model.fit(scaler.transform(x), y)
        self._arrays = {
            "scaler_mean": np.asarray(scaler.mean_, dtype=np.float64),
            "scaler_scale": np.asarray(scaler.scale_, dtype=np.float64),
            "coef": np.asarray(model.coef_, dtype=np.float64),
            "intercept": np.asarray(model.intercept_, dtype=np.float64),
            "classes": np.asarray(model.classes_),
            "C": np.asarray(self.C, dtype=np.float64),
            "seed": np.asarray(self.seed, dtype=np.int64),
        }
        return self

    def decision_function(self, features: np.ndarray) -> np.ndarray:
        """The linear scores ``(n, n_classes)`` (two classes: ``(n, 1)``, the log-odds of ``classes_[1]``)."""
        a = self._fitted()
        x = self._check_features(features, "predict", a["coef"].shape[1])
        return ((x - a["scaler_mean"]) / a["scaler_scale"]) @ a["coef"].T + a["intercept"]

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, columns in the order of ``classes_``, rows summing to 1."""
        z = self.decision_function(features)
        if z.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The most probable class label of each row: ``(n,)``, values from ``classes_``."""
        return self.classes_[np.argmax(self.predict_proba(features), axis=1)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to predict, as plain arrays (no object dtype, so ``np.savez`` / ``np.load`` work
        without pickle): ``scaler_mean`` ``(d,)``, ``scaler_scale`` ``(d,)``, ``coef`` ``(k, d)`` (``(1, d)`` for two
        classes), ``intercept`` ``(k,)``, ``classes`` ``(n_classes,)``, and the hyper-parameters ``C`` and ``seed``
        (0-d)."""
        return {k: v.copy() for k, v in self._fitted().items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ClassicalClassifier:
        """A fitted classifier from :meth:`to_arrays`' output; its predictions are identical to the original's.

        Raises:
            DataError: a key is missing or the shapes are inconsistent.
        """
        missing = [k for k in _ARRAY_KEYS if k not in arrays]
        if missing:
            raise DataError(f"ClassicalClassifier.from_arrays: missing array(s) {', '.join(missing)}")
        a = {k: np.asarray(arrays[k]) for k in _ARRAY_KEYS}
        if a["classes"].dtype == object:
            raise DataError("ClassicalClassifier.from_arrays: 'classes' must hold numbers or strings, not objects")
        coef = a["coef"]
        n_classes = a["classes"].shape[0] if a["classes"].ndim == 1 else -1
        rows = 1 if n_classes == 2 else n_classes
        if (
            coef.ndim != 2
            or n_classes < 2
            or coef.shape[0] != rows
            or a["intercept"].shape != (rows,)
            or a["scaler_mean"].shape != (coef.shape[1],)
            or a["scaler_scale"].shape != (coef.shape[1],)
        ):
            raise DataError(
                "ClassicalClassifier.from_arrays: inconsistent shapes: "
                + ", ".join(
                    f"{k} {a[k].shape}" for k in ("scaler_mean", "scaler_scale", "coef", "intercept", "classes")
                )
            )
        # scalars come back as 0-d or 1-element arrays, depending on the store (npz, safetensors)
        model = cls(C=float(a["C"].reshape(-1)[0]), seed=int(a["seed"].reshape(-1)[0]))
        model._arrays = {
            "scaler_mean": a["scaler_mean"].astype(np.float64),
            "scaler_scale": a["scaler_scale"].astype(np.float64),
            "coef": coef.astype(np.float64),
            "intercept": a["intercept"].astype(np.float64),
            "classes": a["classes"].copy(),
            "C": np.asarray(model.C, dtype=np.float64),
            "seed": np.asarray(model.seed, dtype=np.int64),
        }
        return model
