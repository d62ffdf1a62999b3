"""MOGONET's patient similarity graphs: threshold, edges, weights, test graphs and input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch_geometric.nn import GCNConv

from sciconv.errors import ConfigError, DataError
from sciconv_omics_sguq.patient_graph import adaptive_threshold, cosine_distance, train_graph, train_test_graph


def dense(edge_index: torch.Tensor, edge_weight: torch.Tensor, n: int) -> np.ndarray:
    """``Â[i, j]`` from source -> target edges ``(j -> i)``."""
    a = np.zeros((n, n))
    a[edge_index[1].numpy(), edge_index[0].numpy()] = edge_weight.numpy()
    return a


def reference_adjacency(x: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """MOGONET's recipe written out with loops: sort all N^2 distances, threshold, 1 - d, + I, L1 rows."""
    n = len(x)
    cos = lambda a, b: 1.0 - a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-8)  # noqa: E731
    dist = np.array([[0.0 if i == j else cos(x[i], x[j]) for j in range(n)] for i in range(n)])
    threshold = sorted(dist.ravel())[k * n]
    a = np.eye(n)
    for i in range(n):
        for j in range(n):
            if i != j and dist[i, j] <= threshold:
                a[i, j] = 1.0 - dist[i, j]
    return a / np.abs(a).sum(axis=1, keepdims=True), threshold


def gaussian(n: int, f: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, f))


# ---------------------------------------------------------------------------------------------------------
# known examples


def test_four_points_on_a_circle() -> None:
    """Directions 0°, 10°, 90°, 100°: the two close pairs are linked at k=1; k=2 adds 10°-90°."""
    angles = np.deg2rad([0.0, 10.0, 90.0, 100.0])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.array([[1.0], [3.0], [0.5], [2.0]])
    c10, c80 = np.cos(np.deg2rad(10.0)), np.cos(np.deg2rad(80.0))
    # 16 sorted distances: 4 zeros, 4 x (1 - cos 10°), 2 x (1 - cos 80°), ...
    assert adaptive_threshold(x, 1) == pytest.approx(1.0 - c10)
    assert adaptive_threshold(x, 2) == pytest.approx(1.0 - c80)

    ei, ew, threshold = train_graph(x, 1)
    assert threshold == pytest.approx(1.0 - c10)
    expected = np.array([[1, c10, 0, 0], [c10, 1, 0, 0], [0, 0, 1, c10], [0, 0, c10, 1]]) / (1.0 + c10)
    np.testing.assert_allclose(dense(ei, ew, 4), expected, rtol=1e-6)

    ei, ew, _ = train_graph(x, 2)
    expected = np.array([[1, c10, 0, 0], [c10, 1, c80, 0], [0, c80, 1, c10], [0, 0, c10, 1]])
    np.testing.assert_allclose(dense(ei, ew, 4), expected / expected.sum(1, keepdims=True), rtol=1e-6)


