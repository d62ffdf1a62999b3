"""Im2win convolution backend (Lu et al., "Im2win: memory efficient convolution on SIMD architectures").

The input is rewritten once into *window order*: for every output row (and, in 3D, every output
depth-row pair) the strip of input rows its receptive field covers is stored column by column, with the
``kH`` (``kD * kH``) row values and the channels of one input column side by side::

    win[g, n, ho, w, kh, c] = x_padded[n, g * C_g + c, ho * s_h + kh * d_h, w]      # shape (G, N, H_out, W_q, kH, C_g)

so the receptive field of output ``(ho, wo)`` for kernel column ``kw`` is the contiguous run
``win[g, n, ho, wo * s_w + kw * d_w, :, :]`` of ``K = kH * C_g`` values, and consecutive output columns
are ``s_w * K`` values apart. Over the whole buffer this is one strided matrix (rows: every
``(n, ho, wo)``, row stride ``s_w * K``, no overlap, no copy), so the convolution is ``kW`` large GEMMs
``out += A_kw @ W_kw`` (``A_kw``: ``(R, K)``, ``W_kw``: ``(K, C_out / G)``), batched over groups. The
buffer holds ``kH / s_h`` copies of the (padded) input, against im2col's ``kH * kW`` (for a 3x3, stride-1
layer about ``1/3`` of im2col's). A few positions per row past ``W_out`` (where the padded width is not a
multiple of ``s_w``, and the ``(kW - 1) * d_w`` tail) are computed and dropped: the price of one GEMM per
kernel column instead of one per output row.

For float32 CPU conv1d/conv2d with ``groups = 1`` the work runs on compiled kernels
(:mod:`sciconv.conv.im2win_native`: the same window order, built per block of output rows, and
register-blocked SIMD GEMM micro-kernels, forward and backward). Everything else (float64, groups,
conv3d, other devices, or no C compiler) runs on torch ops: the GEMM step is a
:class:`torch.autograd.Function` whose backward is again ``kW`` GEMMs writing straight into strided
views of the input-gradient buffer (autograd's generic ``as_strided`` backward would allocate a
buffer-sized temporary per kernel column). The transform's backward is hand-written too (slice sums).

``conv1d`` is the ``H = 1`` case (the buffer is then the input itself, channels last). ``conv3d`` is the
natural extension: the outer window covers ``kD * kH`` rows and the buffer holds ``kD * kH / (s_d * s_h)``
copies of the input (im2col: ``kD * kH * kW``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch

from sciconv.conv import im2win_native
from sciconv.conv.backend import ConvBackend

_CHUNKS = 8  # the channels-last temporary of the transform is about 1/_CHUNKS of the input

__all__ = ["Im2winBackend", "backend", "im2col_nbytes", "im2win_nbytes", "im2win_transform"]


def _tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """``value`` as an ``n``-tuple of ints (an int is repeated)."""
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)
    if len(out) == 1:
        out = out * n
    if len(out) != n:
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {value!r}")
    return out


def _resolve(
    nd: int,
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...], tuple[int, ...], tuple[int, ...]]:
    """Check shapes and normalise the arguments.

    Shapes: input ``(N, C_in, *spatial)``, weight ``(C_out, C_in / groups, *kernel)`` with ``nd`` spatial dims.
    Returns ``(stride, ((pad_before, pad_after), ...), dilation, output spatial shape)``.
    """
    if len(input_shape) != nd + 2:
        raise ValueError(f"conv{nd}d expects input of {nd + 2} dims (N, C, *spatial), got shape {tuple(input_shape)}")
    if len(weight_shape) != nd + 2:
        raise ValueError(
            f"conv{nd}d expects weight of {nd + 2} dims (C_out, C_in/groups, *kernel), got {tuple(weight_shape)}"
        )
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    c_in, c_out, c_g = input_shape[1], weight_shape[0], weight_shape[1]
    if c_in != c_g * groups:
        raise ValueError(
            f"channel mismatch: input has {c_in} channels but weight expects {c_g} per group x {groups} groups"
            f" = {c_g * groups}"
        )
    if c_out % groups:
        raise ValueError(f"out channels ({c_out}) must be divisible by groups ({groups})")
    kernel = tuple(weight_shape[2:])
    spatial = tuple(input_shape[2:])
    stride_t = _tuple(stride, nd, "stride")
    dilation_t = _tuple(dilation, nd, "dilation")
    if min(stride_t) < 1 or min(dilation_t) < 1:
        raise ValueError(f"stride and dilation must be >= 1, got {stride_t} and {dilation_t}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride_t):
                raise ValueError("padding='same' is not supported for strided convolutions")
            pads = tuple(
                (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation_t, strict=True)
            )
        else:
            raise ValueError(f"padding must be 'same', 'valid', an int or a tuple of ints, got {padding!r}")
    else:
        pads = tuple((p, p) for p in _tuple(padding, nd, "padding"))
        if any(p < 0 for p, _ in pads):
            raise ValueError(f"padding must be >= 0, got {padding!r}")
    out_spatial = []
    for size, k, s, d, (pb, pa) in zip(spatial, kernel, stride_t, dilation_t, pads, strict=True):
        span = d * (k - 1) + 1
        if size + pb + pa < span:
            raise ValueError(
                f"kernel size {tuple(kernel)} (dilated extent {span}) is larger than the padded input"
                f" {tuple(i + a + b for i, (a, b) in zip(spatial, pads, strict=True))}"
            )
        out_spatial.append((size + pb + pa - span) // s + 1)
    return stride_t, pads, dilation_t, tuple(out_spatial)


def _geometry(
    input_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    out_spatial: Sequence[int],
    groups: int,
) -> tuple[int, ...]:
    """Shape of the window-order buffer: ``(G, N, *out_outer, W_q, *k_outer, C_g)``.

    ``W_q`` is the padded width rounded up to a multiple of the width stride (so the flattened buffer has
    a single row stride ``s_w * K``).
    """
    n, c = input_shape[0], input_shape[1]
    width = input_shape[-1] + pads[-1][0] + pads[-1][1]
    w_q = math.ceil(width / stride[-1]) * stride[-1]
    return (groups, n, *out_spatial[:-1], w_q, *kernel[:-1], c // groups)


def im2win_nbytes(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    element_size: int = 4,
) -> int:
    """Bytes of the window-order buffer for a convolution of these shapes (any of 1D/2D/3D).

    2D: ``N * C_in * H_out * W_q * kH * element_size`` (``W_q``: padded width rounded up to ``s_w``).
    """
    nd = len(input_shape) - 2
    s, pads, d, out = _resolve(nd, input_shape, weight_shape, stride, padding, dilation, groups)
    return math.prod(_geometry(input_shape, weight_shape[2:], s, pads, d, out, groups)) * element_size


def im2col_nbytes(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    element_size: int = 4,
) -> int:
    """Bytes of the im2col (``F.unfold``) buffer: ``N * C_in * prod(kernel) * prod(out_spatial) * element_size``."""
    nd = len(input_shape) - 2
    _, _, _, out = _resolve(nd, input_shape, weight_shape, stride, padding, dilation, groups)
    return input_shape[0] * input_shape[1] * math.prod(weight_shape[2:]) * math.prod(out) * element_size


def im2win_transform(
    input: torch.Tensor,
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    out_spatial: Sequence[int],
    groups: int,
) -> torch.Tensor:
    """The window-order buffer (differentiable w.r.t. ``input``).

    Shapes: input ``(N, C, *spatial)`` (``nd`` spatial dims, the last one is the width) ->
    ``(G, N, *out_outer, W_q, *k_outer, C / G)``, where ``out_outer``/``k_outer`` are the output and kernel
    sizes of all spatial dims but the last; padding is zeros written in place (no padded copy of the input).
    Entry ``[g, n, *o, w, *k, c] = x_pad[n, g * C_g + c, *(o * s + k * d), w]``.
    """
    shape = _geometry(input.shape, kernel, stride, pads, dilation, out_spatial, groups)
    return _Transform.apply(
        input, shape, tuple(kernel), tuple(stride), tuple(pads), tuple(dilation), tuple(out_spatial)
    )


def _copy_plan(
    input_shape: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int],
    out_spatial: Sequence[int],
) -> list[tuple[tuple[int, ...], list[slice], list[slice]]]:
    """For each outer kernel offset ``(kd, kh)`` that reads real input: (offsets, source slices of the input's
    outer dims, destination slices of the buffer's outer output dims)."""
    plan = []
    for offsets in itertools.product(*(range(k) for k in kernel[:-1])):
        src: list[slice] = []
        dst: list[slice] = []
        for i, k in enumerate(offsets):
            size, (pb, _), s, d, o = input_shape[2 + i], pads[i], stride[i], dilation[i], out_spatial[i]
            # output index o reads input row o * s + k * d - pb; keep those inside [0, size).
            lo = max(0, math.ceil((pb - k * d) / s))
            hi = min(o, (size - 1 + pb - k * d) // s + 1)
            if hi <= lo:
                break
            first = lo * s + k * d - pb
            src.append(slice(first, first + (hi - lo - 1) * s + 1, s))
            dst.append(slice(lo, hi))
        else:
            plan.append((offsets, src, dst))
    return plan


class _Transform(torch.autograd.Function):
    """The window-order copy with a hand-written backward (a sum of the buffer's slices back into the input):
    autograd's ``CopySlices`` would clone the whole buffer gradient once per copied block."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        input: torch.Tensor,
        shape: tuple[int, ...],
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        pads: tuple[tuple[int, int], ...],
        dilation: tuple[int, ...],
        out_spatial: tuple[int, ...],
    ) -> torch.Tensor:
        n, groups, c_g = input.shape[0], shape[0], shape[-1]
        plan = _copy_plan(input.shape, kernel, stride, pads, dilation, out_spatial)
        ctx.plan, ctx.pl, ctx.input_shape, ctx.groups = plan, pads[-1][0], tuple(input.shape), groups
        win = input.new_zeros(shape)
        pl, width = pads[-1][0], input.shape[-1]
        # Converting to channels last first (torch's fast transposing copy) and then copying whole column
        # blocks is several times faster than gathering from the NCHW input directly; it is done a few
        # samples at a time so that the temporary stays a fraction of the input.
        chunk = max(1, math.ceil(n / _CHUNKS))
        for n0 in range(0, n, chunk):
            # (n, C, *outer, W) -> (n, *outer, W, C) -> (n, *outer, W, G, C_g) -> (G, n, *outer, W, C_g)
            x = input[n0 : n0 + chunk].movedim(1, -1).contiguous()
            x = x.view(*x.shape[:-1], groups, c_g).movedim(-2, 0)
            for offsets, src, dst in plan:
                view = win[(slice(None), slice(n0, n0 + chunk), *dst, slice(pl, pl + width), *offsets)]
                view.copy_(x[(slice(None), slice(None), *src)])
        return win

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        shape = ctx.input_shape
        n, c, groups, width = shape[0], shape[1], ctx.groups, shape[-1]
        # gradient in (G, N, *outer, W, C_g), i.e. channels last, then back to (N, C, *outer, W)
        gx = grad.new_zeros(groups, n, *shape[2:], c // groups)
        for offsets, src, dst in ctx.plan:
            gx[(slice(None), slice(None), *src)] += grad[
                (slice(None), slice(None), *dst, slice(ctx.pl, ctx.pl + width), *offsets)
            ]
        gx = gx.movedim(0, -2).reshape(n, *shape[2:], c).movedim(-1, 1).contiguous()
        return gx, None, None, None, None, None, None


class _WinGemm(torch.autograd.Function):
    """``out[g] = sum_kw A_kw[g] @ W[g, kw]`` over strided, non-overlapping views of the window buffer.

    Shapes: win ``(G, L)`` flattened buffer, weight ``(G, kW, K, C_out / G)`` -> ``(G, R, C_out / G)`` where
    row ``r`` of ``A_kw`` starts at element ``(r * s_w + kw * d_w) * K``.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, win: torch.Tensor, weight: torch.Tensor, rows: int, row_stride: int, col_step: int
    ) -> torch.Tensor:
        groups, length = win.shape
        k_w, k = weight.shape[1], weight.shape[2]
        ctx.save_for_backward(win, weight)
        ctx.geometry = (rows, row_stride, col_step)
        out = None
        for kw in range(k_w):
            a = win.as_strided((groups, rows, k), (length, row_stride, 1), win.storage_offset() + kw * col_step)
            out = torch.bmm(a, weight[:, kw]) if out is None else out.baddbmm_(a, weight[:, kw])
        assert out is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None, None]:
        win, weight = ctx.saved_tensors
        rows, row_stride, col_step = ctx.geometry
        groups, length = win.shape
        k_w, k = weight.shape[1], weight.shape[2]
        grad = grad.contiguous()
        grad_win = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_win = torch.zeros_like(win)
            for kw in range(k_w):
                view = grad_win.as_strided((groups, rows, k), (length, row_stride, 1), kw * col_step)
                view.baddbmm_(grad, weight[:, kw].transpose(1, 2))
        if ctx.needs_input_grad[1]:
            grads = []
            for kw in range(k_w):
                a = win.as_strided((groups, rows, k), (length, row_stride, 1), win.storage_offset() + kw * col_step)
                grads.append(torch.bmm(a.transpose(1, 2), grad))
            grad_weight = torch.stack(grads, 1)
        return grad_win, grad_weight, None, None, None


