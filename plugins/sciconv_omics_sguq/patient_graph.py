"""MOGONET's patient similarity graphs, one per omics type (Wang et al., Nat Commun 2021).

Nodes are patients; the features of one omics type give each pair of patients a cosine distance
``d(i, j) = 1 - <x_i, x_j> / max(|x_i| |x_j|, 1e-8)`` (0 for a patient and itself). The graph of the
training patients is built in four steps:

1. **Adaptive threshold.** ``threshold = adaptive_threshold(X_train, k)``: sort the ``N^2`` pairwise
   distances *including the N self-pairs* and take the one at 0-based position ``k * N``, as MOGONET's
   code does. About ``k * N + 1`` ordered pairs lie at or below it, ``N`` of them self-pairs, so ``k``
   is the average number of edges a node keeps *counting its self-connection*: about ``k - 1`` edges to
   other patients, plus the self loop added in step 3 (ROSMAP: ``k = 2``, about one neighbour per
   patient; BRCA: ``k = 10``).
2. **Edges.** ``A[i, j] = 1 - d(i, j)``, the cosine similarity, for ``i != j`` with ``d(i, j) <=
   threshold``; no edge otherwise. The distance is symmetric, so ``A`` is (MOGONET takes
   ``max(A, A^T)``, the same thing).
3. **Self loops.** ``A + I``.
4. **Row normalisation.** ``Â = D^-1 (A + I)`` with ``D_ii = sum_j |A + I|_ij`` (MOGONET's L1
   ``F.normalize``). Rows sum to 1 whenever the similarities kept are positive, i.e. always unless the
   threshold passes distance 1 (a ``k`` of the order of ``N / 2``).

A graph convolution then computes ``Â X W``: node ``i`` averages its own and its neighbours' features
weighted by similarity. The returned ``edge_index`` follows torch-geometric's source -> target
convention: the edge ``(j -> i)`` carries ``Â[i, j]``, so ``GCNConv(normalize=False,
add_self_loops=False)`` with these weights computes exactly ``Â X W``. Edges are ordered by target,
then source; self loops are included.

**Test graphs** (:func:`train_test_graph`) hold the training nodes first, then the test nodes. A test
patient is linked to the training patients within the *training* threshold, in both directions, with
the same similarity weights; test patients are never linked to each other, so a prediction does not
depend on which other patients are in the test set. Then self loops and row normalisation as above.
MOGONET's code leaves the training-training block of its test graph empty: at test time a training
node sees only itself and the test nodes linked to it. That is the default here (``train_edges=False``)
so that predictions match the published method; ``train_edges=True`` keeps the training graph's edges
among the training nodes as well.

**Missing samples.** A graph is over the rows it is given. A caller whose patients lack an omics type
passes only the patients that have it (and keeps the map from rows back to patients); nothing here
imputes or pads.

Distances are computed in float64 (MOGONET: float32) and made exactly symmetric, so ties between
``d(i, j)`` and ``d(j, i)`` never split a pair. The matrices are dense, ``O(N^2)`` memory, which suits
omics cohorts of hundreds to a few thousand patients.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import Tensor

from sciconv.errors import ConfigError, DataError

__all__ = ["adaptive_threshold", "cosine_distance", "train_graph", "train_test_graph"]

_EPS = 1e-8  # MOGONET's clamp on the product of norms
_DECIMALS = 12  # distances are rounded so that ties do not depend on BLAS blocking


def _check_matrix(x: object, name: str) -> np.ndarray:
    """A 2D, finite, real matrix with at least one row and one column, as float64."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{name}: expected a 2D array (samples x features), could not convert: {exc}") from exc
    if arr.ndim != 2:
        raise DataError(f"{name}: expected a 2D array (samples x features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name}: expected at least one sample and one feature, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise DataError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise DataError(
            f"{name}: expected finite values, found {int((~np.isfinite(arr)).sum())} NaN or infinite "
            f"(first at sample {bad[0]}, feature {bad[1]})"
        )
    return arr


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ConfigError(f"k (edges per node, MOGONET's adj_parameter): expected an integer >= 1, got {k!r}")
    return int(k)


def _check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not np.isfinite(threshold):
        raise ConfigError(f"threshold: expected a finite cosine distance, got {threshold!r}")
    return float(threshold)


