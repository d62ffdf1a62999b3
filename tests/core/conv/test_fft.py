"""The ``fft`` conv backend equals ``torch.nn.functional`` forward and backward, caches kernel spectra
correctly, offers causal convolution and rejects bad input clearly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.conv.fft import FFTBackend, backend, causal_conv1d, next_fast_len

TORCH_OPS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _ops(nd: int, be: FFTBackend = backend):
    return TORCH_OPS[nd], getattr(be, f"conv{nd}d")


@st.composite
def conv_cases(draw: st.DrawFn) -> dict:
    """A small random convolution: shapes, stride, padding ('same'/'valid'/ints), dilation, groups, bias."""
    nd = draw(st.sampled_from([1, 1, 2, 3]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in_g = draw(st.integers(1, 3))
    depthwise = draw(st.booleans())
    if depthwise:
        c_in_g = 1
    c_out_g = draw(st.integers(1, 3))
    max_size = {1: 24, 2: 9, 3: 6}[nd]
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    mode = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if mode == "same":
        stride: tuple[int, ...] = (1,) * nd
        padding: object = "same"
    else:
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        padding = (
            "valid"
            if mode == "valid"
            else draw(st.integers(0, 3))
            if mode == "int"
            else tuple(draw(st.integers(0, 3)) for _ in range(nd))
        )
    pads = (0,) * nd if isinstance(padding, str) else (padding,) * nd if isinstance(padding, int) else padding
    sizes = []
    for k, d, p in zip(kernel, dilation, pads, strict=True):
        eff = d * (k - 1) + 1
        sizes.append(draw(st.integers(max(1, eff - 2 * p), max(eff - 2 * p, 1) + max_size)))
    return {
        "nd": nd,
        "x": (draw(st.integers(1, 2)), c_in_g * groups, *sizes),
        "w": (c_out_g * groups, c_in_g, *kernel),
        "bias": draw(st.booleans()),
        "kw": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
    }


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel lengths")
@settings(max_examples=40, deadline=None)
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_forward_and_backward_match_torch(case: dict, seed: int) -> None:
    torch.manual_seed(seed)
    ref_op, fft_op = _ops(case["nd"], FFTBackend())
    x = torch.randn(case["x"], requires_grad=True)
    w = torch.randn(case["w"], requires_grad=True)
    b = torch.randn(case["w"][0], requires_grad=True) if case["bias"] else None
    leaves = [t for t in (x, w, b) if t is not None]
    ref = ref_op(x, w, b, **case["kw"])
    out = fft_op(x, w, b, **case["kw"])
    assert out.shape == ref.shape and out.dtype == ref.dtype
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    g = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, leaves, g)
    out_grads = torch.autograd.grad(out, leaves, g)
    for a, e in zip(out_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, e, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("nd", "x", "w", "kw"),
    [
        (1, (2, 4, 11), (4, 2, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}),
        (1, (1, 3, 9), (3, 1, 9), {"padding": "same", "groups": 3}),
        (2, (1, 2, 5, 6), (3, 2, 2, 3), {"stride": (1, 2), "padding": (1, 0), "dilation": (2, 1)}),
        (3, (1, 2, 4, 3, 5), (2, 1, 2, 2, 3), {"padding": "same", "groups": 2}),
    ],
)
def test_gradcheck_float64(nd: int, x: tuple, w: tuple, kw: dict) -> None:
    torch.manual_seed(0)
    _, fft_op = _ops(nd, FFTBackend())
    args = (
        torch.randn(x, dtype=torch.float64, requires_grad=True),
        torch.randn(w, dtype=torch.float64, requires_grad=True),
        torch.randn(w[0], dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(lambda a, b, c: fft_op(a, b, c, **kw), args)


def test_float64_exact_and_unbatched() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(3, 40, dtype=torch.float64), torch.randn(5, 3, 7, dtype=torch.float64)
    out = backend.conv1d(x, w, None, 1, "same")
    assert out.shape == (5, 40)
    torch.testing.assert_close(out, F.conv1d(x, w, padding="same"), atol=1e-12, rtol=1e-12)


def test_next_fast_len() -> None:
    assert [next_fast_len(n) for n in (1, 2, 7, 11, 17, 1025, 9216, 20481)] == [1, 2, 8, 12, 18, 1080, 9216, 20736]


def test_spectrum_cache_hit_and_invalidated_by_optimizer_step() -> None:
    torch.manual_seed(0)
    be = FFTBackend()
    conv = torch.nn.Conv1d(4, 4, 33, padding="same", groups=2)
    x = torch.randn(2, 4, 64)

    def run() -> torch.Tensor:
        with torch.no_grad():
            out = be.conv1d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        torch.testing.assert_close(out, conv(x).detach(), atol=1e-4, rtol=1e-4)
        return out

    run()
    assert be.cache_info()["misses"] == 1 and be.cache_info()["entries"] == 1
    run()
    run()
    assert be.cache_info()["hits"] == 2
    # training step: under grad mode the cache is bypassed, gradients reach the weight
    opt = torch.optim.SGD(conv.parameters(), lr=0.5)
    version = conv.weight._version
    be.conv1d(x, conv.weight, conv.bias, 1, "same", 1, 2).square().sum().backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0
    assert be.cache_info()["hits"] == 2 and be.cache_info()["misses"] == 1
    opt.step()
    assert conv.weight._version != version
    run()  # exact again: the stale spectrum is not used
    info = be.cache_info()
    assert info["misses"] == 2 and info["entries"] == 1  # the old version's entry was dropped
    with torch.no_grad():
        conv.weight.mul_(-1.0)  # any in-place update
    run()
    assert be.cache_info()["misses"] == 3


def test_cache_used_for_frozen_weight_in_grad_mode_and_input_grads_flow() -> None:
    torch.manual_seed(0)
    be = FFTBackend()
    w = torch.randn(3, 1, 16)
    x = torch.randn(2, 3, 50, requires_grad=True)
    for _ in range(2):
        out = be.conv1d(x, w, None, 1, 0, 1, 3)
        (gx,) = torch.autograd.grad(out.sum(), x)
        xr = x.detach().requires_grad_()
        (ref,) = torch.autograd.grad(F.conv1d(xr, w, groups=3).sum(), xr)
        torch.testing.assert_close(gx, ref, atol=1e-5, rtol=1e-5)
    assert be.cache_info()["hits"] == 1


def test_cache_entry_freed_with_weight_and_not_confused_with_new_tensor() -> None:
    be = FFTBackend()
    x = torch.randn(1, 2, 30)
    for i in range(3):
        w = torch.full((2, 2, 5), float(i))
        torch.testing.assert_close(be.conv1d(x, w), F.conv1d(x, w), atol=1e-5, rtol=1e-5)
        del w
    assert be.cache_info()["entries"] == 0
    assert be.cache_info()["hits"] == 0


def test_cache_respects_byte_budget() -> None:
    be = FFTBackend(cache_max_bytes=0)
    w = torch.randn(2, 2, 5)
    be.conv1d(torch.randn(1, 2, 30), w)
    assert be.cache_info()["entries"] == 0


@pytest.mark.parametrize(("length", "k", "dilation", "groups"), [(50, 5, 1, 1), (40, 40, 1, 3), (30, 8, 3, 3)])
def test_causal_equals_left_padded_conv(length: int, k: int, dilation: int, groups: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, length, requires_grad=True)
    w = torch.randn(6, 3 // groups, k, requires_grad=True)
    b = torch.randn(6)
    out = causal_conv1d(x, w, b, dilation=dilation, groups=groups)
    ref = F.conv1d(F.pad(x, (dilation * (k - 1), 0)), w, b, dilation=dilation, groups=groups)
    assert out.shape == (2, 6, length)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    # causality: the future does not leak into the past (up to FFT rounding, ~1e-7 relative in float32)
    (gx,) = torch.autograd.grad(out[..., 10].sum(), x)
    assert gx[..., 11:].abs().max() < 1e-5 * gx[..., :11].abs().max()


def test_long_kernels_as_long_as_the_sequence() -> None:
    torch.manual_seed(0)
    x, w = torch.randn(2, 4, 256), torch.randn(4, 1, 256)
    torch.testing.assert_close(
        backend.conv1d(x, w, None, 1, "same", 1, 4), F.conv1d(x, w, padding="same", groups=4), atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(backend.conv1d(x, w, groups=4), F.conv1d(x, w, groups=4), atol=1e-4, rtol=1e-4)


def test_half_precision_is_computed_in_float32() -> None:
    x, w = torch.randn(1, 2, 20), torch.randn(2, 2, 3)
    out = backend.conv1d(x.bfloat16(), w.bfloat16())
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), F.conv1d(x.bfloat16().float(), w.bfloat16().float()), atol=0.05, rtol=0.02)


@pytest.mark.parametrize(
    ("x", "w", "kw", "error", "match"),
    [
        ((1, 3, 10), (4, 2, 3), {}, RuntimeError, "expected input.* to have 2 channels, but got 3"),
        ((1, 4, 10), (4, 2, 3), {"groups": 3}, RuntimeError, "groups=3"),
        ((1, 4, 10), (3, 2, 3), {"groups": 2}, RuntimeError, "divisible by 2"),
        ((1, 2, 3), (4, 2, 5), {}, RuntimeError, "Kernel size can't be greater than actual input size"),
        ((1, 2, 6), (4, 2, 3), {"dilation": 3}, RuntimeError, "Kernel size can't be greater"),
        ((1, 2, 10), (4, 2, 3), {"stride": 2, "padding": "same"}, RuntimeError, "not supported for strided"),
        ((1, 2, 10), (4, 2, 3), {"padding": "full"}, RuntimeError, "invalid padding string"),
        ((1, 2, 10), (4, 2, 3), {"padding": -1}, RuntimeError, "negative padding"),
        ((1, 2, 10), (4, 2, 3), {"stride": 0}, RuntimeError, "stride"),
        ((1, 2, 10), (4, 2, 3), {"groups": 0}, RuntimeError, "groups"),
        ((1, 2, 2, 10), (4, 2, 3), {}, RuntimeError, "Expected 2D \\(unbatched\\) or 3D \\(batched\\) input"),
        ((1, 2, 10), (4, 2, 2, 3), {}, RuntimeError, "expected a 3D weight"),
        ((1, 2, 10), (4, 2, 3), {"stride": (1, 2)}, TypeError, "stride must be an int or a tuple of 1 ints"),
    ],
)
def test_bad_input_raises_clear_errors(x: tuple, w: tuple, kw: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        backend.conv1d(torch.randn(x), torch.randn(w), **kw)


def test_bad_dtypes_and_bias() -> None:
    x, w = torch.randn(1, 2, 10), torch.randn(4, 2, 3)
    with pytest.raises(TypeError, match=r"floating-point.*input has dtype torch.int64"):
        backend.conv1d(x.long(), w.long())
    with pytest.raises(TypeError, match="complex64"):
        backend.conv1d(x.to(torch.complex64), w.to(torch.complex64))
    with pytest.raises(RuntimeError, match="same dtype"):
        backend.conv1d(x.double(), w)
    with pytest.raises(RuntimeError, match=r"expected bias of shape \(4,\)"):
        backend.conv1d(x, w, torch.randn(3))
    with pytest.raises(RuntimeError, match="kernel size must be positive"):
        backend.conv1d(x, torch.randn(4, 2, 0))


def test_non_contiguous_input_is_fine() -> None:
    x = torch.randn(2, 30, 4).transpose(1, 2)
    w = torch.randn(4, 4, 5).transpose(0, 1)
    torch.testing.assert_close(backend.conv1d(x, w, None, 2, 1), F.conv1d(x, w, None, 2, 1), atol=1e-5, rtol=1e-5)
