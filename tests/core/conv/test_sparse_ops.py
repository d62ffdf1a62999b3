"""Sparse ops around the convolutions: batch norm, per-sample pooling, voxelisation, MAC counting, and the
kernel-2 stride-2 downsampling of E-3DSNN, each checked against a dense or brute-force reference."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sciconv.conv.sparse import (
    SparseBatchNorm,
    SparseVoxelTensor,
    build_rulebook,
    rulebook_macs,
    sparse_conv3d,
    sparse_mean_per_sample,
    voxelize,
)


def random_sparse(
    batch: int, channels: int, shape: tuple[int, int, int], occupancy: float, seed: int, dtype=torch.float32
) -> SparseVoxelTensor:
    """Random active sites (every channel nonzero there) on a (B, C, D, H, W) grid."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand((batch, 1, *shape), generator=g) < occupancy
    values = torch.randn((batch, channels, *shape), generator=g, dtype=dtype)
    values = torch.where(values == 0, torch.ones_like(values), values)
    return SparseVoxelTensor.from_dense(values * mask)


def dense_mask(s: SparseVoxelTensor) -> torch.Tensor:
    """(B, 1, D, H, W) bool, True at the active sites."""
    mask = torch.zeros((s.batch_size, 1, *s.spatial_shape), dtype=torch.bool)
    c = s.coords
    mask[c[:, 0], 0, c[:, 1], c[:, 2], c[:, 3]] = True
    return mask


def at_sites(dense: torch.Tensor, s: SparseVoxelTensor) -> torch.Tensor:
    """Values of a (B, C, D, H, W) grid at the sites of ``s``. Shapes: -> (N, C)."""
    c = s.coords
    return dense.permute(0, 2, 3, 4, 1)[c[:, 0], c[:, 1], c[:, 2], c[:, 3]]


# --- SparseBatchNorm ---------------------------------------------------------------------------------


def test_batchnorm_equals_batchnorm1d_on_features_train_and_eval() -> None:
    s = random_sparse(2, 4, (5, 6, 7), 0.3, 0)
    torch.manual_seed(0)
    ours = SparseBatchNorm(4)
    theirs = torch.nn.BatchNorm1d(4)
    with torch.no_grad():
        for bn in (ours, theirs):
            bn.weight.copy_(torch.tensor([1.0, 2.0, -0.5, 0.3]))
            bn.bias.copy_(torch.tensor([0.1, -0.2, 0.0, 1.0]))
    for step in range(3):
        x = random_sparse(2, 4, (5, 6, 7), 0.3, step)
        y = ours(x)
        torch.testing.assert_close(y.features, theirs(x.features))
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    ours.eval()
    theirs.eval()
    y = ours(s)
    torch.testing.assert_close(y.features, theirs(s.features))
    assert y.coords is s.coords and y.spatial_shape == s.spatial_shape and y.batch_size == s.batch_size
    assert y._cache is s._cache  # rulebooks built for s are reused downstream


def test_batchnorm_train_matches_masked_dense_statistics() -> None:
    s = random_sparse(3, 5, (6, 5, 4), 0.25, 1)
    bn = SparseBatchNorm(5, eps=1e-5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-1, 1)
    y = bn(s)
    dense = s.to_dense().double()
    mask = dense_mask(s).double()
    count = mask.sum()
    mean = (dense * mask).sum(dim=(0, 2, 3, 4), keepdim=True) / count
    var = ((dense - mean) ** 2 * mask).sum(dim=(0, 2, 3, 4), keepdim=True) / count  # biased, as BN normalises
    w = bn.weight.detach().double().view(1, -1, 1, 1, 1)
    b = bn.bias.detach().double().view(1, -1, 1, 1, 1)
    ref = (dense - mean) / torch.sqrt(var + bn.eps) * w + b
    torch.testing.assert_close(y.features.double(), at_sites(ref, s), rtol=1e-5, atol=1e-5)
    # the running statistics moved towards the active-site statistics (unbiased variance, momentum 0.1)
    n = s.num_active
    torch.testing.assert_close(bn.running_mean.double(), 0.1 * mean.flatten(), rtol=1e-5, atol=1e-6)
    unbiased = var.flatten() * n / (n - 1)
    torch.testing.assert_close(bn.running_var.double(), 0.9 + 0.1 * unbiased, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked) == 1


def test_batchnorm_backward_and_wrong_input() -> None:
    s = random_sparse(1, 3, (4, 4, 4), 0.5, 2)
    feats = s.features.clone().requires_grad_(True)
    bn = SparseBatchNorm(3)
    bn(s.replace_features(feats)).features.square().sum().backward()
    assert feats.grad is not None and bn.weight.grad is not None
    with pytest.raises(TypeError, match=r"SparseBatchNorm expects a SparseVoxelTensor, got .*tensor of shape"):
        bn(s.features)


