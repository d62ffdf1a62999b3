"""Classical SSVEP baselines as scikit-learn classifiers: FBCCA (Chen et al. 2015) and (ensemble) TRCA
(Nakanishi et al. 2018).

Both take windows ``X`` of shape ``(n_trials, n_channels, n_times)`` in µV, already cropped to start at
stimulus onset + visual latency, sampled at ``sfreq`` Hz, and integer target indices ``y`` (indices into the
stimulus table). Both decompose the windows with the FBCCA filter bank
(:func:`~sciconv_bci_ssvep.filterbank.fbcca_subbands`) and combine sub-band scores with the weights
``w_m = m**-a + b`` (:func:`~sciconv_bci_ssvep.filterbank.subband_weights`). Everything is vectorised over
trials, sub-bands and classes; only TRCA's generalised eigenproblems (one per class and sub-band) are solved
one by one with :func:`scipy.linalg.eigh`.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from sciconv_bci_ssvep.filterbank import fbcca_subbands, subband_weights

_FBCCA_CHUNK = 128  # trials per chunk when computing canonical correlations (bounds memory)


def _check_windows(X: np.ndarray, what: str = "X") -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"expected {what} of shape (n_trials, n_channels, n_times); got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1 or X.shape[2] < 2:
        raise ValueError(f"{what} must hold at least one trial, one channel and two samples; got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{what} must be numeric; got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return X


def _check_labels(y: np.ndarray, n_trials: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_trials:
        raise ValueError(f"expected y of shape ({n_trials},) (one target index per trial); got shape {y.shape}")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise ValueError(f"y must hold integer target indices; got dtype {y.dtype}")
    return y.astype(np.int64, copy=False)


def _check_channels(est: BaseEstimator, X: np.ndarray) -> None:
    if X.shape[1] != est.n_channels_:
        raise ValueError(f"X has {X.shape[1]} channels but {type(est).__name__} was fitted with {est.n_channels_}")


def _orthonormal_basis(a: np.ndarray) -> np.ndarray:
    """Orthonormal basis of the column space of each time-centred ``(..., n_times, p)`` matrix.

    Columns belonging to numerically zero singular values are zeroed, so that a rank-deficient input
    (collinear or flat channels) does not add spurious directions. Returns ``(..., n_times, min(n_times, p))``.
    """
    a = a - a.mean(axis=-2, keepdims=True)
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    tol = s[..., :1] * max(a.shape[-2:]) * np.finfo(a.dtype).eps
    return u * (s > tol)[..., None, :]


def _pearson_rows(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Centre and scale ``a`` to unit norm along ``axis`` (zero vectors stay zero)."""
    a = a - a.mean(axis=axis, keepdims=True)
    norm = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
    return a / np.where(norm > 0, norm, 1.0)