def test_test_graph_of_the_known_example() -> None:
    """A test point at 5° links to the 0° and 10° training points only (threshold 1 - cos 10°)."""
    angles = np.deg2rad([0.0, 10.0, 90.0, 100.0])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    _, _, threshold = train_graph(x, 1)
    x_test = np.array([[np.cos(np.deg2rad(5.0)), np.sin(np.deg2rad(5.0))], [0.0, -1.0]])
    c5 = np.cos(np.deg2rad(5.0))
    a = dense(*train_test_graph(x, x_test, threshold), 6)
    expected = np.zeros((6, 6))
    expected[4, [0, 1, 4]] = [c5, c5, 1.0]
    expected[[0, 1], 4] = c5
    expected[[0, 1, 2, 3, 5], [0, 1, 2, 3, 5]] = 1.0  # self loops; 270° is linked to nobody
    np.testing.assert_allclose(a, expected / expected.sum(1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_matches_the_reference_recipe(k: int) -> None:
    x = gaussian(30, seed=k)
    ei, ew, threshold = train_graph(x, k)
    a_ref, t_ref = reference_adjacency(x, k)
    assert threshold == pytest.approx(t_ref, abs=1e-12)
    np.testing.assert_allclose(dense(ei, ew, 30), a_ref, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# structure


@pytest.mark.parametrize("k", [1, 2, 3, 10])
def test_about_k_edges_per_node_counting_the_self_loop(k: int) -> None:
    """Entries at or below the threshold: kN + 1, or kN + 2 when the k N-th distance's twin joins it."""
    n = 60
    ei, ew, _ = train_graph(gaussian(n, seed=k), k)
    assert k * n + 1 <= ei.shape[1] <= k * n + 2
    assert ei.dtype == torch.int64 and ew.dtype == torch.float32 and ei.shape == (2, ew.shape[0])
    assert (ei[0] == ei[1]).sum() == n  # one self loop each


def test_symmetric_row_normalised_with_self_loops() -> None:
    n = 40
    ei, ew, _ = train_graph(gaussian(n) + 2.0, 3)
    a = dense(ei, ew, n)
    pattern = a != 0
    np.testing.assert_array_equal(pattern, pattern.T)
    assert np.all(np.diag(a) > 0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    # D^-1 (A + I) with A symmetric: D Â is symmetric
    degree = 1.0 / np.diag(a)  # the diagonal of Â is 1 / D_ii
    np.testing.assert_allclose(degree[:, None] * a, (degree[:, None] * a).T, atol=1e-5)
    # edges are ordered by target, then source
    order = (ei[1] * n + ei[0]).numpy()
    assert np.all(np.diff(order) > 0)


def test_edge_index_is_source_to_target_for_gcnconv() -> None:
    """GCNConv(normalize=False, add_self_loops=False) with these edges computes MOGONET's Â X W + b."""
    n = 25
    x = gaussian(n, 8)
    ei, ew, _ = train_graph(x, 2)
    a = torch.tensor(dense(ei, ew, n), dtype=torch.float32)
    conv = GCNConv(8, 5, normalize=False, add_self_loops=False)
    torch.nn.init.normal_(conv.bias)
    xt = torch.tensor(x, dtype=torch.float32)
    torch.testing.assert_close(conv(xt, ei, ew), a @ conv.lin(xt) + conv.bias, atol=1e-5, rtol=1e-5)


def test_test_graph_links_test_samples_to_training_samples_only() -> None:
    x_tr, x_te = gaussian(50, seed=1), gaussian(20, seed=2)
    _, _, threshold = train_graph(x_tr, 2)
    ei, ew = train_test_graph(x_tr, x_te, threshold)
    a = dense(ei, ew, 70)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    test_block = a[50:, 50:]
    np.testing.assert_array_equal(test_block, np.diag(np.diag(test_block)))  # only self loops
    cross = cosine_distance(x_te, x_tr) <= threshold
    assert cross.sum() > 0
    np.testing.assert_array_equal(a[50:, :50] != 0, cross)
    np.testing.assert_array_equal(a[:50, 50:] != 0, cross.T)
    # MOGONET's code: no training-training edges in the test graph
    train_block = a[:50, :50]
    np.testing.assert_array_equal(train_block, np.diag(np.diag(train_block)))


def test_test_graph_can_keep_the_training_edges() -> None:
    x_tr, x_te = gaussian(50, seed=1), gaussian(20, seed=2)
    ei_tr, ew_tr, threshold = train_graph(x_tr, 2)
    a = dense(*train_test_graph(x_tr, x_te, threshold, train_edges=True), 70)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(a[:50, :50] != 0, dense(ei_tr, ew_tr, 50) != 0)
    assert np.count_nonzero(a[50:, 50:] - np.diag(np.diag(a[50:, 50:]))) == 0


def test_graph_is_over_the_samples_given() -> None:
    """Samples without the modality are left out by the caller: the graph has one node per row given."""
    x = gaussian(30)
    present = np.array([i for i in range(30) if i % 4 != 0])
    ei, ew, _ = train_graph(x[present], 2)
    assert int(ei.max()) == len(present) - 1
    a = dense(ei, ew, len(present))
    a_ref, _ = reference_adjacency(x[present], 2)
    np.testing.assert_allclose(a, a_ref, atol=1e-6)


def test_an_all_zero_sample_is_at_distance_one() -> None:
    x = gaussian(20)
    x[3] = 0.0
    dist = cosine_distance(x)
    assert dist[3, 3] == 1.0 and np.all(dist[3] == 1.0)
    ei, ew, threshold = train_graph(x, 2)
    assert threshold < 1.0
    a = dense(ei, ew, 20)
    assert a[3, 3] == 1.0 and np.count_nonzero(a[3]) == 1 and np.count_nonzero(a[:, 3]) == 1


# ---------------------------------------------------------------------------------------------------------
# properties

finite = st.floats(-10.0, 10.0, allow_nan=False, width=64)


@st.composite
def samples(draw: st.DrawFn, min_n: int = 3) -> np.ndarray:
    n = draw(st.integers(min_n, 25))
    f = draw(st.integers(1, 6))
    x = draw(arrays(np.float64, (n, f), elements=finite))
    return x + draw(st.floats(-2.0, 2.0))


@settings(max_examples=60, deadline=None)
@given(samples(), st.integers(1, 10))
def test_threshold_is_monotone_in_k(x: np.ndarray, k: int) -> None:
    k = min(k, len(x) - 2)
    assert adaptive_threshold(x, k) <= adaptive_threshold(x, k + 1)


@settings(max_examples=60, deadline=None)
@given(samples(), st.integers(1, 4))
def test_graph_invariants(x: np.ndarray, k: int) -> None:
    k = min(k, len(x) - 1)
    n = len(x)
    ei, ew, threshold = train_graph(x, k)
    assert ei.min() >= 0 and ei.max() < n
    a = dense(ei, ew, n)
    pattern = a != 0
    np.testing.assert_array_equal(pattern, pattern.T)
    assert np.all(np.diag(a) > 0)
    np.testing.assert_allclose(np.abs(a).sum(axis=1), 1.0, rtol=1e-5)
    # an edge between distinct samples exactly where the distance is within the threshold (weight 1 - d != 0)
    dist = cosine_distance(x)
    expected = (dist <= threshold) & (dist != 1.0)
    np.fill_diagonal(expected, True)
    np.testing.assert_array_equal(pattern, expected)


@settings(max_examples=40, deadline=None)
@given(samples(min_n=4), st.floats(0.1, 100.0))
def test_graph_ignores_the_scale_of_each_sample(x: np.ndarray, scale: float) -> None:
    """Cosine distances do not change when a sample is scaled by a positive factor."""
    x = x[np.linalg.norm(x, axis=1) > 1e-3]
    assume(len(x) > 0)
    scales = np.linspace(1.0, scale, len(x))[:, None]
    np.testing.assert_allclose(cosine_distance(x * scales), cosine_distance(x), atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(samples(min_n=4), samples(min_n=1), st.data())
def test_a_test_sample_does_not_depend_on_the_other_test_samples(
    x_tr: np.ndarray, x_te: np.ndarray, data: st.DataObject
) -> None:
    f = min(x_tr.shape[1], x_te.shape[1])
    x_tr, x_te = x_tr[:, :f], x_te[:, :f]
    threshold = adaptive_threshold(x_tr, 1)
    t = data.draw(st.integers(0, len(x_te) - 1))
    n_tr = len(x_tr)
    a_all = dense(*train_test_graph(x_tr, x_te, threshold), n_tr + len(x_te))
    a_one = dense(*train_test_graph(x_tr, x_te[t : t + 1], threshold), n_tr + 1)
    np.testing.assert_allclose(a_all[n_tr + t, :n_tr], a_one[n_tr, :n_tr], atol=1e-6)
    assert a_all[n_tr + t, n_tr + t] == pytest.approx(a_one[n_tr, n_tr], abs=1e-6)


# ---------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros(5), "2D array"),
        (np.zeros((4, 3, 2)), "2D array"),
        (np.zeros((0, 3)), "at least one sample"),
        (np.zeros((5, 0)), "at least one sample"),
        (np.array([[1.0, np.nan], [1.0, 2.0], [0.5, 1.0]]), "NaN or infinite.*sample 0, feature 1"),
        (np.array([[1.0, np.inf], [1.0, 2.0], [0.5, 1.0]]), "finite"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "real numbers"),
        (np.ones((2, 3)), "more than 2 samples, got 2"),
    ],
)
def test_bad_samples(x: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        train_graph(x, 2)
    with pytest.raises(DataError, match=match):
        adaptive_threshold(x, 2)


@pytest.mark.parametrize("k", [0, -1, 1.5, "2", True, None])
def test_bad_k(k: object) -> None:
    with pytest.raises(ConfigError, match=r"k .*integer >= 1"):
        train_graph(gaussian(10), k)  # type: ignore[arg-type]


def test_bad_test_graph_input() -> None:
    x_tr = gaussian(10, 4)
    with pytest.raises(DataError, match="X_test: expected the 4 features of X_train, got 5"):
        train_test_graph(x_tr, gaussian(3, 5), 0.5)
    with pytest.raises(DataError, match=r"X_test.*2D"):
        train_test_graph(x_tr, np.zeros(4), 0.5)
    with pytest.raises(DataError, match=r"X_train.*finite"):
        train_test_graph(np.full((3, 4), np.nan), gaussian(3, 4), 0.5)
    with pytest.raises(ConfigError, match="threshold"):
        train_test_graph(x_tr, gaussian(3, 4), float("nan"))


@pytest.mark.parametrize("value", [-7.30916745, 3.3, 0.1])
@pytest.mark.parametrize("features", [3, 6, 7])
def test_parallel_samples_are_at_distance_exactly_zero(value: float, features: int) -> None:
    """Found by hypothesis in CI: with all samples parallel every distance is 0 up to rounding noise that
    depends on BLAS blocking, so a test sample's edges depended on the other test samples. Rounded
    distances tie the same way in every batch."""
    a, b = np.full((4, features), value), np.full((2, features), np.sign(value))
    assert np.abs(cosine_distance(a)).max() == 0.0
    assert np.abs(cosine_distance(a, b)).max() == 0.0
