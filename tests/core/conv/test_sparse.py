"""sciconv.conv.sparse equals dense conv3d restricted to the active (or reached) sites, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.conv.sparse import (
    SparseConv3d,
    SparseVoxelTensor,
    SubMConv3d,
    build_rulebook,
    get_rulebook,
    sparse_conv3d,
    submanifold_conv3d,
)


def random_dense(
    batch: int, channels: int, shape: tuple[int, int, int], occupancy: float, seed: int, dtype=torch.float32
) -> torch.Tensor:
    """(B, C, D, H, W) grid whose active sites (all channels nonzero) have the given occupancy."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand((batch, 1, *shape), generator=g) < occupancy
    values = torch.randn((batch, channels, *shape), generator=g, dtype=dtype)
    values = torch.where(values == 0, torch.ones_like(values), values)
    return values * mask


def active_mask(x: torch.Tensor) -> torch.Tensor:
    return (x != 0).any(dim=1, keepdim=True)


def test_from_dense_to_dense_roundtrip() -> None:
    x = random_dense(2, 3, (5, 6, 7), 0.3, 0)
    s = SparseVoxelTensor.from_dense(x)
    assert s.num_active == int(active_mask(x).sum())
    assert s.spatial_shape == (5, 6, 7) and s.batch_size == 2
    assert s.coords.dtype == torch.int64 and s.features.shape == (s.num_active, 3)
    torch.testing.assert_close(s.to_dense(), x, rtol=0, atol=0)


def test_submanifold_matches_dense_at_active_sites_only() -> None:
    x = random_dense(2, 4, (7, 6, 8), 0.25, 1)
    w = torch.randn(5, 4, 3, 3, 3)
    b = torch.randn(5)
    s = SparseVoxelTensor.from_dense(x)
    y = submanifold_conv3d(s, w, b)
    assert torch.equal(y.coords, s.coords)
    ref = F.conv3d(x, w, b, padding=1)
    torch.testing.assert_close(y.to_dense(), ref * active_mask(x))


def test_submanifold_forward_backward_vs_dense_reference() -> None:
    x = random_dense(1, 3, (6, 6, 6), 0.3, 2)
    mask = active_mask(x)
    s = SparseVoxelTensor.from_dense(x)
    feats = s.features.clone().requires_grad_(True)
    w = torch.randn(4, 3, 3, 3, 3, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    y = submanifold_conv3d(s.replace_features(feats), w, b, dilation=2)
    g = torch.randn_like(y.features)
    (y.features * g).sum().backward()

    xd = x.clone().requires_grad_(True)
    w2 = w.detach().clone().requires_grad_(True)
    b2 = b.detach().clone().requires_grad_(True)
    ref = F.conv3d(xd, w2, b2, padding=2, dilation=2)
    gd = SparseVoxelTensor(g, s.coords, s.spatial_shape, 1).to_dense()  # upstream grad at active sites only
    (ref * mask * gd).sum().backward()
    c = s.coords
    torch.testing.assert_close(y.features, ref.permute(0, 2, 3, 4, 1)[c[:, 0], c[:, 1], c[:, 2], c[:, 3]])
    torch.testing.assert_close(feats.grad, xd.grad.permute(0, 2, 3, 4, 1)[c[:, 0], c[:, 1], c[:, 2], c[:, 3]])
    torch.testing.assert_close(w.grad, w2.grad)
    torch.testing.assert_close(b.grad, b2.grad)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "kernel"), [(2, 0, 1, 3), (2, 1, 1, 3), (1, 1, 2, 3), (2, 0, 1, 2)]
)
def test_sparse_conv_matches_dense_and_zero_elsewhere(stride: int, padding: int, dilation: int, kernel: int) -> None:
    x = random_dense(2, 3, (9, 8, 7), 0.15, 3)
    w = torch.randn(4, 3, kernel, kernel, kernel)
    s = SparseVoxelTensor.from_dense(x)
    y = sparse_conv3d(s, w, None, stride, padding, dilation)
    ref = F.conv3d(x, w, None, stride, padding, dilation)
    assert y.spatial_shape == tuple(ref.shape[2:])
    out = y.to_dense()
    torch.testing.assert_close(out, ref)  # equal at produced sites and the dense output is zero elsewhere
    reached = F.conv3d(
        active_mask(x).double(), torch.ones(1, 1, kernel, kernel, kernel).double(), None, stride, padding, dilation
    )
    assert y.num_active == int((reached > 0).sum())  # output sites = all sites reached by an active input


