"""The im2win backend equals torch.nn.functional forward and backward, and its buffer is smaller than im2col's.

Every property runs on both paths: the default backend (native kernels for float32 conv1d/conv2d with
groups = 1 where a C compiler exists, torch ops otherwise) and ``Im2winBackend(native=False)`` (torch ops
throughout); test_im2win_native.py covers the native kernels themselves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sciconv.conv.im2win import Im2winBackend, _resolve, backend, im2col_nbytes, im2win_nbytes, im2win_transform

BACKENDS = {"default": backend, "torch-ops": Im2winBackend(native=False)}
REFS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _op(impl: str, nd: int) -> Callable[..., torch.Tensor]:
    """``convNd`` of the backend ``impl`` ("default" or "torch-ops")."""
    return getattr(BACKENDS[impl], f"conv{nd}d")


@st.composite
def conv_cases(draw: st.DrawFn, nd: int) -> dict:
    """A random small convolution: shapes, stride, padding (int/tuple/'same'/'valid'), dilation, groups, bias."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c_g, co_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    mode = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if mode == "same":
        stride: tuple[int, ...] = (1,) * nd
        padding: object = "same"
    else:
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        padding = {"int": draw(st.integers(0, 2)), "tuple": tuple(draw(st.integers(0, 2)) for _ in range(nd))}.get(
            mode, "valid"
        )
    pads = [0] * nd if isinstance(padding, str) else ([padding] * nd if isinstance(padding, int) else list(padding))
    lows = [max(1, d * (k - 1) + 1 - 2 * p) for k, d, p in zip(kernel, dilation, pads, strict=True)]
    spatial = tuple(draw(st.integers(lo, max(lo, 9 if nd < 3 else 6))) for lo in lows)
    return {
        "x": (draw(st.integers(1, 2)), c_g * groups, *spatial),
        "w": (co_g * groups, c_g, *kernel),
        "bias": draw(st.booleans()),
        "kw": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
    }


def _check(nd: int, case: dict, impl: str) -> None:
    ours, ref = _op(impl, nd), REFS[nd]
    x = torch.randn(case["x"], requires_grad=True)
    w = torch.randn(case["w"], requires_grad=True)
    b = torch.randn(case["w"][0], requires_grad=True) if case["bias"] else None
    y, r = ours(x, w, b, **case["kw"]), ref(x, w, b, **case["kw"])
    torch.testing.assert_close(y, r, rtol=1e-4, atol=1e-5)
    g = torch.randn_like(r)
    leaves = [t for t in (x, w, b) if t is not None]
    for a, e in zip(torch.autograd.grad(y, leaves, g), torch.autograd.grad(r, leaves, g), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("impl", list(BACKENDS))
@settings(max_examples=40, deadline=None)
@given(conv_cases(2))
def test_conv2d_matches_torch(impl: str, case: dict) -> None:
    _check(2, case, impl)


@pytest.mark.parametrize("impl", list(BACKENDS))
@settings(max_examples=20, deadline=None)
@given(conv_cases(1))
def test_conv1d_matches_torch(impl: str, case: dict) -> None:
    _check(1, case, impl)


@pytest.mark.parametrize("impl", list(BACKENDS))
@settings(max_examples=15, deadline=None)
@given(conv_cases(3))
def test_conv3d_matches_torch(impl: str, case: dict) -> None:
    _check(3, case, impl)


@pytest.mark.parametrize(
    ("nd", "x", "w", "kw"),
    [
        (2, (2, 4, 6, 7), (4, 2, 3, 2), {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 2}),
        (2, (1, 3, 5, 5), (2, 3, 3, 3), {"padding": "same"}),
        (1, (2, 2, 9), (4, 1, 3), {"stride": 2, "padding": 2, "groups": 2}),
        (3, (1, 2, 4, 4, 5), (2, 2, 2, 3, 2), {"stride": (1, 2, 1), "padding": (1, 0, 1)}),
    ],
)
def test_gradcheck_float64(nd: int, x: tuple, w: tuple, kw: dict) -> None:
    op = _op("default", nd)
    xs = torch.randn(x, dtype=torch.float64, requires_grad=True)
    ws = torch.randn(w, dtype=torch.float64, requires_grad=True)
    b = torch.randn(w[0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, c, d: op(a, c, d, **kw), (xs, ws, b))


@pytest.mark.parametrize(
    ("x", "w", "kw"),
    [
        ((8, 64, 56, 56), (64, 64, 3, 3), {"padding": 1}),
        ((2, 16, 28, 28), (32, 16, 3, 3), {"padding": 1, "stride": 2}),
        ((2, 16, 14, 14), (16, 4, 5, 5), {"padding": "same", "groups": 4}),
        ((2, 8, 4, 10, 10), (8, 8, 3, 3, 3), {"padding": 1}),
    ],
)
def test_buffer_smaller_than_im2col(x: tuple, w: tuple, kw: dict) -> None:
    nd = len(x) - 2
    stride, pads, dilation, out = _resolve(nd, x, w, kw.get("stride", 1), kw["padding"], 1, kw.get("groups", 1))
    win = im2win_transform(torch.randn(x), w[2:], stride, pads, dilation, out, kw.get("groups", 1))
    measured = win.numel() * win.element_size()
    predicted = im2win_nbytes(x, w, **kw)
    assert measured == predicted
    im2col = im2col_nbytes(x, w, **kw)
    if nd == 2:  # F.unfold is the im2col buffer torch would build
        cols = F.unfold(torch.randn(x), w[2:], padding=pads[0][0] if kw["padding"] != "same" else 2, stride=stride)
        assert cols.numel() * cols.element_size() == im2col
    # im2win / im2col = W_q / (kW * W_out): it keeps every (padded) input column of a strip, im2col keeps kW per
    # output column. So <= 0.4x for stride-1 kernels with kW >= 3, and about s_w / kW for strided ones.
    w_q = win.shape[-2 - (nd - 1)]
    assert measured * w[-1] * out[-1] == im2col * w_q
    assert measured < im2col
    if stride == (1,) * nd:
        assert measured <= 0.4 * im2col


def test_bad_inputs_raise_clear_errors() -> None:
    x, w = torch.randn(1, 4, 5, 5), torch.randn(2, 4, 3, 3)
    with pytest.raises(ValueError, match="channel mismatch"):
        backend.conv2d(torch.randn(1, 3, 5, 5), w)
    with pytest.raises(ValueError, match="channel mismatch"):
        backend.conv2d(x, w, groups=2)
    with pytest.raises(ValueError, match="divisible by groups"):
        backend.conv2d(x, torch.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        backend.conv2d(x, torch.randn(2, 4, 7, 7))
    backend.conv2d(x, torch.randn(2, 4, 7, 7), padding=1)  # fits once padded
    with pytest.raises(TypeError, match="floating-point input"):
        backend.conv2d(x.to(torch.int64), w)
    with pytest.raises(TypeError, match="dtype mismatch"):
        backend.conv2d(x, w.double())
    with pytest.raises(ValueError, match="4 dims"):
        backend.conv2d(torch.randn(4, 5, 5), w)
    with pytest.raises(ValueError, match="strided"):
        backend.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be"):
        backend.conv2d(x, w, padding="full")


@pytest.mark.parametrize("impl", list(BACKENDS))
def test_non_contiguous_input_is_accepted(impl: str) -> None:
    x, w = torch.randn(2, 5, 6, 4).permute(0, 3, 1, 2), torch.randn(3, 4, 3, 3)
    torch.testing.assert_close(_op(impl, 2)(x, w, padding=1), F.conv2d(x, w, padding=1))