def cosine_distance(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Pairwise cosine distances ``1 - <a_i, b_j> / max(|a_i| |b_j|, 1e-8)``, float64.

    With ``b`` omitted the result is the exactly symmetric ``(N, N)`` matrix of ``a`` with itself, its
    diagonal 0 (1 for an all-zero row, which is at distance 1 from everything, as in MOGONET). Distances are
    rounded to 12 decimals: the matrix product's last bits depend on how BLAS blocks the matrices, and
    without rounding two equal distances (parallel samples) could fall on different sides of a threshold
    depending on which other samples are in the batch.

    Shapes:
        a (N, F), b (M, F) -> (N, M); a (N, F) -> (N, N).
    """
    a = np.asarray(a, dtype=np.float64)
    na = np.linalg.norm(a, axis=1)
    if b is None:
        dist = 1.0 - (a @ a.T) / np.maximum(np.outer(na, na), _EPS)
        dist = np.round(0.5 * (dist + dist.T), _DECIMALS)
        np.fill_diagonal(dist, np.where(na * na > _EPS, 0.0, 1.0))
        return dist
    b = np.asarray(b, dtype=np.float64)
    nb = np.linalg.norm(b, axis=1)
    return np.round(1.0 - (a @ b.T) / np.maximum(np.outer(na, nb), _EPS), _DECIMALS)


def adaptive_threshold(X: np.ndarray, k: int) -> float:
    """The distance at 0-based position ``k * N`` of the sorted ``N^2`` pairwise distances of ``X``.

    Self-pairs are included (as in MOGONET), so a graph thresholded there keeps about ``k`` edges per
    node counting its self loop (see the module docstring). The threshold grows with ``k``.

    Args:
        X: ``(N, F)`` samples of one omics type; needs ``N > k``.
        k: average edges per node, self-connection included (MOGONET's ``adj_parameter``).

    Raises:
        DataError: ``X`` is not a finite 2D array, or has ``k`` samples or fewer.
        ConfigError: ``k`` is not an integer >= 1.
    """
    return _threshold(cosine_distance(_check_samples(X, "X", _check_k(k))), k)


def _check_samples(X: object, name: str, k: int) -> np.ndarray:
    x = _check_matrix(X, name)
    if x.shape[0] <= k:
        raise DataError(f"{name}: a graph with k={k} edges per node needs more than {k} samples, got {x.shape[0]}")
    return x


def _threshold(dist: np.ndarray, k: int) -> float:
    position = k * dist.shape[0]
    return float(np.partition(dist.ravel(), position)[position])


def _normalised_edges(adj: np.ndarray) -> tuple[Tensor, Tensor]:
    """``D^-1 (A + I)`` of a dense ``A`` with a zero diagonal, as (edge_index, edge_weight)."""
    a_hat = adj + np.eye(adj.shape[0])
    a_hat /= np.maximum(np.abs(a_hat).sum(axis=1, keepdims=True), 1e-12)
    rows, cols = np.nonzero(a_hat)  # row-major: ordered by target i, then source j
    edge_index = torch.from_numpy(np.stack([cols, rows]).astype(np.int64))
    edge_weight = torch.from_numpy(a_hat[rows, cols].astype(np.float32))
    return edge_index, edge_weight


def _train_adjacency(dist: np.ndarray, threshold: float) -> np.ndarray:
    adj = np.where(dist <= threshold, 1.0 - dist, 0.0)
    np.fill_diagonal(adj, 0.0)
    return adj


def train_graph(X_train: np.ndarray, k: int) -> tuple[Tensor, Tensor, float]:
    """The training graph of one omics type, thresholded adaptively for ``k`` edges per node.

    Args:
        X_train: ``(N, F)`` training samples that have this omics type; needs ``N > k``.
        k: average edges per node, self loop included (MOGONET's ``adj_parameter``: 2 for ROSMAP).

    Returns:
        ``edge_index`` (LongTensor ``(2, E)``, source -> target, self loops included),
        ``edge_weight`` (FloatTensor ``(E,)``, the row-normalised ``D^-1 (A + I)``: the weights into each
        node sum to 1) and the threshold, to be passed on to :func:`train_test_graph`.
    """
    k = _check_k(k)
    dist = cosine_distance(_check_samples(X_train, "X_train", k))
    threshold = _threshold(dist, k)
    edge_index, edge_weight = _normalised_edges(_train_adjacency(dist, threshold))
    return edge_index, edge_weight, threshold


def train_test_graph(
    X_train: np.ndarray, X_test: np.ndarray, threshold: float, *, train_edges: bool = False
) -> tuple[Tensor, Tensor]:
    """The graph over training then test samples of one omics type, for inference.

    Test node ``N_train + t`` is linked, both ways, to every training node within ``threshold`` (the
    training graph's, from :func:`train_graph`), weighted by cosine similarity; test nodes are never
    linked to each other. With ``train_edges=False`` (MOGONET's code) there are no training-training
    edges; with ``True`` the training graph's edges are kept. Self loops and row normalisation follow.

    Args:
        X_train: ``(N_train, F)`` the training samples the graph's threshold came from.
        X_test: ``(N_test, F)`` test samples with the same features.
        threshold: the training threshold.
        train_edges: keep the edges among training nodes.

    Returns:
        ``edge_index`` (LongTensor ``(2, E)``) and ``edge_weight`` (FloatTensor ``(E,)``) over
        ``N_train + N_test`` nodes, training nodes first; as in :func:`train_graph`.
    """
    threshold = _check_threshold(threshold)
    x_tr = _check_matrix(X_train, "X_train")
    x_te = _check_matrix(X_test, "X_test")
    if x_tr.shape[1] != x_te.shape[1]:
        raise DataError(
            f"X_test: expected the {x_tr.shape[1]} features of X_train, got {x_te.shape[1]} "
            f"(shapes {x_tr.shape} and {x_te.shape})"
        )
    n_tr, n_te = x_tr.shape[0], x_te.shape[0]
    adj = np.zeros((n_tr + n_te, n_tr + n_te))
    cross = cosine_distance(x_te, x_tr)
    adj[n_tr:, :n_tr] = np.where(cross <= threshold, 1.0 - cross, 0.0)
    adj[:n_tr, n_tr:] = adj[n_tr:, :n_tr].T
    if train_edges:
        adj[:n_tr, :n_tr] = _train_adjacency(cosine_distance(x_tr), threshold)
    return _normalised_edges(adj)
