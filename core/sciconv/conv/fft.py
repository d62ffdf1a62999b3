"""FFT convolution backend (``fft``): ``conv1d/conv2d/conv3d`` with ``torch.nn.functional``'s semantics
computed with real FFTs, plus :func:`causal_conv1d` for long-convolution models (Hyena, SGConv).

How it works (per spatial dimension, shapes for 1D; 2D/3D are the same over several dims):

* input ``x`` (N, C_in, L), weight ``w`` (C_out, C_in / groups, K); ``padding`` gives ``p_left``/``p_right``
  (``'same'`` = centred: ``p_left = d (K - 1) // 2``, the extra sample on the right like torch;
  ``'valid'`` = 0); the padded length is ``L_p = L + p_left + p_right``.
* dilation ``d`` dilates the kernel (zeros between taps), effective length ``K_e = d (K - 1) + 1``.
* the FFT size ``n`` is the smallest 5-smooth number ``>= L_p``, so the circular correlation
  ``irfft(rfft(x, n) * conj(rfft(w_shift, n)))`` equals the linear one on every output sample (no wrap
  around). The padding is never materialised: the kernel is placed at circular offset ``-p_left``, which
  is the same as padding the input with ``p_left`` zeros on the left, and the right padding falls in the
  zeros up to ``n``.
* the stride-1 result has ``L_p - K_e + 1`` samples; ``stride`` subsamples it (``[::stride]``).
* channels: for ``C_in / groups == 1`` (depthwise and friends) the spectra are multiplied elementwise;
  otherwise a complex matmul per frequency and group mixes the channels, run as one real batched GEMM.

Everything is made of differentiable torch ops (``torch.fft.rfftn/irfftn``, ``matmul``, ``roll``), so
autograd flows to input, weight and bias; the forward real FFTs have a hand-written adjoint (one inverse
real FFT, :class:`_RealFFT`) instead of autograd's full complex FFT. float32 and float64 run natively;
float16/bfloat16 are computed in float32 and cast back.

Kernel spectrum cache. The spectrum of a weight is reused across calls while the weight is unchanged. The
key is ``(weight.data_ptr(), weight._version, shape, strides, dtype, device, dilation, fft size, left
padding, layout)`` and the entry also holds a weak reference to the weight tensor, so that a new tensor
that happens to reuse the freed memory is never mistaken for the old one. In-place updates (optimizer
steps, ``load_state_dict``, ``with torch.no_grad(): w.add_(...)``) bump ``_version`` and so miss the cache.
**Rule:** the cache is used only when no gradient has to flow to the weight, i.e. when grad mode is off
(``torch.no_grad()``/``torch.inference_mode()``, evaluation) or ``weight.requires_grad`` is False; a
spectrum computed under autograd is part of that call's graph and is never stored. (In training the
weight changes every step anyway, so nothing is lost.) Updates through ``weight.data`` bypass torch's
version counter: call :meth:`FFTBackend.clear_cache` after them. The cache is an LRU bounded by
``cache_max_bytes`` (default 1 GiB).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch

from sciconv.conv.backend import ConvBackend

__all__ = ["FFTBackend", "backend", "causal_conv1d", "next_fast_len"]

_NATIVE = (torch.float32, torch.float64)
_UPCAST = (torch.float16, torch.bfloat16)


class _RealFFT(torch.autograd.Function):
    """``torch.fft.rfftn(x, s, dim)`` with an adjoint that is one inverse real FFT.

    Autograd's own backward of ``rfftn`` rebuilds the full Hermitian spectrum and runs a complex FFT of the
    whole signal; for real ``x`` the adjoint is ``prod(s) * irfftn(G')`` where ``G'`` is the incoming
    gradient with the paired bins of the last dimension (``1 .. (n - 1) // 2``, which stand for two
    conjugate frequencies each) halved, cut back to ``x``'s extent (the zero padding has no gradient).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, s: tuple[int, ...], dims: tuple[int, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.s, ctx.dims, ctx.extent = s, dims, tuple(x.shape[d] for d in dims)
        return torch.fft.rfftn(x, s=s, dim=dims)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        s, dims = ctx.s, ctx.dims
        paired = (s[-1] - 1) // 2
        grad = grad.clone()
        grad.narrow(dims[-1], 1, paired).mul_(0.5)
        gx = torch.fft.irfftn(grad, s=s, dim=dims)
        gx = gx[(..., *(slice(0, e) for e in ctx.extent))] if ctx.extent != s else gx
        return gx.mul_(math.prod(s)) if gx.is_contiguous() else gx * math.prod(s), None, None


def _rfftn(x: torch.Tensor, s: Sequence[int], dims: Sequence[int]) -> torch.Tensor:
    """``torch.fft.rfftn(x, s=s, dim=dims)`` (``x`` real, zero padded up to ``s``), with a cheap backward.
    ``dims`` are the last ``len(s)`` dimensions, given as negative indices."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _RealFFT.apply(x, tuple(s), tuple(dims))
    return torch.fft.rfftn(x, s=tuple(s), dim=tuple(dims))


@lru_cache(maxsize=4096)
def next_fast_len(n: int) -> int:
    """Smallest ``m >= n`` of the form ``2^a 3^b 5^c`` (sizes that FFT libraries handle fastest)."""
    if n <= 1:
        return 1
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _tuple(value: Any, nd: int, name: str, op: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * nd
    if isinstance(value, Sequence) and not isinstance(value, str):
        values = tuple(value)
        if len(values) == 1:
            values = values * nd
        if len(values) == nd and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return values
    raise TypeError(f"{op}: {name} must be an int or a tuple of {nd} ints, got {value!r}")


@dataclass
class _Plan:
    """Geometry of one call: everything the spectrum and the output slicing depend on."""

    nd: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pad_left: tuple[int, ...]
    padded: tuple[int, ...]
    fft_size: tuple[int, ...]
    out_full: tuple[int, ...]  # stride-1 output size

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(range(-self.nd, 0))


class FFTBackend(ConvBackend):
    """Convolution backend computing ``torch.nn.functional.conv{1,2,3}d`` with real FFTs.

    Shapes (batched; the unbatched forms without N are accepted too, like torch):

    * ``conv1d``: input (N, C_in, L), weight (C_out, C_in / groups, K), bias (C_out,) -> (N, C_out, L_out)
    * ``conv2d``: input (N, C_in, H, W), weight (C_out, C_in / groups, kH, kW) -> (N, C_out, H_out, W_out)
    * ``conv3d``: input (N, C_in, D, H, W), weight (C_out, C_in / groups, kD, kH, kW) -> (N, C_out, D', H', W')

    ``stride``, ``padding`` (ints, tuples, ``'same'``, ``'valid'``), ``dilation`` and ``groups`` mean what
    they mean in torch, and the output equals torch's within floating-point tolerance. See the module
    docstring for the kernel-spectrum cache and its rule.
    """

    def __init__(self, cache_max_bytes: int = 1 << 30) -> None:
        self.cache_max_bytes = cache_max_bytes
        self._cache: OrderedDict[tuple[Any, ...], tuple[weakref.ref[torch.Tensor], torch.Tensor]] = OrderedDict()
        self._cache_bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    # ----------------------------------------------------------------- public ops
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
        """``F.conv{nd}d`` via FFT (see the class docstring for shapes)."""
        return self._conv(nd, f"conv{nd}d", input, weight, bias, stride, padding, dilation, groups)

    def causal_conv1d(
        self,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None = None,
        *,
        dilation: int = 1,
        groups: int = 1,
    ) -> torch.Tensor:
        """Causal 1D convolution: ``output[..., t]`` depends on ``input[..., :t + 1]`` only, and the output
        is as long as the input. Equals ``F.conv1d(F.pad(input, (d (K - 1), 0)), weight, bias, dilation=d,
        groups=groups)``; kernels as long as (or longer than) the sequence are fine. The centred mode is
        ``conv1d(..., padding='same')``. Shapes: input (N, C_in, L), weight (C_out, C_in / groups, K)
        -> (N, C_out, L)."""
        if weight.dim() != 3:
            raise RuntimeError(
                f"causal_conv1d: expected a 3D weight (C_out, C_in / groups, K), got {list(weight.shape)}"
            )
        d = _tuple(dilation, 1, "dilation", "causal_conv1d")[0]
        if d < 1:
            raise RuntimeError(f"causal_conv1d: dilation must be positive, got {d}")
        left = d * (weight.shape[-1] - 1)
        return self._conv(1, "causal_conv1d", input, weight, bias, 1, ((left, 0),), d, groups)

    # ------------------------------------------------------------------ the cache
    def clear_cache(self) -> None:
        """Drop every cached kernel spectrum (needed after updates through ``weight.data``)."""
        with self._lock:
            self._cache.clear()
            self._cache_bytes = 0

    def cache_info(self) -> dict[str, int]:
        """Hits, misses, entries and bytes of the kernel-spectrum cache."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "entries": len(self._cache), "bytes": self._cache_bytes}

    def _cache_key(self, weight: torch.Tensor, plan: _Plan, layout: tuple[int, ...]) -> tuple[Any, ...] | None:
        """The cache key for ``weight`` in this geometry, or None when the cache must not be used."""
        if weight.requires_grad and torch.is_grad_enabled():
            return None  # the spectrum must be part of this call's graph
        try:
            if weight.is_inference() or type(weight) not in (torch.Tensor, torch.nn.Parameter):
                return None
            version = weight._version
            ptr = weight.data_ptr()
        except RuntimeError:  # tensors without storage or version counter (functorch, fake, ...)
            return None
        return (
            ptr,
            version,
            tuple(weight.shape),
            weight.stride(),
            weight.dtype,
            weight.device,
            plan.dilation,
            plan.fft_size,
            plan.pad_left,
            layout,
            torch.is_inference_mode_enabled(),
        )

    def _spectrum(self, weight: torch.Tensor, plan: _Plan, groups: int) -> torch.Tensor:
        """conj(rfftn) of the dilated, circularly shifted kernel, laid out for :meth:`_mix`:
        (C_out, F) complex when C_in / groups == 1, else real (groups, F, 2 C_in / groups, 2 C_out / groups);
        F is the number of rfftn frequencies (flattened over the spatial dims)."""
        layout = (groups,)
        key = self._cache_key(weight, plan, layout)
        if key is not None:
            with self._lock:
                entry = self._cache.get(key)
                if entry is not None and entry[0]() is weight:
                    self._cache.move_to_end(key)
                    self.hits += 1
                    return entry[1]
                self.misses += 1
        spec = self._compute_spectrum(weight, plan, groups)
        if key is not None:
            self._store(key, weight, spec)
        return spec

    def _store(self, key: tuple[Any, ...], weight: torch.Tensor, spec: torch.Tensor) -> None:
        size = spec.numel() * spec.element_size()
        if size > self.cache_max_bytes:
            return
        this = weakref.ref(self)

        def _drop(_: weakref.ref[torch.Tensor]) -> None:  # the weight died: free its spectrum
            owner = this()
            if owner is not None:
                owner._evict(key)

        with self._lock:
            old = self._cache.pop(key, None)
            if old is not None:
                self._cache_bytes -= old[1].numel() * old[1].element_size()
            # entries of an earlier version of the same weight are dead now
            stale = [k for k, (ref, _) in self._cache.items() if ref() is weight]
            for k in stale:
                self._cache_bytes -= self._cache[k][1].numel() * self._cache[k][1].element_size()
                del self._cache[k]
            self._cache[key] = (weakref.ref(weight, _drop), spec)
            self._cache_bytes += size
            while self._cache_bytes > self.cache_max_bytes and self._cache:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._cache_bytes -= dropped.numel() * dropped.element_size()

    def _evict(self, key: tuple[Any, ...]) -> None:
        with self._lock:
            entry = self._cache.pop(key, None)
            if entry is not None:
                self._cache_bytes -= entry[1].numel() * entry[1].element_size()

    @staticmethod
    def _compute_spectrum(weight: torch.Tensor, plan: _Plan, groups: int) -> torch.Tensor:
        w = weight
        if any(d > 1 for d in plan.dilation):
            eff = tuple(d * (k - 1) + 1 for d, k in zip(plan.dilation, plan.kernel, strict=True))
            dilated = w.new_zeros((*w.shape[:2], *eff))
            dilated[(..., *(slice(None, None, d) for d in plan.dilation))] = w
            w = dilated
        pad: list[int] = []
        for size, n in zip(reversed(w.shape[2:]), reversed(plan.fft_size), strict=True):
            pad += [0, n - size]
        w = torch.nn.functional.pad(w, pad)
        if any(plan.pad_left):
            w = torch.roll(w, shifts=tuple(-p for p in plan.pad_left), dims=plan.dims)
        spec = _rfftn(w, plan.fft_size, plan.dims).conj()
        c_out, c_in_g = weight.shape[:2]
        spec = spec.reshape(c_out, c_in_g, -1)  # (C_out, C_in/g, F)
        if c_in_g == 1:
            return spec.reshape(c_out, -1).resolve_conj()
        c_out_g = c_out // groups
        # (g, C_out/g, C_in/g, F) -> (g, F, C_in/g, C_out/g), then the real 2x2 block form of each complex entry
        # (see _mix): rows (i, re/im of x), columns (o, re/im of y) -> (g, F, 2 C_in/g, 2 C_out/g)
        spec = spec.reshape(groups, c_out_g, c_in_g, -1).permute(0, 3, 2, 1).resolve_conj()
        re, im = spec.real, spec.imag
        block = torch.stack((torch.stack((re, im), dim=-1), torch.stack((-im, re), dim=-1)), dim=-3)
        return block.reshape(groups, spec.shape[1], 2 * c_in_g, 2 * c_out_g).contiguous()

    # ------------------------------------------------------------------ the op
    def _plan(
        self, nd: int, op: str, x: torch.Tensor, weight: torch.Tensor, stride: Any, padding: Any, dilation: Any
    ) -> _Plan:
        kernel = tuple(weight.shape[2:])
        stride_t = _tuple(stride, nd, "stride", op)
        dilation_t = _tuple(dilation, nd, "dilation", op)
        if any(s < 1 for s in stride_t):
            raise RuntimeError(f"{op}: non-positive stride is not supported, got {stride_t}")
        if any(d < 1 for d in dilation_t):
            raise RuntimeError(f"{op}: dilation should be greater than zero, got {dilation_t}")
        eff = tuple(d * (k - 1) + 1 for d, k in zip(dilation_t, kernel, strict=True))
        if isinstance(padding, str):
            if padding == "valid":
                pads = tuple((0, 0) for _ in range(nd))
            elif padding == "same":
                if any(s != 1 for s in stride_t):
                    raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions")
                pads = tuple(((e - 1) // 2, (e - 1) - (e - 1) // 2) for e in eff)
            else:
                raise RuntimeError(f"{op}: invalid padding string {padding!r} (expected 'same' or 'valid')")
        elif isinstance(padding, tuple) and padding and all(isinstance(p, tuple) for p in padding):
            pads = padding  # internal: explicit (left, right) pairs
        else:
            pads = tuple((p, p) for p in _tuple(padding, nd, "padding", op))
        if any(p < 0 for pair in pads for p in pair):
            raise RuntimeError(f"{op}: negative padding is not supported, got {padding!r}")
        spatial = tuple(x.shape[2:])
        padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads, strict=True))
        if any(e > p for e, p in zip(eff, padded, strict=True)):
            raise RuntimeError(
                f"{op}: calculated padded input size per channel: {padded}. Kernel size (dilated): {eff}. "
                "Kernel size can't be greater than actual input size"
            )
        return _Plan(
            nd=nd,
            kernel=kernel,
            stride=stride_t,
            dilation=dilation_t,
            pad_left=tuple(lo for lo, _ in pads),
            padded=padded,
            fft_size=tuple(next_fast_len(p) for p in padded),
            out_full=tuple(p - e + 1 for p, e in zip(padded, eff, strict=True)),
        )

    @staticmethod
    def _check(nd: int, op: str, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> None:
        for name, t in (("input", x), ("weight", weight), ("bias", bias)):
            if t is None:
                continue
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{op}: {name} must be a torch.Tensor, got {type(t).__name__}")
            if t.dtype not in _NATIVE + _UPCAST:
                raise TypeError(
                    f"{op}: the fft backend needs floating-point tensors (float32/float64, or float16/bfloat16 "
                    f"computed in float32); {name} has dtype {t.dtype}"
                )
        if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
            bias_dtype = "" if bias is None else f", bias {bias.dtype}"
            raise RuntimeError(f"{op}: input ({x.dtype}), weight ({weight.dtype}){bias_dtype} must have the same dtype")
        if weight.device != x.device or (bias is not None and bias.device != x.device):
            raise RuntimeError(f"{op}: input, weight and bias must be on the same device")
        if weight.dim() != nd + 2:
            raise RuntimeError(
                f"{op}: expected a {nd + 2}D weight (C_out, C_in / groups, *kernel), got {list(weight.shape)}"
            )
        if x.dim() != nd + 2:
            raise RuntimeError(
                f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input of size: "
                f"{list(x.shape)}"
            )
        if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
            raise RuntimeError(f"{op}: non-positive groups is not supported, got {groups!r}")
        c_out, c_in_g = weight.shape[:2]
        if c_out % groups:
            raise RuntimeError(
                f"{op}: given groups={groups}, expected weight to be divisible by {groups} at dim 0, "
                f"but got weight of size {list(weight.shape)}"
            )
        if x.shape[1] != c_in_g * groups:
            raise RuntimeError(
                f"{op}: given groups={groups}, weight of size {list(weight.shape)}, expected input{list(x.shape)} "
                f"to have {c_in_g * groups} channels, but got {x.shape[1]} channels instead"
            )
        if bias is not None and (bias.dim() != 1 or bias.shape[0] != c_out):
            raise RuntimeError(f"{op}: expected bias of shape ({c_out},), got {list(bias.shape)}")
        if any(s == 0 for s in weight.shape[2:]):
            raise RuntimeError(f"{op}: kernel size must be positive, got weight of size {list(weight.shape)}")

    def _conv(
        self,
        nd: int,
        op: str,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
    ) -> torch.Tensor:
        unbatched = isinstance(input, torch.Tensor) and input.dim() == nd + 1
        x = input.unsqueeze(0) if unbatched else input
        self._check(nd, op, x, weight, bias, groups)
        plan = self._plan(nd, op, x, weight, stride, padding, dilation)
        out_dtype = x.dtype
        if x.dtype in _UPCAST:
            x, weight = x.float(), weight.float()
            bias = None if bias is None else bias.float()
        spec = self._spectrum(weight, plan, groups)
        xf = _rfftn(x, plan.fft_size, plan.dims)  # (N, C_in, *F)
        freq_shape = xf.shape[2:]
        yf = self._mix(xf.reshape(*xf.shape[:2], -1), spec, groups, weight.shape[0])
        y = torch.fft.irfftn(yf.reshape(*yf.shape[:2], *freq_shape), s=plan.fft_size, dim=plan.dims)
        y = y[(..., *(slice(0, o, s) for o, s in zip(plan.out_full, plan.stride, strict=True)))]
        y = y + bias.reshape(-1, *([1] * nd)) if bias is not None else y.contiguous()
        if out_dtype != y.dtype:
            y = y.to(out_dtype)
        return y.squeeze(0) if unbatched else y

    @staticmethod
    def _mix(xf: torch.Tensor, spec: torch.Tensor, groups: int, c_out: int) -> torch.Tensor:
        """Channel mixing in the frequency domain. xf (N, C_in, F), spec from :meth:`_spectrum`
        -> (N, C_out, F)."""
        n, c_in, f = xf.shape
        c_in_g = c_in // groups
        if c_in_g == 1:  # elementwise: output channel o reads input channel o // (C_out / groups)
            c_out_g = c_out // groups
            return (xf.unsqueeze(2) * spec.reshape(groups, c_out_g, f)).reshape(n, c_out, f)
        # A batched complex matmul per group and frequency, (N, C_in/g) @ (C_in/g, C_out/g), done as one real
        # batched GEMM (complex bmm on CPU is ~50x slower): x as interleaved (re, im) pairs (N, 2 C_in/g) times
        # the 2x2 real blocks [[re, im], [-im, re]] of the spectrum gives y as interleaved pairs (N, 2 C_out/g).
        c_out_g = c_out // groups
        xg = torch.view_as_real(xf.reshape(n, groups, c_in_g, f).permute(1, 3, 0, 2).contiguous())
        yg = torch.matmul(xg.reshape(groups, f, n, 2 * c_in_g), spec)  # (g, F, N, 2 C_out/g)
        yc = torch.view_as_complex(yg.reshape(groups, f, n, c_out_g, 2))
        return yc.permute(2, 0, 3, 1).reshape(n, c_out, f)


backend = FFTBackend()
"""The instance registered as the ``fft`` conv backend (``sciconv.conv.fft:backend``)."""


def causal_conv1d(
    x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None = None, *, dilation: int = 1, groups: int = 1
) -> torch.Tensor:
    """Causal FFT convolution on the shared :data:`backend`: x (N, C_in, L), w (C_out, C_in / groups, K)
    -> (N, C_out, L), ``out[..., t]`` depending on ``x[..., :t + 1]`` only. See
    :meth:`FFTBackend.causal_conv1d`."""
    return backend.causal_conv1d(x, w, bias, dilation=dilation, groups=groups)
