"""Native kernels of sciconv.conv.sparse: same results as the torch-ops path and as dense conv3d, forward and
backward, at any thread count; the torch-ops fallback when no compiler is found."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import sciconv.conv.sparse as sparse
from sciconv.conv import native_build, sparse_native
from sciconv.conv.sparse import SparseVoxelTensor, build_rulebook, sparse_conv3d, submanifold_conv3d

pytestmark = pytest.mark.skipif(not sparse_native.available(), reason=f"no native kernels: {sparse_native.reason()}")


def random_sparse(batch: int, channels: int, shape: tuple[int, int, int], occupancy: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand((batch, 1, *shape), generator=g) < occupancy
    values = torch.randn((batch, channels, *shape), generator=g)
    return torch.where(values == 0, torch.ones_like(values), values) * mask


@pytest.fixture
def torch_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run sciconv.conv.sparse on its torch-ops path (as without a compiler)."""
    monkeypatch.setattr(sparse_native._state, "lib", None)
    monkeypatch.setattr(sparse_native._state, "reason", "disabled for this test")


def _run(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, g_seed: int, strided: bool) -> tuple[torch.Tensor, ...]:
    """Output, its coordinates, grad of features, weight and bias under a random upstream gradient."""
    s = SparseVoxelTensor.from_dense(x)
    feats = s.features.clone().requires_grad_(True)
    w = w.clone().requires_grad_(True)
    b = b.clone().requires_grad_(True)
    t = SparseVoxelTensor(feats, s.coords.clone(), s.spatial_shape, s.batch_size)
    y = sparse_conv3d(t, w, b, stride=2, padding=1) if strided else submanifold_conv3d(t, w, b, dilation=2)
    g = torch.randn(y.features.shape, generator=torch.Generator().manual_seed(g_seed))
    (y.features * g).sum().backward()
    return y.features.detach(), y.coords, feats.grad, w.grad, b.grad


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize(("c_in", "c_out"), [(3, 5), (16, 32), (20, 37)])
def test_native_matches_torch_ops(strided: bool, c_in: int, c_out: int, monkeypatch: pytest.MonkeyPatch) -> None:
    x = random_sparse(2, c_in, (9, 8, 10), 0.2, c_in)
    w = torch.randn(c_out, c_in, 3, 3, 3) * 0.2
    b = torch.randn(c_out)
    native = _run(x, w, b, 1, strided)
    monkeypatch.setattr(sparse_native._state, "lib", None)
    monkeypatch.setattr(sparse_native._state, "reason", "disabled for this test")
    reference = _run(x, w, b, 1, strided)
    for a, r in zip(native, reference, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("path", ["native", "torch_ops"])
@pytest.mark.parametrize("strided", [False, True])
def test_custom_backward_matches_dense_conv3d(path: str, strided: bool, request: pytest.FixtureRequest) -> None:
    if path == "torch_ops":
        request.getfixturevalue("torch_ops")
    x = random_sparse(1, 6, (10, 9, 8), 0.25, 3)
    w = torch.randn(7, 6, 3, 3, 3) * 0.2
    b = torch.randn(7)
    out, coords, gx, gw, gb = _run(x, w, b, 2, strided)
    xd = x.clone().requires_grad_(True)
    wd = w.clone().requires_grad_(True)
    bd = b.clone().requires_grad_(True)
    if strided:
        ref = F.conv3d(xd, wd, bd, stride=2, padding=1)
    else:
        ref = F.conv3d(xd, wd, bd, padding=2, dilation=2) * (x != 0).any(dim=1, keepdim=True)
    up = torch.zeros_like(ref).permute(0, 2, 3, 4, 1)
    up[tuple(coords.unbind(1))] = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    (ref * up.permute(0, 4, 1, 2, 3)).sum().backward()
    c = SparseVoxelTensor.from_dense(x).coords
    torch.testing.assert_close(out, ref.detach().permute(0, 2, 3, 4, 1)[tuple(coords.unbind(1))])
    torch.testing.assert_close(gx, xd.grad.permute(0, 2, 3, 4, 1)[tuple(c.unbind(1))])
    torch.testing.assert_close(gw, wd.grad)
    torch.testing.assert_close(gb, bd.grad)


def test_native_identical_at_one_and_two_threads() -> None:
    x = random_sparse(1, 16, (20, 20, 20), 0.15, 4)
    w = torch.randn(32, 16, 3, 3, 3) * 0.1
    b = torch.randn(32)
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 1, 2):
            torch.set_num_threads(threads)
            results.append(_run(x, w, b, 5, False) + _run(x, w, b, 5, True))
    finally:
        torch.set_num_threads(before)
    for other in results[1:]:
        for a, r in zip(results[0], other, strict=True):
            assert torch.equal(a, r)


