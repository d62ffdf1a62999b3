"""Native (compiled C) kernels of the im2win backend: float32 conv2d (and conv1d as ``H = 1``), groups = 1.

The C source (``csrc/im2win.c``, shipped as package data) is compiled at first use with the system C
compiler (``$CC``, else ``cc``/``gcc``) into a cache directory (``$SCICONV_CACHE_DIR/kernels/``, else
``~/.cache/sciconv/kernels/``); the file name is a hash of the source, the compiler's version, the flags and
the CPU (model and feature flags), so a changed source, compiler or machine compiles anew. The library is
written under a temporary name and moved into place with ``os.replace`` (concurrent processes are safe),
then loaded with :mod:`ctypes`. Without a compiler, or when compiling or loading fails, :func:`available`
is false, :func:`reason` says why, one warning is issued and the im2win backend keeps its torch-ops path.
``SCICONV_NATIVE=0`` disables the native path.

Work is split over ``torch.get_num_threads()`` threads. The library is built with ``-fopenmp`` where the
compiler supports it; it is loaded after torch, so its ``libgomp.so.1`` dependency resolves to the runtime
torch already loaded (torch bundles its own libgomp): the kernels' parallel regions run on torch's OpenMP
threads, one team for both, never oversubscribed, and right after a torch op its spinning threads pick the
work up at once (a separate Python thread pool measured 1.5-2x slower there, its second thread competing
with torch's spinning one). Without OpenMP, with a second OpenMP runtime in the process, or in a forked child
(GNU OpenMP's team does not survive ``fork``), a persistent pool of Python threads runs the range entry points
instead (ctypes releases the GIL during the foreign call). Chunks of work are handed out dynamically in both
cases. The window-order buffer is built per block of output rows inside the C kernels (see the
source's header, the transposition from NCHW included), so the activation-sized extra memory is a few
per-thread strips in the forward pass and the channels-last output gradient in the backward pass, far
below im2col's buffer. The weights are packed one group of 64-channel panels at a time (at most
:data:`PACK_BYTES`, or one panel), groups outermost, and the weight gradient is either summed per thread into
weight-sized accumulators (small weights) or computed in units of one reduction panel x a block of output
channels written straight into the returned gradient, so that the weight-sized extra memory is bounded too
(:func:`workspace_nbytes`).
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from sciconv.conv import native_build

__all__ = [
    "Geometry",
    "available",
    "cache_dir",
    "clear_workspaces",
    "conv2d",
    "library_path",
    "load",
    "reason",
    "supports",
    "workspace_nbytes",
]

FLAGS = native_build.FLAGS
OPENMP_FLAGS = native_build.OPENMP_FLAGS  # tried first; FLAGS alone (threads from a Python pool) if it fails
_MR, _NR = 6, 64  # micro-tile of the C kernels: MR rows x NR columns

_state = native_build.NativeState()
_pool: dict[str, Any] = {"executor": None, "size": 0, "pid": None}
_pool_lock = threading.Lock()


# ----------------------------------------------------------------------------------------------- loading

cache_dir = native_build.cache_dir
_compiler = native_build.find_compiler
_one_openmp_runtime = native_build.one_openmp_runtime


def _source() -> bytes:
    """The C source as shipped in the package (works from a wheel install as from the source tree)."""
    return resources.files("sciconv.conv").joinpath("csrc", "im2win.c").read_bytes()


def library_path(compiler: str | None = None, flags: Sequence[str] = OPENMP_FLAGS) -> Path:
    """Where the library compiled from this source by this compiler with these flags for this CPU lives (it
    may not exist yet)."""
    cc = compiler or _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (tried $CC, cc, gcc)")
    return native_build.library_path("im2win", _source(), cc, flags)


def _compile(cc: str, target: Path, flags: Sequence[str] = FLAGS) -> None:
    """Compile the source into ``target`` (temporary name, then ``os.replace``)."""
    native_build.compile_library(cc, "im2win", _source(), target, flags)


def _bind(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    idx, ptr = ctypes.c_long, ctypes.c_void_p
    lib.im2win_abi.restype = ctypes.c_int
    lib.im2win_abi.argtypes = []
    lib.im2win_openmp.restype = ctypes.c_int
    lib.im2win_openmp.argtypes = []
    lib.im2win_fwd_par.restype = None
    lib.im2win_fwd_par.argtypes = [ptr, ptr, ptr, ptr, ptr, ptr, ctypes.c_int, idx]
    lib.im2win_bwd_par.restype = None
    lib.im2win_bwd_par.argtypes = [ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ctypes.c_int, ctypes.c_int, idx, idx]
    lib.im2win_scratch_bytes.restype = idx
    lib.im2win_scratch_bytes.argtypes = [ptr, ctypes.c_int]
    lib.im2win_fwd.restype = None
    lib.im2win_fwd.argtypes = [ptr, ptr, ptr, ptr, ptr, idx, idx, idx, idx]
    lib.im2win_bwd_weight.restype = None
    lib.im2win_bwd_weight.argtypes = [ptr, ptr, ptr, ptr, idx, idx, idx, idx, ctypes.c_int]
    lib.im2win_bwd_weight_units.restype = None
    lib.im2win_bwd_weight_units.argtypes = [ptr, ptr, ptr, ptr, idx, idx]
    lib.im2win_dw_finish.restype = None
    lib.im2win_dw_finish.argtypes = [ptr, ptr, idx, ptr, idx, idx]
    lib.im2win_bwd_input.restype = None
    lib.im2win_bwd_input.argtypes = [ptr, ptr, ptr, ptr, idx, idx, idx, idx]
    lib.im2win_to_nhwc.restype = None
    lib.im2win_to_nhwc.argtypes = [ptr, ptr, idx, idx, idx, idx]
    lib.im2win_pack_fwd.restype = None
    lib.im2win_pack_fwd.argtypes = [ptr, ptr, ptr, idx, idx, idx]
    lib.im2win_pack_bwd.restype = None
    lib.im2win_pack_bwd.argtypes = [ptr, ptr, ptr, idx, idx, idx, idx]
    if lib.im2win_abi() != 2:
        raise RuntimeError(f"{path} has an unexpected ABI version")
    return lib


def load(force: bool = False) -> ctypes.CDLL | None:
    """The compiled library, compiling it into the cache on first use; ``None`` (with :func:`reason` set and
    one warning) when the native path is disabled or cannot be built. ``force`` retries from scratch."""
    return native_build.load_library(
        _state,
        what="im2win",
        compiler=lambda: _compiler(),
        path_for=lambda cc, flags: library_path(cc, flags),
        compile=lambda cc, path, flags: _compile(cc, path, flags),
        bind=_bind,
        has_openmp=lambda lib: bool(lib.im2win_openmp()),
        force=force,
    )


def _use_openmp() -> bool:
    """Whether to run the OpenMP entry points: built with OpenMP, one runtime, and not in a forked child
    (GNU OpenMP's thread team does not survive a fork; the child uses the Python thread pool)."""
    return _state.openmp and _state.pid == os.getpid()


def available() -> bool:
    """Whether the native kernels are built and loaded (compiling them on first call)."""
    return load() is not None


def reason() -> str | None:
    """Why the native kernels are unavailable (``None`` when they are)."""
    load()
    return _state.reason


# ----------------------------------------------------------------------------------------------- workspaces

_workspaces = threading.local()


def _workspace(name: str, shape: Sequence[int]) -> torch.Tensor:
    """A float32 CPU buffer of ``shape`` for temporary ``name``, reused across calls on this thread (grown
    when too small). The large temporaries (packed weights, channels-last output gradient, weight-gradient
    accumulators) would otherwise be fresh pages on every call, which the kernel zeroes at first touch."""
    cache = getattr(_workspaces, "buffers", None)
    if cache is None:
        cache = _workspaces.buffers = {}
    numel = math.prod(shape)
    buf = cache.get(name)
    if buf is None or buf.numel() < numel:
        buf = cache[name] = torch.empty(numel, dtype=torch.float32)
    return buf[:numel].view(*shape)


def clear_workspaces() -> None:
    """Free this thread's cached workspaces (they are kept between calls, at most the largest size seen)."""
    _workspaces.buffers = {}


# ----------------------------------------------------------------------------------------------- threads


def _parallel(tasks: Sequence[Callable[[], None]]) -> None:
    """Run ``tasks`` (at most ``torch.get_num_threads()``) on the persistent pool plus the calling thread."""
    if len(tasks) == 1:
        tasks[0]()
        return
    with _pool_lock:
        # a forked child inherits the pool object but not its threads: it makes its own
        if _pool["size"] < len(tasks) - 1 or _pool["pid"] != os.getpid():
            if _pool["executor"] is not None and _pool["pid"] == os.getpid():
                _pool["executor"].shutdown(wait=False)
            _pool["executor"] = ThreadPoolExecutor(max_workers=len(tasks) - 1, thread_name_prefix="sciconv-im2win")
            _pool.update(size=len(tasks) - 1, pid=os.getpid())
        executor = _pool["executor"]
    futures = [executor.submit(task) for task in tasks[1:]]
    tasks[0]()
    for future in futures:
        future.result()


def _run(jobs: Sequence[tuple[Callable[[int, int, int], None], int, int]], threads: int) -> None:
    """Run ``jobs`` = ``(fn, total, grain)``: ``fn(lo, hi, worker)`` over the chunks ``[lo, hi)`` of
    ``[0, total)`` (``grain`` long), handed out in order to ``threads`` workers as each becomes free, so
    uneven chunks and threads slowed by other processes balance out. ``worker`` < ``threads`` indexes a
    per-worker buffer where a job needs one."""
    chunks = [(fn, lo, min(lo + grain, total)) for fn, total, grain in jobs for lo in range(0, total, grain)]
    workers = min(threads, len(chunks))
    if workers <= 1:
        for fn, lo, hi in chunks:
            fn(lo, hi, 0)
        return
    queue = iter(chunks)
    lock = threading.Lock()

    def work(worker: int) -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            fn, lo, hi = item
            fn(lo, hi, worker)

    _parallel([(lambda i=i: work(i)) for i in range(workers)])


def _grain(total: int, threads: int, per_thread: int, minimum: int = 1) -> int:
    """Chunk length: ``total / (threads * per_thread)`` rounded up, at least ``minimum``."""
    return max(minimum, math.ceil(total / (threads * per_thread)))


# ----------------------------------------------------------------------------------------------- geometry


PIECE_BYTES = 256 << 10
"""Largest window strip of one output row; wider rows (long conv1d signals, wide images, many channels) are
cut into pieces of ``wb`` output columns so that the per-thread strips stay small."""

PACK_BYTES = 2 << 20
"""Most bytes of packed weights held at once (at least one 64-channel panel): the forward and the input
gradient pack and run one group of panels at a time, groups of equal size."""

ACC_BYTES = 128 << 10
"""Largest per-thread weight-gradient accumulator of one unit (channel block x kW x 64 values) in the
"tiles" split."""

_PACK_CB = 32  # input channels per unit of forward packing work (PACK_CB in the C source)


def _groups(count: int, item_bytes: int) -> int:
    """Items (panels) per group: equal groups of at most :data:`PACK_BYTES` (at least one item)."""
    most = max(1, PACK_BYTES // item_bytes)
    return math.ceil(count / math.ceil(count / most))


class Geometry:
    """Shapes and blocking of one native conv2d call.

    Input ``(N, C, H, W)``, weight ``(C_out, C, kH, kW)``, output ``(N, C_out, H_out, W_out)``; ``pads`` are
    the (top, left) paddings (bottom/right ones follow from the output size). Work is counted in pieces:
    ``lines`` = ``N * H_out * ceil(W_out / wb)`` runs of at most ``wb`` output columns of one output row
    (``wb = W_out``, whole rows, unless a row's window strip would exceed :data:`PIECE_BYTES`). Packed weights
    come in groups of ``gf`` forward panels (64 output channels each) and ``gb`` input-gradient panels (64
    input channels); the weight gradient's "tiles" split runs units of one 64-row reduction panel x ``cbw``
    output-channel tiles of MR rows.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        weight_shape: Sequence[int],
        stride: Sequence[int],
        pads: Sequence[int],
        dilation: Sequence[int],
        out_spatial: Sequence[int],
        threads: int,
    ) -> None:
        n, c, h, w = (int(v) for v in input_shape)
        c_out, _, kh, kw = (int(v) for v in weight_shape)
        ho, wo = (int(v) for v in out_spatial)
        self.n, self.c, self.h, self.w, self.c_out, self.kh, self.kw = n, c, h, w, c_out, kh, kw
        self.ho, self.wo, self.threads = ho, wo, max(1, threads)
        self.k = kh * c
        span = (kw - 1) * dilation[1] + 1
        self.wp = (wo - 1) * stride[1] + span
        self.wb = wo
        if self.wp * self.k * 4 > PIECE_BYTES:
            self.wb = max(1, min(wo, (PIECE_BYTES // (self.k * 4) - span) // stride[1] + 1))
        self.lines = n * ho * math.ceil(wo / self.wb)
        strip_line = ((self.wb - 1) * stride[1] + span) * self.k * 4
        wo = self.wb  # output positions per piece, below
        # forward: ~128 output positions per block, strip <= 512 KiB (L2), reduction chunks of <= 128 steps
        # (a 32 KiB weight chunk in L1); weight gradient: ~128 reduction steps (output positions) per block,
        # so that one 64-column panel of the strip (128 x 256 bytes) stays in L1 across the channel tiles.
        self.lb_fwd = max(1, min(math.ceil(128 / wo), (512 << 10) // strip_line))
        self.kc_fwd = 128
        self.lb_bw = max(1, min(math.ceil(128 / wo), (768 << 10) // strip_line))
        self.rb_bi = 96
        self.kpad = math.ceil(self.k / _NR) * _NR
        self.co_tiles = math.ceil(c_out / _MR)
        self.tiles = self.co_tiles * kw * (self.kpad // _NR)
        # packed weights: groups of panels of at most PACK_BYTES
        self.panels_f, self.panels_b = math.ceil(c_out / _NR), math.ceil(c / _NR)
        self.gf = _groups(self.panels_f, kw * self.k * _NR * 4)
        self.gb = _groups(self.panels_b, kh * kw * c_out * _NR * 4)
        # weight gradient by tiles: units of one reduction panel x cbw channel tiles (accumulator <= ACC_BYTES,
        # at least 2 units per thread where the channels allow), blocks of ~128 output positions whose 64-column
        # strips (<= 64 KiB) stay in L1/L2 across the channel tiles and kernel columns
        kp = self.kpad // _NR
        blocks = math.ceil(self.co_tiles / max(1, ACC_BYTES // (kw * _MR * _NR * 4)))
        blocks = min(self.co_tiles, max(blocks, math.ceil(2 * self.threads / kp)))
        self.cbw = math.ceil(self.co_tiles / blocks)
        self.units = kp * math.ceil(self.co_tiles / self.cbw)
        self.lb_bwt = max(1, min(math.ceil(128 / wo), (64 << 10) // (strip_line // self.k * _NR)))
        values = [n, c, h, w, c_out, kh, kw, *stride, pads[0], pads[1], *dilation, ho, self.wo]
        values += [self.lb_fwd, self.kc_fwd, self.lb_bw, self.rb_bi, self.wb, self.gf, self.gb, self.cbw, self.lb_bwt]
        self.array = (ctypes.c_long * len(values))(*values)

    @property
    def ptr(self) -> int:
        """Address of the geometry array passed to the C entry points."""
        return ctypes.addressof(self.array)


def supports(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, groups: int) -> bool:
    """Whether a conv1d/conv2d call can take the native path (non-empty float32 CPU tensors, groups = 1,
    kernels loaded). Shapes: input ``(N, C, [H,] W)``, weight ``(C_out, C, [kH,] kW)``."""
    tensors = [t for t in (input, weight, bias) if t is not None]
    if groups != 1 or any(t.dtype != torch.float32 or t.device.type != "cpu" for t in tensors):
        return False
    if input.dim() not in (3, 4) or weight.dim() != input.dim() or input.numel() == 0 or weight.numel() == 0:
        return False
    return available()


def _pack_forward(lib: ctypes.CDLL, g: Geometry, w: torch.Tensor, packed: torch.Tensor, p0: int, p1: int) -> None:
    """Panels [p0, p1) of w (C_out, C, kH, kW), contiguous, into packed (gf, kW * kH * C, 64), zero padded
    past C_out."""
    pack, units = lib.im2win_pack_fwd, (p1 - p0) * math.ceil(g.c / _PACK_CB)
    ptrs = (w.data_ptr(), packed.data_ptr())
    _run([(lambda lo, hi, _: pack(g.ptr, *ptrs, p0, lo, hi), units, _grain(units, g.threads, 2))], g.threads)


def _pack_input_grad(lib: ctypes.CDLL, g: Geometry, w: torch.Tensor, packed: torch.Tensor, p0: int, p1: int) -> None:
    """Panels [p0, p1) of w (C_out, C, kH, kW), contiguous, into packed (gb, kH, kW, C_out, 64), zero padded
    past C."""
    pack, grain = lib.im2win_pack_bwd, _grain(g.c_out, g.threads, 2)
    _run([(lambda lo, hi, _: pack(g.ptr, w.data_ptr(), packed.data_ptr(), p0, p1, lo, hi), g.c_out, grain)], g.threads)


def workspace_nbytes(
    input_shape: Sequence[int],
    weight_shape: Sequence[int],
    stride: Sequence[int],
    pads: Sequence[int],
    dilation: Sequence[int],
    out_spatial: Sequence[int],
    threads: int | None = None,
    backward: bool = False,
) -> dict[str, int]:
    """Peak bytes the native path allocates beyond input, weight, output and their gradients, in two parts.

    ``"transform"`` (the activation-sized part, the one im2col's buffer is compared with): one scratch block
    per thread (window strip of a few output rows and an output tile); backward adds the channels-last
    output gradient ``N * H_out * W_out * C_out`` (a non-contiguous input adds a contiguous copy of it, kept
    for backward). ``"weights"``: the packed weight panels, one group at a time (at most :data:`PACK_BYTES`,
    or one 64-channel panel, ``64 * kH * kW * C * 4`` bytes forward, ``64 * kH * kW * C_out * 4`` for the
    input gradient); backward adds the weight-gradient accumulators: one per thread, each about the weight's
    size, in the "lines" split (small weights), or one unit's (at most :data:`ACC_BYTES`) per thread in the
    "tiles" split, which writes into the returned gradient directly. The packed panels (one buffer for the
    forward and the input-gradient ones), the channels-last gradient and the "lines" accumulators are
    per-thread workspaces kept between calls (the largest size seen; :func:`clear_workspaces` frees them).
    """
    lib = load()
    if lib is None:
        raise RuntimeError(f"native im2win kernels unavailable: {reason()}")
    threads = threads or torch.get_num_threads()
    g = Geometry(input_shape, weight_shape, stride, pads, dilation, out_spatial, threads)
    w_f = g.gf * g.kw * g.k * _NR * 4
    if not backward:
        return {"transform": threads * lib.im2win_scratch_bytes(g.ptr, 0), "weights": w_f}
    # backward: the input-gradient panels reuse the forward's buffer
    dy_t = g.n * g.c_out * g.ho * g.wo * 4
    w_b = g.gb * g.kh * g.kw * g.c_out * _NR * 4
    mode, parts = _weight_grad_plan(g)
    if mode == "lines":
        partials = parts * g.co_tiles * _MR * g.kw * g.kpad * 4
        scratch_w = lib.im2win_scratch_bytes(g.ptr, 1)
    else:  # the unit accumulators are part of the scratch blocks
        partials = threads * g.cbw * g.kw * _MR * _NR * 4
        scratch_w = lib.im2win_scratch_bytes(g.ptr, 3) - g.cbw * g.kw * _MR * _NR * 4
    scratch = threads * max(scratch_w, lib.im2win_scratch_bytes(g.ptr, 2))
    return {"transform": dy_t + scratch, "weights": max(w_f, w_b) + partials}


def _weight_grad_plan(g: Geometry) -> tuple[str, int]:
    """How the weight gradient is split over threads: ``("lines", partial buffers)`` (each thread sums its
    share of output rows into its own accumulator, about the weight's size, then they are summed into the
    gradient) when the accumulators are small, else ``("tiles", 0)`` (each thread takes units of one 64-row
    reduction panel x a block of output channels, sums them over every output row in a small accumulator and
    writes them into the gradient)."""
    acc_bytes = g.co_tiles * _MR * g.kw * g.kpad * 4
    if g.threads == 1 or g.lines < 2 * g.threads:
        return ("tiles", 0)
    input_bytes = g.n * g.c * g.h * g.w * 4
    if acc_bytes * g.threads <= max(input_bytes // 2, 4 << 20):
        return ("lines", g.threads)
    return ("tiles", 0)


# ----------------------------------------------------------------------------------------------- autograd


class _NativeConv2d(torch.autograd.Function):
    """conv2d (groups = 1, float32, CPU) on the native kernels; backward native as well."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        input: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int],
        pads: tuple[int, int],
        dilation: tuple[int, int],
        out_spatial: tuple[int, int],
    ) -> torch.Tensor:
        lib = load()
        assert lib is not None
        threads = torch.get_num_threads()
        g = Geometry(input.shape, weight.shape, stride, pads, dilation, out_spatial, threads)
        x = input.detach().contiguous()
        w = weight.detach().contiguous()
        b = bias.detach().contiguous() if bias is not None else None
        y = input.new_empty(g.n, g.c_out, g.ho, g.wo)
        b_ptr = b.data_ptr() if b is not None else None
        grain = _grain(g.lines, threads, 2)
        w_f = _workspace("w_pack", (g.gf, g.kw * g.k, _NR))  # one group of panels
        if _use_openmp():
            lib.im2win_fwd_par(g.ptr, x.data_ptr(), w.data_ptr(), w_f.data_ptr(), b_ptr, y.data_ptr(), threads, grain)
        else:
            fwd, ptrs = lib.im2win_fwd, (x.data_ptr(), w_f.data_ptr(), b_ptr, y.data_ptr())
            for p0 in range(0, g.panels_f, g.gf):
                p1 = min(g.panels_f, p0 + g.gf)
                _pack_forward(lib, g, w, w_f, p0, p1)
                _run([(lambda lo, hi, _, p0=p0, p1=p1: fwd(g.ptr, *ptrs, p0, p1, lo, hi), g.lines, grain)], threads)
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, pads, dilation, out_spatial, tuple(input.shape), bias is not None)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        lib = load()
        assert lib is not None
        x, weight = ctx.saved_tensors
        stride, pads, dilation, out_spatial, input_shape, has_bias = ctx.geometry
        threads = torch.get_num_threads()
        g = Geometry(input_shape, weight.shape, stride, pads, dilation, out_spatial, threads)
        grad = grad.contiguous()
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if _use_openmp():
            grad_x, grad_w = _backward_openmp(lib, g, x, weight, grad, need_x, need_w)
            if need_b and has_bias:
                grad_b = grad.sum((0, 2, 3))
            return grad_x, grad_w, grad_b, None, None, None, None
        if need_x:
            dy_t = _workspace("dy_t", (g.n, g.ho, g.wo, g.c_out))  # channels last
            nhwc, ptrs = lib.im2win_to_nhwc, (grad.data_ptr(), dy_t.data_ptr(), g.c_out, g.ho * g.wo)
            _run([(lambda lo, hi, _: nhwc(*ptrs, lo, hi), g.n, _grain(g.n, threads, 2))], threads)
            w = weight.detach().contiguous()
            w_b = _workspace("w_pack", (g.gb, g.kh, g.kw, g.c_out, _NR))  # one group of panels
            grad_x = grad.new_empty(input_shape)
            total = g.n * g.h * g.w
            bwd_x, ptrs_x = lib.im2win_bwd_input, (dy_t.data_ptr(), w_b.data_ptr(), grad_x.data_ptr())
            grain = _grain(total, threads, 4, g.rb_bi)
            for p0 in range(0, g.panels_b, g.gb):
                p1 = min(g.panels_b, p0 + g.gb)
                _pack_input_grad(lib, g, w, w_b, p0, p1)
                _run([(lambda lo, hi, _, p0=p0, p1=p1: bwd_x(g.ptr, *ptrs_x, p0, p1, lo, hi), total, grain)], threads)
        if need_w:
            grad_w = weight.new_empty(weight.shape)
            mode, parts = _weight_grad_plan(g)
            if mode == "lines":
                _weight_grad_lines(lib, g, x, grad, grad_w, parts)
            else:  # units of (reduction panel, channel block), straight into grad_w
                units, ptrs_w = lib.im2win_bwd_weight_units, (x.data_ptr(), grad.data_ptr(), grad_w.data_ptr())
                _run([(lambda lo, hi, _: units(g.ptr, *ptrs_w, lo, hi), g.units, 1)], threads)
        if need_b and has_bias:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None


def _weight_grad_lines(
    lib: ctypes.CDLL, g: Geometry, x: torch.Tensor, grad: torch.Tensor, grad_w: torch.Tensor, parts: int
) -> None:
    """Weight gradient split by output rows (Python pool): worker i sums its chunks into accumulator i, then
    the used accumulators are summed into grad_w (C_out, C, kH, kW)."""
    acc = _workspace("acc", (parts, g.kw * g.kpad // _NR, g.co_tiles, _MR, _NR))
    used = [False] * parts  # whether worker i has zeroed (and used) acc[i]
    bwd_w, ptrs_w = lib.im2win_bwd_weight, (x.data_ptr(), grad.data_ptr())

    def by_lines(lo: int, hi: int, i: int) -> None:
        first, used[i] = not used[i], True
        bwd_w(g.ptr, *ptrs_w, acc[i].data_ptr(), lo, hi, 0, g.tiles, first)

    _run([(by_lines, g.lines, _grain(g.lines, g.threads, 4, g.lb_bw))], g.threads)
    parts_used = [acc[i].data_ptr() for i in range(parts) if used[i]]
    part_ptrs = (ctypes.c_void_p * len(parts_used))(*parts_used)
    finish, args = lib.im2win_dw_finish, (part_ptrs, len(parts_used), grad_w.data_ptr())
    _run([(lambda lo, hi, _: finish(g.ptr, *args, lo, hi), g.c_out, _grain(g.c_out, g.threads, 2))], g.threads)


def _backward_openmp(
    lib: ctypes.CDLL,
    g: Geometry,
    x: torch.Tensor,
    weight: torch.Tensor,
    grad: torch.Tensor,
    need_x: bool,
    need_w: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Input and weight gradients in one call of the library's OpenMP backward. Shapes: x ``(N, C, H, W)``,
    weight ``(C_out, C, kH, kW)``, grad ``(N, C_out, H_out, W_out)`` contiguous -> (grad_x, grad_w)."""
    threads = g.threads
    grad_x = grad_w = dy_t = w_b = acc = None
    if need_x:
        dy_t = _workspace("dy_t", (g.n, g.ho, g.wo, g.c_out))  # channels last
        w_b = _workspace("w_pack", (g.gb, g.kh, g.kw, g.c_out, _NR))  # one group of panels
        grad_x = grad.new_empty(g.n, g.c, g.h, g.w)
    mode, parts = _weight_grad_plan(g)
    if need_w:
        if mode == "lines":
            acc = _workspace("acc", (parts, g.kw * g.kpad // _NR, g.co_tiles, _MR, _NR))
        grad_w = weight.new_empty(weight.shape)
    grain_x = _grain(g.n * g.h * g.w, threads, 4, g.rb_bi)
    grain_w = _grain(g.lines, threads, 4, g.lb_bw) if mode == "lines" else 1
    w = weight.detach().contiguous()

    def ptr(t: torch.Tensor | None) -> int | None:
        return t.data_ptr() if t is not None else None

    lib.im2win_bwd_par(
        g.ptr,
        x.data_ptr(),
        grad.data_ptr(),
        w.data_ptr(),
        ptr(dy_t),
        ptr(w_b),
        ptr(grad_x),
        ptr(acc),
        ptr(grad_w),
        int(mode == "lines"),
        threads,
        grain_x,
        grain_w,
    )
    return grad_x, grad_w


def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    pads: tuple[int, int],
    dilation: tuple[int, int],
    out_spatial: tuple[int, int],
) -> torch.Tensor:
    """Native conv2d. Shapes: input ``(N, C, H, W)``, weight ``(C_out, C, kH, kW)``, bias ``(C_out,)`` ->
    ``(N, C_out, H_out, W_out)``; ``pads`` = (top, left) (arguments already resolved and checked by the
    caller, :func:`sciconv.conv.im2win._resolve`). Differentiable w.r.t. input, weight and bias."""
    return _NativeConv2d.apply(input, weight, bias, tuple(stride), tuple(pads), tuple(dilation), tuple(out_spatial))
