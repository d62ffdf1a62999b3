"""Hand-written regressors of the paper's model zoo that no well-kept library provides, as scikit-learn
estimators: the general regression neural network (:class:`GRNN`, Specht 1991), the multilayer group method
of data handling (:class:`GMDH`, Ivakhnenko 1971) and a row-subsampling wrapper (:class:`SubsampledRegressor`)
that caps the training set of estimators whose fit grows faster than linearly (kernel SVR).

All take the plugin's one-step-ahead design: ``X`` of shape ``(n_rows, n_features)`` (the delay vector at day
``t``, oldest to newest, then the one-hot day of week of day ``t + 1``; values of each series scaled to about
1) and ``y`` of shape ``(n_rows,)`` (the scaled value at day ``t + 1``). They accept any real-valued design.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

_MIN_STD = 1e-12


def _standardizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations of ``X`` (n, d); constant columns get scale 1."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > _MIN_STD, std, 1.0)


def _subsample(n: int, cap: int | None, rng: np.random.RandomState) -> np.ndarray:
    """Sorted indices of at most ``cap`` of ``n`` rows drawn without replacement (all rows when under the cap)."""
    if cap is None or n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _sq_dists(A: np.ndarray, B: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (len(A), len(B)) from the Gram trick, clipped at 0; ``b_sq`` is ``|B|^2``."""
    d2 = (A * A).sum(axis=1)[:, None] + b_sq[None, :] - 2.0 * (A @ B.T)
    return np.maximum(d2, 0.0, out=d2)