# --- sparse_mean_per_sample --------------------------------------------------------------------------


def test_mean_per_sample_matches_dense_masked_mean() -> None:
    s = random_sparse(4, 3, (5, 5, 6), 0.2, 3)
    out = sparse_mean_per_sample(s)
    assert out.shape == (4, 3)
    dense, mask = s.to_dense(), dense_mask(s)
    ref = dense.sum(dim=(2, 3, 4)) / mask.sum(dim=(2, 3, 4))
    torch.testing.assert_close(out, ref)


def test_mean_per_sample_gradcheck() -> None:
    coords = torch.tensor([[0, 0, 0, 0], [1, 1, 0, 1], [0, 1, 1, 1], [1, 0, 0, 0], [0, 1, 0, 0]])
    feats = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    s = SparseVoxelTensor(feats, coords, (2, 2, 2), 2)
    assert torch.autograd.gradcheck(lambda f: sparse_mean_per_sample(s.replace_features(f)), (feats,))


def test_mean_per_sample_empty_sample_errors() -> None:
    coords = torch.tensor([[0, 0, 0, 0], [2, 1, 0, 1]])
    s = SparseVoxelTensor(torch.randn(2, 3), coords, (2, 2, 2), 4)
    with pytest.raises(ValueError, match=r"2 of 4 sample\(s\) have no active site \(sample index 1, 3\)"):
        sparse_mean_per_sample(s)
    with pytest.raises(TypeError, match="SparseVoxelTensor"):
        sparse_mean_per_sample(torch.randn(2, 3))  # type: ignore[arg-type]


# --- voxelize ----------------------------------------------------------------------------------------


def test_voxelize_hand_checked_example() -> None:
    points = torch.tensor(
        [
            [1.0, 2.0, 3.0],  # sample 0, min (1, 2, 3) -> voxel (0, 0, 0)
            [1.4, 2.1, 3.9],  # sample 0 -> (0, 0, 1)
            [2.6, 2.0, 3.0],  # sample 0 -> (3, 0, 0)
            [1.2, 2.2, 3.1],  # sample 0 -> (0, 0, 0), same voxel as point 0
            [-5.0, 0.0, 10.0],  # sample 1, min (-5, 0, 10) -> (0, 0, 0)
            [-4.0, 0.5, 10.0],  # sample 1 -> (2, 1, 0)
        ]
    )
    batch = torch.tensor([0, 0, 0, 0, 1, 1])
    feats = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    s, p2s = voxelize(points, batch, 0.5, feats)
    expected = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 1], [0, 3, 0, 0], [1, 0, 0, 0], [1, 2, 1, 0]])
    assert torch.equal(s.coords, expected)
    assert torch.equal(p2s, torch.tensor([0, 1, 2, 0, 3, 4]))
    assert torch.equal(s.features, feats[[0, 1, 2, 4, 5]])
    assert s.spatial_shape == (4, 2, 2) and s.batch_size == 2
    s.validate()
    # default features: the points themselves
    s2, _ = voxelize(points, batch, 0.5)
    assert torch.equal(s2.features, points[[0, 1, 2, 4, 5]])


def clouds(seed: int, n: int = 400, samples: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Points in a few dense clusters (many points per voxel), unsorted batch indices, and features."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.randint(0, samples, (n,), generator=g)
    points = torch.rand((n, 3), generator=g) * torch.tensor([2.0, 1.0, 0.5]) + batch.unsqueeze(1) * 10.0 - 3.0
    feats = torch.randn((n, 4), generator=g)
    return points, batch, feats


def voxel_of(points: torch.Tensor, batch: torch.Tensor, voxel_size: float) -> np.ndarray:
    """NumPy reference of each point's (batch, z, y, x) voxel."""
    p, b = points.double().numpy(), batch.numpy()
    out = np.empty((len(p), 4), dtype=np.int64)
    out[:, 0] = b
    for sample in np.unique(b):
        rows = b == sample
        out[rows, 1:] = np.floor((p[rows] - p[rows].min(axis=0)) / voxel_size).astype(np.int64)
    return out


def test_voxelize_point_to_site_and_first_pick() -> None:
    points, batch, feats = clouds(4)
    s, p2s = voxelize(points, batch, 0.2, feats)
    vox = voxel_of(points, batch, 0.2)
    assert np.array_equal(s.coords[p2s].numpy(), vox)  # every point's site is its voxel
    assert s.num_active == len(np.unique(vox, axis=0)) < len(points)
    s.validate()  # unique, inside the grid
    for site in range(s.num_active):
        members = (p2s == site).nonzero().flatten()
        assert torch.equal(s.features[site], feats[members.min()])  # the lowest-index point


def test_voxelize_random_pick_member_reproducible_and_varies() -> None:
    points, batch, feats = clouds(5)
    ids = torch.arange(len(points), dtype=torch.float32).unsqueeze(1)
    first, _ = voxelize(points, batch, 0.2, ids)
    draws = []
    for seed in (0, 0, 1, 2):
        s, p2s = voxelize(points, batch, 0.2, ids, pick="random", generator=torch.Generator().manual_seed(seed))
        assert torch.equal(s.coords, first.coords)
        chosen = s.features[:, 0].long()
        assert torch.equal(p2s[chosen], torch.arange(s.num_active))  # each site picked one of its own points
        draws.append(chosen)
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2]) and not torch.equal(draws[2], draws[3])
    # the features follow the drawn point
    s, _ = voxelize(points, batch, 0.2, feats, pick="random", generator=torch.Generator().manual_seed(0))
    assert torch.equal(s.features, feats[draws[0]])