def _im2win_conv(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    native: bool = True,
) -> torch.Tensor:
    """N-d im2win convolution. Shapes: input ``(N, C_in, *spatial)``, weight ``(C_out, C_in/G, *kernel)``,
    bias ``(C_out,)`` -> ``(N, C_out, *out_spatial)``.

    With ``native`` (the default), float32 CPU conv1d/conv2d with ``groups = 1`` run on the compiled kernels
    of :mod:`sciconv.conv.im2win_native` when they are available; everything else runs on torch ops."""
    nd = weight.dim() - 2
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not t.is_floating_point():
            raise TypeError(f"im2win conv{nd}d needs a floating-point {name}, got {t.dtype}")
    if weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(
            f"im2win conv{nd}d: dtype mismatch (input {input.dtype}, weight {weight.dtype}"
            f"{f', bias {bias.dtype}' if bias is not None else ''})"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    s, pads, d, out_spatial = _resolve(nd, input.shape, weight.shape, stride, padding, dilation, groups)
    if native and nd <= 2 and im2win_native.supports(input, weight, bias, groups):
        if nd == 2:
            return im2win_native.conv2d(
                input, weight, bias, s, (pads[0][0], pads[1][0]), d, (out_spatial[0], out_spatial[1])
            )
        # conv1d is the H = 1 case: (N, C, L) -> (N, C, 1, L)
        out = im2win_native.conv2d(
            input.unsqueeze(2), weight.unsqueeze(2), bias, (1, s[0]), (0, pads[0][0]), (1, d[0]), (1, out_spatial[0])
        )
        return out.squeeze(2)
    n, c_out = input.shape[0], weight.shape[0]
    c_og = c_out // groups
    kernel = tuple(weight.shape[2:])
    win = im2win_transform(input, kernel, s, pads, d, out_spatial, groups)
    k = math.prod(kernel[:-1]) * (input.shape[1] // groups)
    w_q = win.shape[2 + nd - 1]
    cols = w_q // s[-1]  # output positions computed per buffer row (W_out of them are kept)
    lines = n * math.prod(out_spatial[:-1])  # buffer rows: one per (n, *out_outer)
    rows = (lines - 1) * cols + out_spatial[-1]  # the last row's surplus would read past the buffer
    # weight (C_out, C_g, *k_outer, kW) -> (G, kW, *k_outer, C_g, C_out/G) -> (G, kW, K, C_out/G)
    w = weight.view(groups, c_og, *weight.shape[1:])
    w = w.permute(0, nd + 2, *range(3, nd + 2), 2, 1).reshape(groups, kernel[-1], k, c_og)
    out = _WinGemm.apply(win.view(groups, -1), w, rows, s[-1] * k, d[-1] * k)
    # (G, R, C_out/G) -> (G, N, *out_outer, W_out, C_out/G) -> (N, C_out, *out_spatial)
    sizes = (groups, lines, out_spatial[-1], c_og)
    out = out.as_strided(sizes, (rows * c_og, cols * c_og, c_og, 1))
    out = out.view(groups, n, *out_spatial, c_og).permute(1, 0, nd + 2, *range(2, nd + 2))
    out = out.reshape(n, c_out, *out_spatial)
    if bias is not None:
        out = out + bias.view(c_out, *([1] * nd))
    return out


class Im2winBackend(ConvBackend):
    """sciconv conv backend running 1D/2D/3D convolutions through the im2win window-order transform.

    Each op has ``torch.nn.functional.convNd``'s signature and semantics (stride, int/tuple/'same'/'valid'
    padding, dilation, groups, bias) and is differentiable w.r.t. input, weight and bias.
    """

    name = "im2win"

    def __init__(self, native: bool = True) -> None:
        """``native=False`` keeps every call on the torch-ops path (the native kernels are otherwise used for
        float32 CPU conv1d/conv2d with ``groups = 1``, see :mod:`sciconv.conv.im2win_native`)."""
        self.native = native

    def convnd(
        self,
        nd: int,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> torch.Tensor:
        """The ``nd``-d im2win convolution. conv1d is the H = 1 case (buffer: the padded input, channels
        last); conv2d's buffer is ``(G, N, H_out, W_q, kH, C_in/G)``; conv3d's ``(G, N, D_out, H_out, W_q,
        kD, kH, C_in/G)``."""
        return _im2win_conv(input, weight, bias, stride, padding, dilation, groups, native=self.native)


backend = Im2winBackend()