class GRNN(RegressorMixin, BaseEstimator):
    """General regression neural network (Specht 1991, IEEE Trans. Neural Netw. 2(6):568-576).

    The prediction is the Nadaraya-Watson kernel regression over the stored training patterns ``x_i``
    (inputs standardized to zero mean and unit variance per column)::

        yhat(x) = sum_i y_i exp(-|x - x_i|^2 / (2 sigma^2)) / sum_i exp(-|x - x_i|^2 / (2 sigma^2))

    Weights are computed relative to the nearest pattern (the smallest distance is subtracted before the
    exponential), so a query far from every pattern gets its nearest neighbours' mean instead of 0/0.
    Small ``sigma`` tends to the nearest-neighbour rule; a huge ``sigma`` tends to the training mean.

    Speed and memory: the pattern layer stores at most ``max_train_rows`` training rows (a uniform random
    subsample drawn with ``random_state``; GRNN is a memory-based learner, and 20,000 of the ~80,000 pooled
    NN5 rows already cover the 14-to-22-dimensional input space densely). Prediction works through
    ``chunk_size`` query rows at a time, so memory stays at ``chunk_size * max_train_rows`` floats. With
    ``n_neighbors`` set, each query sums over its ``n_neighbors`` nearest patterns only (a KD-tree /
    ball-tree truncation of the kernel sum, exact up to weights below ``exp(-d_k^2 / (2 sigma^2))``).

    Bandwidth: ``sigma="auto"`` chooses sigma by leave-one-out mean squared error (each of ``loo_rows``
    random training patterns predicted from all the other stored patterns) over ``sigma_grid``, given in
    units of the standardized inputs; the default grid is 16 values from 0.05 to 3 (geometric). A float
    fixes sigma (standardized units).

    Args:
        sigma: the Gaussian kernel width in standardized input units, or ``"auto"``.
        max_train_rows: cap on stored patterns (``None``: keep all).
        n_neighbors: sum the kernel over this many nearest patterns only (``None``: all patterns).
        sigma_grid: candidate widths for ``sigma="auto"`` (``None``: the default grid).
        loo_rows: patterns used to score the leave-one-out criterion.
        chunk_size: query rows per vectorized block.
        random_state: seed of the subsampling.

    Attributes:
        sigma_: the width used (float). ``loo_scores_``: leave-one-out MSE per grid value (auto only).
        X_train_: stored standardized patterns (n_stored, n_features); ``y_train_``: their targets.
    """

    def __init__(
        self,
        sigma: float | str = "auto",
        max_train_rows: int | None = 20_000,
        n_neighbors: int | None = None,
        sigma_grid: tuple[float, ...] | None = None,
        loo_rows: int = 1_000,
        chunk_size: int = 1_024,
        random_state: int | None = 0,
    ) -> None:
        self.sigma = sigma
        self.max_train_rows = max_train_rows
        self.n_neighbors = n_neighbors
        self.sigma_grid = sigma_grid
        self.loo_rows = loo_rows
        self.chunk_size = chunk_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> GRNN:
        """Store (a subsample of) the standardized patterns and choose ``sigma``. X (n, d), y (n,)."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        if isinstance(self.sigma, str) and self.sigma != "auto":
            raise ValueError(f"sigma must be a positive float or 'auto'; got {self.sigma!r}")
        if not isinstance(self.sigma, str) and not float(self.sigma) > 0:
            raise ValueError(f"sigma must be a positive float or 'auto'; got {self.sigma!r}")
        rng = check_random_state(self.random_state)
        keep = _subsample(len(X), self.max_train_rows, rng)
        self.mean_, self.scale_ = _standardizer(X)
        self.X_train_ = (X[keep] - self.mean_) / self.scale_
        self.y_train_ = np.asarray(y, dtype=np.float64)[keep]
        self._sq = (self.X_train_ * self.X_train_).sum(axis=1)
        self._nn: NearestNeighbors | None = None
        if self.n_neighbors is not None:
            k = min(int(self.n_neighbors), len(self.X_train_))
            self._nn = NearestNeighbors(n_neighbors=k).fit(self.X_train_)
        if self.sigma == "auto":
            grid = np.asarray(self.sigma_grid if self.sigma_grid is not None else np.geomspace(0.05, 3.0, 16))
            self.loo_scores_ = self._loo_scores(grid, rng)
            self.sigma_ = float(grid[int(np.argmin(self.loo_scores_))])
        else:
            self.sigma_ = float(self.sigma)
        return self

    def _loo_scores(self, grid: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        """Leave-one-out MSE of each width in ``grid`` on up to ``loo_rows`` stored patterns. Returns (len(grid),)."""
        n = len(self.X_train_)
        if n < 2:
            return np.zeros(len(grid))
        rows = _subsample(n, self.loo_rows, rng)
        sse = np.zeros(len(grid))
        for start in range(0, len(rows), self.chunk_size):
            idx = rows[start : start + self.chunk_size]
            d2 = _sq_dists(self.X_train_[idx], self.X_train_, self._sq)
            d2[np.arange(len(idx)), idx] = np.inf  # leave the pattern itself out
            d2 -= d2.min(axis=1, keepdims=True)
            for g, s in enumerate(grid):
                w = np.exp(-d2 / (2.0 * s * s))
                pred = (w @ self.y_train_) / w.sum(axis=1)
                sse[g] += float(((pred - self.y_train_[idx]) ** 2).sum())
        return sse / len(rows)

    def predict(self, X: Any) -> np.ndarray:
        """Kernel-weighted mean of the stored targets. X (n, d) -> (n,)."""
        check_is_fitted(self, "sigma_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = (X - self.mean_) / self.scale_
        out = np.empty(len(Z))
        two_s2 = 2.0 * self.sigma_ * self.sigma_
        for start in range(0, len(Z), self.chunk_size):
            q = Z[start : start + self.chunk_size]
            if self._nn is not None:
                dist, idx = self._nn.kneighbors(q)
                d2 = dist * dist
                d2 -= d2[:, :1]
                w = np.exp(-d2 / two_s2)
                out[start : start + len(q)] = (w * self.y_train_[idx]).sum(axis=1) / w.sum(axis=1)
            else:
                d2 = _sq_dists(q, self.X_train_, self._sq)
                d2 -= d2.min(axis=1, keepdims=True)
                w = np.exp(-d2 / two_s2)
                out[start : start + len(q)] = (w @ self.y_train_) / w.sum(axis=1)
        return out


def _quadratic_design(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ivakhnenko's polynomial terms ``[1, a, b, ab, a^2, b^2]`` for inputs a, b (n, P) -> (n, P, 6)."""
    return np.stack([np.ones_like(a), a, b, a * b, a * a, b * b], axis=-1)