def test_sparse_conv_backward_vs_dense() -> None:
    x = random_dense(1, 3, (8, 8, 8), 0.2, 4)
    s = SparseVoxelTensor.from_dense(x)
    feats = s.features.clone().requires_grad_(True)
    w = torch.randn(5, 3, 3, 3, 3, requires_grad=True)
    b = torch.randn(5, requires_grad=True)
    y = sparse_conv3d(s.replace_features(feats), w, b, stride=2, padding=1)
    g = torch.randn_like(y.features)
    (y.features * g).sum().backward()
    xd = x.clone().requires_grad_(True)
    w2 = w.detach().clone().requires_grad_(True)
    b2 = b.detach().clone().requires_grad_(True)
    ref = F.conv3d(xd, w2, b2, stride=2, padding=1)
    gd = SparseVoxelTensor(g, y.coords, y.spatial_shape, 1).to_dense()
    (ref * gd).sum().backward()
    c = s.coords
    torch.testing.assert_close(feats.grad, xd.grad.permute(0, 2, 3, 4, 1)[c[:, 0], c[:, 1], c[:, 2], c[:, 3]])
    torch.testing.assert_close(w.grad, w2.grad)
    torch.testing.assert_close(b.grad, b2.grad)


def test_gradcheck_float64() -> None:
    x = random_dense(1, 2, (4, 4, 4), 0.35, 5, dtype=torch.float64)
    s = SparseVoxelTensor.from_dense(x)
    feats = s.features.clone().requires_grad_(True)
    w = torch.randn(3, 2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def subm(f: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return submanifold_conv3d(s.replace_features(f), w, b).features

    def strided(f: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return sparse_conv3d(s.replace_features(f), w, b, stride=2, padding=1).features

    assert torch.autograd.gradcheck(subm, (feats, w, b))
    assert torch.autograd.gradcheck(strided, (feats, w, b))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    occupancy=st.floats(0.0, 0.6),
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 4),
    kernel=st.sampled_from([1, 3]),
    stride=st.sampled_from([1, 2]),
    dilation=st.sampled_from([1, 2]),
    padding=st.integers(0, 2),
    batch=st.integers(1, 2),
    shape=st.tuples(st.integers(3, 7), st.integers(3, 7), st.integers(3, 7)),
)
def test_property_matches_dense(
    seed: int,
    occupancy: float,
    c_in: int,
    c_out: int,
    kernel: int,
    stride: int,
    dilation: int,
    padding: int,
    batch: int,
    shape: tuple[int, int, int],
) -> None:
    x = random_dense(batch, c_in, shape, occupancy, seed)
    g = torch.Generator().manual_seed(seed + 1)
    w = torch.randn((c_out, c_in, kernel, kernel, kernel), generator=g)
    b = torch.randn(c_out, generator=g)
    s = SparseVoxelTensor.from_dense(x)
    y = submanifold_conv3d(s, w, b, dilation=dilation)
    ref = F.conv3d(x, w, b, padding=dilation * (kernel // 2), dilation=dilation)
    torch.testing.assert_close(y.to_dense(), ref * active_mask(x), atol=1e-5, rtol=1e-5)
    if any(n + 2 * padding < dilation * (kernel - 1) + 1 for n in shape):
        with pytest.raises(ValueError, match="larger than the padded input"):
            sparse_conv3d(s, w, None, stride, padding, dilation)
        return
    y = sparse_conv3d(s, w, None, stride, padding, dilation)
    ref = F.conv3d(x, w, None, stride, padding, dilation)
    torch.testing.assert_close(y.to_dense(), ref, atol=1e-5, rtol=1e-5)


def test_searchsorted_fallback_matches_direct_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import sciconv.conv.sparse as sparse

    s = SparseVoxelTensor.from_dense(random_dense(2, 3, (7, 6, 5), 0.3, 9))
    w = torch.randn(4, 3, 3, 3, 3)
    table = submanifold_conv3d(s, w, dilation=2, rulebook=build_rulebook(s, 3, dilation=2, submanifold=True))
    monkeypatch.setattr(sparse, "_DENSE_TABLE_LIMIT", 0)
    monkeypatch.setattr(sparse, "_DENSE_TABLE_PER_SITE", 0)
    rb = build_rulebook(s, 3, dilation=2, submanifold=True)
    assert torch.equal(submanifold_conv3d(s, w, dilation=2, rulebook=rb).features, table.features)


def test_identical_results_at_one_and_two_threads() -> None:
    x = random_dense(1, 16, (24, 24, 24), 0.1, 6)
    s = SparseVoxelTensor.from_dense(x)
    w = torch.randn(32, 16, 3, 3, 3, requires_grad=True)
    w2 = torch.randn(8, 32, 3, 3, 3)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 1, 2):
            torch.set_num_threads(threads)
            feats = s.features.clone().requires_grad_(True)
            w.grad = None
            # fresh coordinates each time so that the rulebook is rebuilt at this thread count too
            t = SparseVoxelTensor(feats, s.coords.clone(), s.spatial_shape, 1)
            y = submanifold_conv3d(t, w)
            z = sparse_conv3d(y, w2, stride=2)
            (y.features.square().sum() + z.features.sum()).backward()
            results.append((y.features.detach(), z.features.detach(), z.coords, feats.grad, w.grad.clone()))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            assert torch.equal(a, b)


def test_rulebook_cached_and_reused() -> None:
    s = SparseVoxelTensor.from_dense(random_dense(1, 2, (6, 6, 6), 0.3, 7))
    rb = get_rulebook(s, 3, submanifold=True)
    assert get_rulebook(s, 3, submanifold=True) is rb
    y = SubMConv3d(2, 4)(s)
    assert get_rulebook(y, 3, submanifold=True) is rb  # shared along a stack of submanifold layers
    assert get_rulebook(s, 3, stride=2) is not rb
    # an explicit rulebook is used as given
    w = torch.randn(4, 2, 3, 3, 3)
    torch.testing.assert_close(submanifold_conv3d(s, w, rulebook=rb).features, submanifold_conv3d(s, w).features)
    fresh = build_rulebook(s, 3, submanifold=True)
    assert fresh is not rb and fresh.num_pairs == rb.num_pairs
    # modifying the coordinates in place invalidates the cache
    s.coords.add_(0)
    assert get_rulebook(s, 3, submanifold=True) is not rb


def test_modules_init_like_conv3d() -> None:
    torch.manual_seed(0)
    ours = SparseConv3d(4, 6, 3, stride=2, padding=1)
    torch.manual_seed(0)
    theirs = torch.nn.Conv3d(4, 6, 3, stride=2, padding=1)
    torch.testing.assert_close(ours.weight, theirs.weight)
    torch.testing.assert_close(ours.bias, theirs.bias)
    x = random_dense(1, 4, (6, 6, 6), 0.3, 8)
    y = ours(SparseVoxelTensor.from_dense(x))
    reached = torch.zeros_like(theirs(x)[:, :1], dtype=torch.bool)
    reached[y.coords[:, 0], 0, y.coords[:, 1], y.coords[:, 2], y.coords[:, 3]] = True
    torch.testing.assert_close(y.to_dense(), theirs(x) * reached)  # bias only at produced sites
    subm = SubMConv3d(4, 6, 3, bias=False)
    assert subm.bias is None and subm.weight.shape == (6, 4, 3, 3, 3)


def test_bad_input_errors() -> None:
    f = torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"outside .* e\.g\. \(batch, z, y, x\) = \(0, 4, 0, 0\)"):
        SparseVoxelTensor(f, torch.tensor([[0, 0, 0, 0], [0, 4, 0, 0], [0, 1, 1, 1]]), (4, 4, 4), 1)
    with pytest.raises(ValueError, match="outside"):
        SparseVoxelTensor(f, torch.tensor([[0, 0, 0, 0], [0, -1, 0, 0], [0, 1, 1, 1]]), (4, 4, 4), 1)
    with pytest.raises(ValueError, match="outside"):
        SparseVoxelTensor(f, torch.tensor([[0, 0, 0, 0], [2, 0, 0, 0], [0, 1, 1, 1]]), (4, 4, 4), 2)
    with pytest.raises(ValueError, match=r"duplicated .* e\.g\. \(batch, z, y, x\) = \(1, 2, 3, 1\)"):
        SparseVoxelTensor(f, torch.tensor([[1, 2, 3, 1], [0, 2, 3, 1], [1, 2, 3, 1]]), (4, 4, 4), 2)
    with pytest.raises(ValueError, match="int64"):
        SparseVoxelTensor(f, torch.zeros(3, 4, dtype=torch.int32), (4, 4, 4), 1)
    with pytest.raises(ValueError, match="floating-point"):
        SparseVoxelTensor(torch.ones(3, 2, dtype=torch.int64), torch.zeros(3, 4, dtype=torch.int64), (4, 4, 4))
    with pytest.raises(ValueError, match="rows"):
        SparseVoxelTensor(f, torch.zeros(2, 4, dtype=torch.int64), (4, 4, 4))
    s = SparseVoxelTensor(f, torch.tensor([[0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 1, 1]]), (4, 4, 4), 1)
    with pytest.raises(ValueError, match="input channels"):
        submanifold_conv3d(s, torch.randn(4, 3, 3, 3, 3))
    with pytest.raises(ValueError, match="odd kernel"):
        submanifold_conv3d(s, torch.randn(4, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="dtype"):
        sparse_conv3d(s, torch.randn(4, 2, 3, 3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="larger than the padded input"):
        sparse_conv3d(s, torch.randn(4, 2, 5, 5, 5))
    with pytest.raises(ValueError, match="bias"):
        sparse_conv3d(s, torch.randn(4, 2, 3, 3, 3), torch.randn(3))
    with pytest.raises(ValueError, match="rulebook does not match"):
        sparse_conv3d(s, torch.randn(4, 2, 3, 3, 3), rulebook=get_rulebook(s, 3, submanifold=True))
    with pytest.raises(ValueError, match="odd kernel"):
        SubMConv3d(2, 4, 2)