def test_voxelize_random_pick_is_uniform_in_a_voxel() -> None:
    points = torch.zeros((4, 3)) + torch.tensor([[0.0], [0.01], [0.02], [0.03]])  # one voxel of 4 points
    ids = torch.arange(4, dtype=torch.float32).unsqueeze(1)
    g = torch.Generator().manual_seed(7)
    picks = [int(voxelize(points, torch.zeros(4, dtype=torch.int64), 1.0, ids, pick="random", generator=g)[0].features)
             for _ in range(400)]  # fmt: skip
    counts = np.bincount(picks, minlength=4)
    assert counts.min() > 60  # expected 100 each; a first-point bias would show as 400/0/0/0


def test_voxelize_mean_matches_numpy() -> None:
    points, batch, feats = clouds(6)
    s, _ = voxelize(points, batch, 0.25, feats, pick="mean")
    vox = voxel_of(points, batch, 0.25)
    keys, inverse = np.unique(vox, axis=0, return_inverse=True)
    ref = np.zeros((len(keys), feats.shape[1]))
    np.add.at(ref, inverse.ravel(), feats.double().numpy())
    ref /= np.bincount(inverse.ravel())[:, None]
    assert np.array_equal(s.coords.numpy(), keys)  # np.unique sorts rows lexicographically, as we do
    np.testing.assert_allclose(s.features.numpy(), ref, rtol=1e-5, atol=1e-6)
    # differentiable with respect to the features
    f = feats.clone().requires_grad_(True)
    voxelize(points, batch, 0.25, f, pick="mean")[0].features.sum().backward()
    per_point = 1.0 / np.bincount(inverse.ravel())[inverse.ravel()]  # d(sum of means)/d(feature) = 1 / count
    np.testing.assert_allclose(f.grad.numpy(), np.repeat(per_point[:, None], 4, axis=1), rtol=1e-6)