class FBCCA(ClassifierMixin, BaseEstimator):
    """Filter-bank canonical correlation analysis (Chen et al. 2015, J. Neural Eng. 12:046008).

    Training-free: for every target ``k`` with frequency ``f_k`` the reference ``Y_k`` holds
    ``sin(2 pi h f_k t), cos(2 pi h f_k t)`` for ``h = 1..n_harmonics`` over the window's time axis
    (``t = i / sfreq``). Each window is split into ``n_subbands`` sub-bands; ``rho_m`` is the first canonical
    correlation between sub-band ``m`` (all channels) and ``Y_k``, computed from orthonormal bases of the two
    centred column spaces (largest singular value of ``Q_x^T Q_y``). The score of target ``k`` is
    ``sum_m w_m rho_m**2`` (Chen et al.'s eq.; Nakanishi's ``test_fbcca.m`` sums unsquared ``rho_m``) and the
    prediction is the arg-max.

    Rest class (an extension, not in Chen et al.): when the stimulus table has a rest target (a NaN
    frequency), ``fit`` learns a threshold on the maximum combined SSVEP score of the training trials, the one
    that maximises training accuracy of the rule "rest if the best SSVEP score is below the threshold,
    otherwise the arg-max" (the middle one of the maximisers). ``decision_function`` reports the threshold as
    the rest class's score, so the arg-max over all columns implements the rule. Without a rest target,
    ``fit`` only validates its input and records the classes and channel count: predictions never depend on
    the training data.

    Parameters:
        sfreq: sampling rate in Hz (> 200 Hz, for the filter bank's 100 Hz stop-band edge).
        freqs: stimulus frequency of each target in Hz, ``(n_targets,)``; NaN marks the rest target.
        phases: stimulus phases in rad, ``(n_targets,)`` or None. Accepted so that FBCCA is built from the same
            stimulus table as the other models; checked for length but without effect on the scores, because
            the span of ``sin`` and ``cos`` at a frequency (hence every canonical correlation) does not change
            with a phase shift.
        n_harmonics: number of harmonics in the references.
        n_subbands: number of filter-bank sub-bands (1..10).
        a, b: sub-band weights ``w_m = m**-a + b``.
        rest_class: index of the rest target in the table; None picks the target whose frequency is NaN, if
            any. The frequency at that index must be NaN.

    Attributes (after ``fit``):
        classes_: ``arange(n_targets)``, every target of the stimulus table.
        n_channels_: channel count seen in ``fit``.
        rest_index_: index of the rest target, or None.
        threshold_: learned rest threshold (only with a rest target).
    """

    def __init__(
        self,
        sfreq: float,
        freqs: np.ndarray,
        phases: np.ndarray | None = None,
        n_harmonics: int = 5,
        n_subbands: int = 5,
        a: float = 1.25,
        b: float = 0.25,
        rest_class: int | None = None,
    ) -> None:
        self.sfreq = sfreq
        self.freqs = freqs
        self.phases = phases
        self.n_harmonics = n_harmonics
        self.n_subbands = n_subbands
        self.a = a
        self.b = b
        self.rest_class = rest_class

    # -- stimulus table ------------------------------------------------------------------------------------

    def _table(self) -> tuple[np.ndarray, int | None]:
        """``(freqs (n_targets,), rest index or None)``, validated."""
        freqs = np.asarray(self.freqs, dtype=np.float64)
        if freqs.ndim != 1 or freqs.size < 1:
            raise ValueError(f"freqs must be a 1-d array of target frequencies in Hz; got shape {freqs.shape}")
        if self.phases is not None and np.asarray(self.phases).shape != freqs.shape:
            raise ValueError(f"phases must have the shape of freqs {freqs.shape}; got {np.asarray(self.phases).shape}")
        nan = np.flatnonzero(np.isnan(freqs))
        if self.rest_class is None:
            if nan.size > 1:
                raise ValueError(f"freqs has {nan.size} NaN entries; at most one rest target is supported")
            rest = int(nan[0]) if nan.size else None
        else:
            rest = int(self.rest_class)
            if not 0 <= rest < freqs.size:
                raise ValueError(f"rest_class={self.rest_class} is not a target index (0..{freqs.size - 1})")
            if not np.isnan(freqs[rest]) or nan.size != 1:
                raise ValueError(f"rest_class={rest} must be the only target whose frequency is NaN")
        ssvep = np.delete(freqs, rest) if rest is not None else freqs
        if ssvep.size < 1 or np.any(~np.isfinite(ssvep)) or np.any(ssvep <= 0):
            raise ValueError("the SSVEP targets' frequencies must be positive and finite")
        if self.n_harmonics < 1 or int(self.n_harmonics) != self.n_harmonics:
            raise ValueError(f"n_harmonics must be a positive integer; got {self.n_harmonics!r}")
        return freqs, rest

    def _references(self, freqs: np.ndarray, n_times: int) -> np.ndarray:
        """Sine-cosine references ``(n_freqs, n_times, 2 * n_harmonics)``."""
        t = np.arange(n_times) / float(self.sfreq)
        h = np.arange(1, int(self.n_harmonics) + 1)
        arg = 2 * np.pi * freqs[:, None, None] * h[None, None, :] * t[None, :, None]  # (K, T, H)
        return np.concatenate([np.sin(arg), np.cos(arg)], axis=-1)

    def _ssvep_scores(self, X: np.ndarray, ssvep_freqs: np.ndarray) -> np.ndarray:
        """Combined scores ``(n_trials, n_ssvep_targets)`` of windows ``X`` (validated, float64)."""
        weights = subband_weights(self.n_subbands, self.a, self.b)
        q_ref = _orthonormal_basis(self._references(ssvep_freqs, X.shape[-1]))  # (K, T, 2H)
        out = np.empty((X.shape[0], ssvep_freqs.size))
        for start in range(0, X.shape[0], _FBCCA_CHUNK):
            sub = fbcca_subbands(X[start : start + _FBCCA_CHUNK], self.sfreq, self.n_subbands, dtype=np.float64)
            q_x = _orthonormal_basis(np.swapaxes(sub, -1, -2))  # (n, M, T, C')
            n, n_bands, n_times, n_x = q_x.shape
            # Q_x^T Q_y for every (trial, sub-band, target) as one matrix product: (n M C', T) @ (T, K 2H).
            cross = np.swapaxes(q_x, -1, -2).reshape(-1, n_times) @ q_ref.transpose(1, 0, 2).reshape(n_times, -1)
            cross = cross.reshape(n, n_bands, n_x, q_ref.shape[0], q_ref.shape[2]).transpose(0, 1, 3, 2, 4)
            rho = np.clip(np.linalg.svd(cross, compute_uv=False)[..., 0], 0.0, 1.0)  # (n, M, K)
            out[start : start + _FBCCA_CHUNK] = np.einsum("m,nmk->nk", weights, rho**2)
        return out

    # -- scikit-learn API ----------------------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray) -> FBCCA:
        """Validate, record the classes and channel count; learn the rest threshold if there is a rest target.

        Args:
            X: training windows ``(n_trials, n_channels, n_times)`` in µV.
            y: target indices ``(n_trials,)`` into the stimulus table.
        """
        freqs, rest = self._table()
        X = _check_windows(X)
        y = _check_labels(y, X.shape[0])
        if np.any((y < 0) | (y >= freqs.size)):
            raise ValueError(f"y holds target indices outside the stimulus table (0..{freqs.size - 1})")
        self.classes_ = np.arange(freqs.size)
        self.n_channels_ = X.shape[1]
        self.rest_index_ = rest
        if rest is not None:
            self.threshold_ = self._learn_threshold(X, y, freqs, rest)
        return self

    def _learn_threshold(self, X: np.ndarray, y: np.ndarray, freqs: np.ndarray, rest: int) -> float:
        is_rest = y == rest
        if not is_rest.any():
            raise ValueError(
                f"the stimulus table has a rest target (index {rest}) but the training data hold no rest trials, "
                "so FBCCA cannot learn its rest threshold"
            )
        ssvep_idx = np.delete(np.arange(freqs.size), rest)
        scores = self._ssvep_scores(X, freqs[ssvep_idx])
        best = scores.max(axis=1)
        right_if_ssvep = (~is_rest) & (ssvep_idx[scores.argmax(axis=1)] == y)
        order = np.argsort(best, kind="stable")
        s = best[order]
        # Split k (0..n): the k lowest-scoring trials are called rest. Accuracy of each split:
        rest_hits = np.concatenate([[0], np.cumsum(is_rest[order])])
        ssvep_hits = right_if_ssvep.sum() - np.concatenate([[0], np.cumsum(right_if_ssvep[order])])
        acc = rest_hits + ssvep_hits
        valid = np.ones(s.size + 1, dtype=bool)
        valid[1:-1] = s[:-1] < s[1:]  # a threshold cannot split tied scores
        acc = np.where(valid, acc, -1)
        maximisers = np.flatnonzero(acc == acc.max())
        k = int(maximisers[maximisers.size // 2])
        edges = np.concatenate([[s[0] - 1.0], s, [s[-1] + 1.0]])
        return float(0.5 * (edges[k] + edges[k + 1]))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores ``(n_trials, n_classes)``: ``sum_m w_m rho_m**2`` per SSVEP target; the rest target (if any)
        scores the learned threshold."""
        check_is_fitted(self, "classes_")
        freqs, rest = self._table()
        X = _check_windows(X)
        _check_channels(self, X)
        if rest is None:
            return self._ssvep_scores(X, freqs)
        scores = np.empty((X.shape[0], freqs.size))
        ssvep_idx = np.delete(np.arange(freqs.size), rest)
        scores[:, ssvep_idx] = self._ssvep_scores(X, freqs[ssvep_idx])
        scores[:, rest] = self.threshold_
        return scores

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted target indices ``(n_trials,)``."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]


class TRCA(ClassifierMixin, BaseEstimator):
    """Task-related component analysis (Nakanishi et al. 2018, IEEE TBME 65:104-112), plain or ensemble.

    Training, per class and sub-band (FBCCA filter bank): with the class's trials ``X_i`` (each centred over
    time), ``S = sum_{i != j} X_i X_j^T`` and ``Q = U U^T`` where ``U`` is the class's trials concatenated in
    time and centred; the spatial filter ``w`` maximises ``w^T S w / w^T Q w``, the eigenvector of the largest
    eigenvalue of ``S w = lambda Q w`` (:func:`scipy.linalg.eigh`). The template is the class-mean filtered
    trial.

    Test: plain TRCA correlates ``w_k^T X`` with ``w_k^T template_k`` (Pearson); ensemble TRCA projects both
    onto all classes' filters stacked, ``W = [w_1 ... w_K]``, and takes the Pearson correlation of the two
    flattened ``(K, n_times)`` projections (as MATLAB's ``corrcoef`` on matrices in Nakanishi's
    ``test_trca.m``). The sub-band correlations are combined as ``sum_m w_m r_m`` (unsquared, as in that
    code, so that anti-correlation does not score) and the prediction is the arg-max.

    Differences from Nakanishi's code: the top eigenvector is the largest algebraic eigenvalue (``eigs`` in
    the code takes the largest magnitude), and each sub-band is filtered from the raw window (the code's
    ``train_trca.m`` reassigns its loop variable and so cascades the sub-band filters during training).

    Parameters:
        sfreq: sampling rate in Hz (> 200 Hz, for the filter bank).
        n_subbands: number of filter-bank sub-bands (1..10).
        ensemble: ensemble TRCA (True) or plain TRCA (False).
        a, b: sub-band weights ``w_m = m**-a + b``.

    Attributes (after ``fit``):
        classes_: sorted distinct labels of ``y``.
        filters_: spatial filters ``(n_subbands, n_classes, n_channels)``.
        templates_: class-mean sub-band trials ``(n_classes, n_subbands, n_channels, n_times)`` in µV.
        n_channels_, n_times_: shape of the training windows; test windows must match.
    """

    def __init__(
        self, sfreq: float, n_subbands: int = 5, ensemble: bool = True, a: float = 1.25, b: float = 0.25
    ) -> None:
        self.sfreq = sfreq
        self.n_subbands = n_subbands
        self.ensemble = ensemble
        self.a = a
        self.b = b

    def fit(self, X: np.ndarray, y: np.ndarray) -> TRCA:
        """Learn spatial filters and templates.

        Args:
            X: training windows ``(n_trials, n_channels, n_times)`` in µV.
            y: target indices ``(n_trials,)``; every class needs at least 2 trials.
        """
        X = _check_windows(X)
        y = _check_labels(y, X.shape[0])
        classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
        if classes.size < 2:
            raise ValueError(f"TRCA needs at least 2 classes; y holds only {classes.tolist()}")
        if np.any(counts < 2):
            few = ", ".join(f"class {c}: {n}" for c, n in zip(classes[counts < 2], counts[counts < 2], strict=True))
            raise ValueError(f"TRCA needs at least 2 training trials per class ({few})")
        sub = fbcca_subbands(X, self.sfreq, self.n_subbands, dtype=np.float64)  # (n, M, C, T)
        n_times = sub.shape[-1]
        onehot = (y_idx[:, None] == np.arange(classes.size)[None, :]).astype(np.float64)  # (n, K)

        centred = sub - sub.mean(axis=-1, keepdims=True)
        sum_centred = np.einsum("nk,nmct->kmct", onehot, centred, optimize=True)
        auto = np.einsum("nmct,nmdt->nmcd", centred, centred, optimize=True)
        s = np.einsum("kmct,kmdt->kmcd", sum_centred, sum_centred, optimize=True) - np.einsum(
            "nk,nmcd->kmcd", onehot, auto, optimize=True
        )
        raw = np.einsum("nmct,nmdt->nmcd", sub, sub, optimize=True)
        n_samples = counts * n_times  # samples of each class's concatenation
        mean = np.einsum("nk,nmc->kmc", onehot, sub.sum(axis=-1)) / n_samples[:, None, None]
        q = np.einsum("nk,nmcd->kmcd", onehot, raw, optimize=True) - n_samples[:, None, None, None] * np.einsum(
            "kmc,kmd->kmcd", mean, mean
        )

        n_classes, n_bands, n_channels = classes.size, sub.shape[1], sub.shape[2]
        filters = np.empty((n_bands, n_classes, n_channels))
        eye = np.eye(n_channels)
        for k in range(n_classes):
            for m in range(n_bands):
                s_km = 0.5 * (s[k, m] + s[k, m].T)
                q_km = 0.5 * (q[k, m] + q[k, m].T)
                # A negligible ridge keeps Q positive definite for rank-deficient (e.g. re-referenced) data.
                q_km = q_km + 1e-12 * max(np.trace(q_km) / n_channels, np.finfo(float).tiny) * eye
                _, vec = scipy.linalg.eigh(s_km, q_km, subset_by_index=[n_channels - 1, n_channels - 1])
                filters[m, k] = vec[:, 0]
        # An eigenvector's sign is arbitrary, and ensemble scores (one correlation of the flattened projections,
        # centred as a whole) depend on it slightly: fix it so that each filter's largest weight is positive.
        largest = np.take_along_axis(filters, np.abs(filters).argmax(axis=-1)[..., None], axis=-1)
        filters *= np.where(largest < 0, -1.0, 1.0)

        self.classes_ = classes
        self.filters_ = filters
        self.templates_ = np.einsum("nk,nmct->kmct", onehot, sub, optimize=True) / counts[:, None, None, None]
        self.n_channels_ = X.shape[1]
        self.n_times_ = X.shape[2]
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Scores ``(n_trials, n_classes)``: weighted sum over sub-bands of the template correlations."""
        check_is_fitted(self, "classes_")
        X = _check_windows(X)
        _check_channels(self, X)
        if X.shape[2] != self.n_times_:
            raise ValueError(f"X has {X.shape[2]} samples per window but TRCA was fitted with {self.n_times_}")
        sub = fbcca_subbands(X, self.sfreq, self.n_subbands, dtype=np.float64)  # (n, M, C, T)
        weights = subband_weights(self.n_subbands, self.a, self.b)
        test = np.matmul(self.filters_, sub)  # (n, M, K filters, T): each trial through every class's filter
        if self.ensemble:
            ref = np.matmul(self.filters_, self.templates_)  # (K templates, M, K filters, T)
            test = _pearson_rows(test.reshape(*test.shape[:2], -1))  # (n, M, K*T)
            ref = _pearson_rows(ref.reshape(*ref.shape[:2], -1))  # (K, M, K*T)
            r = np.einsum("nmf,jmf->nmj", test, ref)
        else:
            ref = np.einsum("mkc,kmct->mkt", self.filters_, self.templates_)  # template k through filter k
            r = np.sum(_pearson_rows(test) * _pearson_rows(ref)[None], axis=-1)  # (n, M, K)
        return np.einsum("m,nmk->nk", weights, r)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted target indices ``(n_trials,)``."""
        scores = self.decision_function(X)
        return self.classes_[np.argmax(scores, axis=1)]