class GMDH(RegressorMixin, BaseEstimator):
    """Group method of data handling, the multilayer iterative algorithm (Ivakhnenko 1971, IEEE Trans. Syst.
    Man Cybern. SMC-1(4):364-378).

    Each layer takes its inputs ``z_1..z_k`` (the features for layer 1, the previous layer's kept neurons
    afterwards; each standardized with its fitting-data mean and std) and, for every pair ``i < j`` (the single
    pair ``(0, 0)`` when ``k = 1``), fits Ivakhnenko's quadratic neuron::

        y = a0 + a1 z_i + a2 z_j + a3 z_i z_j + a4 z_i^2 + a5 z_j^2

    by (ridge-stabilised) least squares on the *training part* of the rows. Neurons are ranked by the
    external regularity criterion, their mean squared error on the held-out *selection part*
    (``selection_fraction`` of the rows, drawn at random with ``random_state``); the best ``width`` neurons
    become the next layer's inputs. Growth stops after ``max_layers`` layers, or as soon as a layer's best
    criterion fails to improve on the previous layer's best by a relative ``tol``; that layer is discarded
    and the model's output is the best neuron of the last kept layer. Neuron coefficients are not refitted
    on the selection part (the classical algorithm; the selection part must stay external). With fewer than
    12 rows, both parts are all rows (no external criterion can be formed).

    Args:
        max_layers: the most layers grown.
        width: neurons kept per layer (``F``), also the next layer's inputs.
        selection_fraction: share of rows in the selection part, in (0, 1).
        ridge: Tikhonov penalty on the five non-constant coefficients, relative to the number of training
            rows (the inputs are standardized, so it is scale free); keeps collinear pairs solvable.
        tol: relative improvement of the best criterion a new layer must bring to be kept. The default, 0.5%,
            is above the optimism of picking the best of a few dozen neurons on the same selection part
            (on a target independent of the inputs, layers keep "improving" it by 0.1-0.4% each).
        random_state: seed of the training/selection split.

    Attributes:
        layers_: per kept layer, a dict with ``pairs`` (width_l, 2) input indices, ``coef`` (width_l, 6), and the
            input standardization ``mean``/``scale`` (k,).
        criteria_: best selection MSE of every layer grown, including a rejected last one.
        n_layers_: number of kept layers.
    """

    def __init__(
        self,
        max_layers: int = 5,
        width: int = 8,
        selection_fraction: float = 0.3,
        ridge: float = 1e-6,
        tol: float = 5e-3,
        random_state: int | None = 0,
    ) -> None:
        self.max_layers = max_layers
        self.width = width
        self.selection_fraction = selection_fraction
        self.ridge = ridge
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> GMDH:
        """Grow the network layer by layer. X (n, d), y (n,)."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        y = np.asarray(y, dtype=np.float64)
        if not 0.0 < self.selection_fraction < 1.0:
            raise ValueError(f"selection_fraction must be in (0, 1); got {self.selection_fraction}")
        if self.max_layers < 1 or self.width < 1:
            raise ValueError(f"max_layers and width must be >= 1; got {self.max_layers} and {self.width}")
        n = len(X)
        rng = check_random_state(self.random_state)
        if n >= 12:
            perm = rng.permutation(n)
            n_sel = max(1, round(self.selection_fraction * n))
            sel, tr = perm[:n_sel], perm[n_sel:]
        else:
            sel = tr = np.arange(n)
        self.layers_: list[dict[str, np.ndarray]] = []
        self.criteria_: list[float] = []
        Z = X
        for _ in range(self.max_layers):
            mean, scale = _standardizer(Z)
            Zs = (Z - mean) / scale
            k = Zs.shape[1]
            pairs = np.array(list(combinations(range(k), 2)) if k > 1 else [(0, 0)], dtype=np.int64)
            coef, crit = self._fit_pairs(Zs, y, pairs, tr, sel)
            order = np.argsort(crit, kind="stable")[: self.width]
            best = float(crit[order[0]])
            self.criteria_.append(best)
            if self.layers_ and not best < self.criteria_[-2] * (1.0 - self.tol):
                break
            layer = {"pairs": pairs[order], "coef": coef[order], "mean": mean, "scale": scale}
            self.layers_.append(layer)
            Z = self._layer_output(layer, Z)
        self.n_layers_ = len(self.layers_)
        return self

    def _fit_pairs(
        self, Zs: np.ndarray, y: np.ndarray, pairs: np.ndarray, tr: np.ndarray, sel: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Least-squares neurons for every pair and their selection MSE. Returns coef (P, 6) and crit (P,)."""
        n_tr = len(tr)
        chunk = max(1, 4_000_000 // (6 * max(n_tr, 1)))  # bounds the (n, P, 6) design at ~32 MB
        penalty = self.ridge * n_tr * np.diag([0.0, 1, 1, 1, 1, 1])
        coefs, crits = [], []
        Ztr, Zsel = Zs[tr], Zs[sel]
        for start in range(0, len(pairs), chunk):
            p = pairs[start : start + chunk]
            D = _quadratic_design(Ztr[:, p[:, 0]], Ztr[:, p[:, 1]])
            gram = np.einsum("npi,npj->pij", D, D) + penalty
            rhs = np.einsum("npi,n->pi", D, y[tr])
            try:
                coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                coef = np.stack([np.linalg.lstsq(g, r, rcond=None)[0] for g, r in zip(gram, rhs, strict=True)])
            Dsel = _quadratic_design(Zsel[:, p[:, 0]], Zsel[:, p[:, 1]])
            pred = np.einsum("npi,pi->np", Dsel, coef)
            coefs.append(coef)
            crits.append(((pred - y[sel, None]) ** 2).mean(axis=0))
        crit = np.concatenate(crits)
        return np.concatenate(coefs), np.where(np.isfinite(crit), crit, np.inf)

    @staticmethod
    def _layer_output(layer: dict[str, np.ndarray], Z: np.ndarray) -> np.ndarray:
        """Outputs (n, width_l) of a layer's kept neurons for raw (unstandardized) inputs Z (n, k)."""
        Zs = (Z - layer["mean"]) / layer["scale"]
        p = layer["pairs"]
        return np.einsum("npi,pi->np", _quadratic_design(Zs[:, p[:, 0]], Zs[:, p[:, 1]]), layer["coef"])

    def predict(self, X: Any) -> np.ndarray:
        """The best neuron of the last kept layer. X (n, d) -> (n,)."""
        check_is_fitted(self, "layers_")
        Z = validate_data(self, X, dtype=np.float64, reset=False)
        for layer in self.layers_:
            Z = self._layer_output(layer, Z)
        return Z[:, 0]


class SubsampledRegressor(RegressorMixin, BaseEstimator):
    """Fit ``estimator`` on at most ``max_train_rows`` rows drawn uniformly at random (seed ``random_state``).

    For estimators whose training cost grows faster than linearly with the rows: kernel SVR (libsvm) is
    O(n^2) to O(n^3) in time and O(n^2) in kernel cache, so fitting it on ~80,000 pooled rows takes many
    minutes, while 10,000 rows take seconds and lose little accuracy on a 14-to-22-feature design. The
    wrapper is transparent otherwise: ``predict`` is the fitted clone's. X (n, d), y (n,).

    Attributes:
        estimator_: the fitted clone. ``n_train_rows_``: rows it was fitted on.
    """

    def __init__(self, estimator: Any, max_train_rows: int | None = 10_000, random_state: int | None = 0) -> None:
        self.estimator = estimator
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SubsampledRegressor:
        """Fit a clone of ``estimator`` on the subsample."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        keep = _subsample(len(X), self.max_train_rows, check_random_state(self.random_state))
        self.estimator_ = clone(self.estimator).fit(X[keep], np.asarray(y)[keep])
        self.n_train_rows_ = len(keep)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of the fitted clone. X (n, d) -> (n,)."""
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(self.estimator_.predict(X), dtype=np.float64)


__all__ = ["GMDH", "GRNN", "SubsampledRegressor"]