def test_voxelize_per_sample_offset_shape_and_multiple() -> None:
    points, batch, _ = clouds(8)
    s, _ = voxelize(points, batch, 0.1)
    for b in range(3):
        c = s.coords[s.coords[:, 0] == b, 1:]
        assert torch.equal(c.min(dim=0).values, torch.zeros(3, dtype=torch.int64))  # each sample starts at 0
    top = s.coords[:, 1:].max(dim=0).values + 1
    assert s.spatial_shape == tuple(top.tolist())
    s16, _ = voxelize(points, batch, 0.1, shape_multiple=16)
    assert s16.spatial_shape == tuple((-(-top // 16) * 16).tolist()) == (32, 16, 16)
    assert torch.equal(s16.coords, s.coords)
    fixed, _ = voxelize(points, batch, 0.1, spatial_shape=(40, 30, 20), batch_size=5)
    assert fixed.spatial_shape == (40, 30, 20) and fixed.batch_size == 5
    assert torch.equal(fixed.coords, s.coords)
    with pytest.raises(ValueError, match=r"largest voxel coordinate \(z, y, x\) = \(19, 9, 4\) .* \(10, 30, 20\)"):
        voxelize(points, batch, 0.1, spatial_shape=(10, 30, 20))


def test_voxelize_errors() -> None:
    points, batch, feats = clouds(9, n=10)
    with pytest.raises(ValueError, match="voxel_size"):
        voxelize(points, batch, 0.0)
    with pytest.raises(ValueError, match="voxel_size"):
        voxelize(points, batch, float("nan"))
    with pytest.raises(ValueError, match="voxel_size"):
        voxelize(points, batch, float("inf"))
    with pytest.raises(ValueError, match=r"points must be an \(N, 3\) tensor"):
        voxelize(points[:, :2], batch, 0.1)
    bad = points.clone()
    bad[2, 0] = float("nan")
    bad[5, 1] = float("inf")
    with pytest.raises(ValueError, match="2 point"):
        voxelize(bad, batch, 0.1)
    with pytest.raises(ValueError, match=r"batch must be an \(N,\) tensor with N = 10"):
        voxelize(points, batch[:9], 0.1)
    with pytest.raises(ValueError, match="integer"):
        voxelize(points, batch.float(), 0.1)
    with pytest.raises(ValueError, match="negative"):
        voxelize(points, batch - 1, 0.1)
    with pytest.raises(ValueError, match="batch_size is 1"):
        voxelize(points, batch, 0.1, batch_size=1)
    with pytest.raises(ValueError, match=r"features must be an \(N, C\) tensor with N = 10 rows"):
        voxelize(points, batch, 0.1, feats[:7])
    with pytest.raises(ValueError, match="pick"):
        voxelize(points, batch, 0.1, pick="last")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape_multiple"):
        voxelize(points, batch, 0.1, shape_multiple=0)
    with pytest.raises(ValueError, match="too large"):
        voxelize(points * 1e6, batch, 1e-9)


# --- E-3DSNN downsampling: kernel 2, stride 2, padding 0 on an odd grid --------------------------------


def test_kernel2_stride2_downsample_matches_dense_forward_backward() -> None:
    s = random_sparse(2, 3, (9, 7, 5), 0.3, 10)
    x = s.to_dense()
    feats = s.features.clone().requires_grad_(True)
    w = torch.randn(4, 3, 2, 2, 2, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    y = sparse_conv3d(s.replace_features(feats), w, b, stride=2, padding=0)
    assert y.spatial_shape == (4, 3, 2)  # floor(s / 2): the last odd plane is dropped, as in F.conv3d
    g = torch.randn_like(y.features)
    (y.features * g).sum().backward()

    xd = x.clone().requires_grad_(True)
    w2 = w.detach().clone().requires_grad_(True)
    b2 = b.detach().clone().requires_grad_(True)
    ref = F.conv3d(xd, w2, b2, stride=2)
    assert tuple(ref.shape[2:]) == y.spatial_shape
    reached = F.conv3d(dense_mask(s).float(), torch.ones(1, 1, 2, 2, 2), stride=2) > 0
    assert y.num_active == int(reached.sum())
    torch.testing.assert_close(y.to_dense(), ref * reached)
    gd = SparseVoxelTensor(g, y.coords, y.spatial_shape, 2).to_dense()
    (ref * gd).sum().backward()
    torch.testing.assert_close(feats.grad, at_sites(xd.grad, s))
    torch.testing.assert_close(w.grad, w2.grad)
    torch.testing.assert_close(b.grad, b2.grad)


# --- rulebook_macs -----------------------------------------------------------------------------------


def brute_force_connections(
    active: set[tuple[int, int, int, int]],
    shape: tuple[int, int, int],
    batch: int,
    kernel: int,
    stride: int,
    padding: int,
    submanifold: bool,
) -> int:
    """(input site, output site, offset) connections, found by looping over the grid."""
    if submanifold:
        outputs = sorted(active)
        out_shape = shape
    else:
        out_shape = tuple((n + 2 * padding - kernel) // stride + 1 for n in shape)
        outputs = [(b, *o) for b in range(batch) for o in itertools.product(*(range(n) for n in out_shape))]
    total = 0
    for b, *o in outputs:
        for k in itertools.product(range(kernel), repeat=3):
            if submanifold:
                i = tuple(oi + ki - kernel // 2 for oi, ki in zip(o, k, strict=True))
            else:
                i = tuple(oi * stride - padding + ki for oi, ki in zip(o, k, strict=True))
            total += (b, *i) in active
    return total


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "submanifold"), [(3, 1, 1, True), (2, 2, 0, False), (3, 2, 1, False)]
)
def test_rulebook_macs_matches_brute_force(kernel: int, stride: int, padding: int, submanifold: bool) -> None:
    s = random_sparse(2, 1, (5, 4, 3), 0.35, 11)
    active = {tuple(c) for c in s.coords.tolist()}
    rb = build_rulebook(s, kernel, stride, padding, submanifold=submanifold)
    connections = brute_force_connections(active, s.spatial_shape, 2, kernel, stride, padding, submanifold)
    assert connections > 0
    assert rb.num_pairs == connections
    assert rulebook_macs(rb, 3, 5) == connections * 3 * 5
    with pytest.raises(ValueError, match="c_in"):
        rulebook_macs(rb, 0, 5)