def test_hash_table_matches_direct_table(monkeypatch: pytest.MonkeyPatch) -> None:
    s = SparseVoxelTensor.from_dense(random_sparse(2, 3, (9, 7, 8), 0.3, 6))
    direct = build_rulebook(s, 3, dilation=(1, 2, 1), submanifold=True)
    monkeypatch.setattr(sparse, "_DENSE_TABLE_LIMIT", 0)
    monkeypatch.setattr(sparse, "_DENSE_TABLE_PER_SITE", 0)
    hashed = build_rulebook(s, 3, dilation=(1, 2, 1), submanifold=True)
    monkeypatch.setattr(sparse_native._state, "lib", None)
    monkeypatch.setattr(sparse_native._state, "reason", "disabled for this test")
    ops = build_rulebook(s, 3, dilation=(1, 2, 1), submanifold=True)
    assert direct.pair_counts == hashed.pair_counts == ops.pair_counts
    for k in range(27):
        for rb in (direct, hashed):
            assert torch.equal(rb.in_idx[k], hashed.in_idx[k]) and torch.equal(rb.out_idx[k], hashed.out_idx[k])
        # the same pairs as the torch-ops build (the native build orders a mirrored offset by input row)
        got = sorted(zip(direct.out_idx[k].tolist(), direct.in_idx[k].tolist(), strict=True))
        assert got == list(zip(ops.out_idx[k].tolist(), ops.in_idx[k].tolist(), strict=True))


def test_double_backward_runs_on_torch_ops() -> None:
    s = SparseVoxelTensor.from_dense(random_sparse(1, 2, (5, 5, 5), 0.4, 7).double())
    feats = s.features.clone().requires_grad_(True)
    w = torch.randn(3, 2, 3, 3, 3, dtype=torch.float64, requires_grad=True)

    def f(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return submanifold_conv3d(s.replace_features(x), w).features

    assert torch.autograd.gradgradcheck(f, (feats, w))
    # float32 (native forward) also gives a differentiable gradient when a graph is requested
    x32 = feats.detach().float().requires_grad_(True)
    w32 = w.detach().float().requires_grad_(True)
    y = f(x32, w32)
    (gx,) = torch.autograd.grad(y.square().sum(), x32, create_graph=True)
    gx.sum().backward()
    assert w32.grad is not None and torch.isfinite(w32.grad).all()


def test_fallback_warns_once_without_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native_build, "find_compiler", lambda: None)
    monkeypatch.setattr(sparse_native, "_state", native_build.NativeState())  # restored after the test
    with pytest.warns(UserWarning, match="native kernels unavailable"):
        assert sparse_native.load() is None
    assert "no C compiler" in (sparse_native.reason() or "")
    x = random_sparse(1, 3, (6, 6, 6), 0.3, 8)
    w = torch.randn(4, 3, 3, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        y = submanifold_conv3d(SparseVoxelTensor.from_dense(x), w)
    ref = F.conv3d(x, w, padding=1) * (x != 0).any(dim=1, keepdim=True)
    torch.testing.assert_close(y.to_dense(), ref)


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCICONV_NATIVE", "0")
    monkeypatch.setattr(sparse_native, "_state", native_build.NativeState())  # restored after the test
    assert sparse_native.load() is None
    assert sparse_native.reason() == "disabled by SCICONV_NATIVE=0"
