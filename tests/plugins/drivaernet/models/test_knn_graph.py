"""The chunked kNN graph: the same neighbours as the whole distance matrix and as a numpy brute force, each point
its own first neighbour, PyG's edge_index convention, the memory budget kept, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sciconv.errors import ConfigError, DataError
from sciconv_drivaernet.models import knn_graph
from sciconv_drivaernet.models.knn_graph import chunk_plan, indices_to_edge_index, knn_edge_index, knn_indices


def brute_force(x: np.ndarray, k: int) -> np.ndarray:
    """(B, N, k) nearest first, by explicit differences in float64."""
    d = ((x[:, :, None, :] - x[:, None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=2, kind="stable")[:, :, :k]


@pytest.mark.parametrize("channels", [3, 16])
def test_chunked_equals_unchunked_equals_numpy(channels: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 150, channels)
    expected = brute_force(x.double().numpy(), 10)
    whole = knn_indices(x, 10, chunked=False)
    # 0.02 MiB: 34 query rows of one cloud per chunk; 0.2 MiB: two whole clouds per chunk; default: all at once
    for memory_mb in (0.02, 0.2, 256.0):
        chunked = knn_indices(x, 10, memory_mb=memory_mb)
        assert torch.equal(chunked, whole), memory_mb
    np.testing.assert_array_equal(whole.numpy(), expected)


def test_each_point_is_its_own_first_neighbour() -> None:
    torch.manual_seed(1)
    x = torch.rand(2, 300, 3)
    idx = knn_indices(x, 8, memory_mb=0.05)
    assert torch.equal(idx[:, :, 0], torch.arange(300).expand(2, 300))
    assert idx.dtype == torch.long and idx.shape == (2, 300, 8)


def test_edge_index_is_pyg_source_to_target_within_each_cloud() -> None:
    torch.manual_seed(2)
    b, n, k = 3, 40, 5
    x = torch.randn(b, n, 3)
    edge_index = knn_edge_index(x, k, memory_mb=0.001)
    idx = knn_indices(x, k, chunked=False)
    assert edge_index.shape == (2, b * n * k) and edge_index.dtype == torch.long
    source, target = edge_index
    assert torch.equal(target, torch.arange(b * n).repeat_interleave(k))  # row 1: the point i, k edges each
    assert torch.equal(source // n, target // n)  # never across clouds
    assert torch.equal((source % n).view(b, n, k), idx)  # row 0: the neighbour j, nearest first
    assert torch.equal(indices_to_edge_index(idx), edge_index)
    # the neighbours of node b * N + i are the nearest rows of x.reshape(B * N, C)
    flat = x.reshape(b * n, 3)
    node = 2 * n + 7
    nearest = (flat[2 * n : 3 * n] - flat[node]).square().sum(1).argsort()[:k] + 2 * n
    assert torch.equal(source[target == node], nearest)


def test_memory_budget_is_never_exceeded(monkeypatch: pytest.MonkeyPatch) -> None:
    """32 clouds would need 32 * N * N distances at once; chunks keep at most memory_mb of them."""
    sizes: list[int] = []
    neighbours = knn_graph._neighbours

    def recording(a: torch.Tensor, b: torch.Tensor, *args: object) -> torch.Tensor:
        sizes.append(a.shape[0] * a.shape[1] * b.shape[1] * a.element_size())
        return neighbours(a, b, *args)

    torch.manual_seed(3)
    x = torch.randn(32, 200, 3)
    reference = knn_indices(x, 6, chunked=False)
    monkeypatch.setattr(knn_graph, "_neighbours", recording)
    for memory_mb in (0.05, 1.0):
        sizes.clear()
        assert torch.equal(knn_indices(x, 6, memory_mb=memory_mb), reference)
        assert max(sizes) <= memory_mb * 2**20
        assert sum(sizes) == 32 * 200 * 200 * 4  # every distance computed once
        assert len(sizes) > 1
    sizes.clear()
    knn_indices(x, 6, chunked=False)
    assert sizes == [32 * 200 * 200 * 4]


def test_chunk_plan() -> None:
    assert chunk_plan(32, 5000, 4, 256.0) == (2, 5000)  # 100 MB per cloud: two whole clouds per chunk
    assert chunk_plan(4, 1000, 4, 256.0) == (4, 1000)  # everything at once
    clouds, rows = chunk_plan(32, 100_000, 4, 256.0)  # 40 GB per cloud: rows of one cloud
    assert clouds == 1 and rows * 100_000 * 4 <= 256 * 2**20 < (rows + 1) * 100_000 * 4
    assert chunk_plan(1, 10**9, 4, 1.0) == (1, 1)  # one row even when it alone is over budget


def test_no_gradient_through_the_graph() -> None:
    x = torch.randn(2, 30, 4, requires_grad=True)
    idx = knn_indices(x, 4)
    assert not idx.requires_grad
    assert torch.equal(idx, knn_indices(x.detach(), 4, chunked=False))


def test_k_equal_to_n_is_every_point() -> None:
    x = torch.randn(1, 12, 3)
    idx = knn_indices(x, 12, memory_mb=1e-4)
    assert torch.equal(idx.sort(dim=2).values, torch.arange(12).expand(1, 12, 12))


def test_errors_name_the_input() -> None:
    x = torch.randn(2, 10, 3)
    with pytest.raises(ConfigError, match=r"k \(11\).*N = 10"):
        knn_edge_index(x, 11)
    with pytest.raises(ConfigError, match="positive number of neighbours"):
        knn_edge_index(x, 0)
    with pytest.raises(ConfigError, match="memory_mb"):
        knn_edge_index(x, 3, memory_mb=0.0)
    with pytest.raises(DataError, match=r"\(B, N, C\)"):
        knn_edge_index(torch.randn(10, 3), 3)
    with pytest.raises(DataError, match="floating-point"):
        knn_edge_index(torch.ones(2, 10, 3, dtype=torch.long), 3)
