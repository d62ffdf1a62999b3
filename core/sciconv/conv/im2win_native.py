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
below im2col's buffer; the packed weight panels come on top (:func:`workspace_nbytes`).
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
    lib.im2win_fwd.argtypes = [ptr, ptr, ptr, ptr, ptr, idx, idx]
    lib.im2win_bwd_weight.restype = None
    lib.im2win_bwd_weight.argtypes = [ptr, ptr, ptr, ptr, idx, idx, idx, idx, ctypes.c_int]
    lib.im2win_dw_finish.restype = None
    lib.im2win_dw_finish.argtypes = [ptr, ptr, idx, ptr, idx, idx]
    lib.im2win_bwd_input.restype = None
    lib.im2win_bwd_input.argtypes = [ptr, ptr, ptr, ptr, idx, idx]
    lib.im2win_to_nhwc.restype = None
    lib.im2win_to_nhwc.argtypes = [ptr, ptr, idx, idx, idx, idx]
    lib.im2win_pack_fwd.restype = None
    lib.im2win_pack_fwd.argtypes = [ptr, ptr, ptr, idx, idx]
    lib.im2win_pack_bwd.restype = None
    lib.im2win_pack_bwd.argtypes = [ptr, ptr, ptr, idx, idx]
    if lib.im2win_abi() != 1:
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


class Geometry:
    """Shapes and blocking of one native conv2d call.

    Input ``(N, C, H, W)``, weight ``(C_out, C, kH, kW)``, output ``(N, C_out, H_out, W_out)``; ``pads`` are
    the (top, left) paddings (bottom/right ones follow from the output size). Work is counted in pieces:
    ``lines`` = ``N * H_out * ceil(W_out / wb)`` runs of at most ``wb`` output columns of one output row
    (``wb = W_out``, whole rows, unless a row's window strip would exceed :data:`PIECE_BYTES`).
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
        values = [n, c, h, w, c_out, kh, kw, *stride, pads[0], pads[1], *dilation, ho, self.wo]
        values += [self.lb_fwd, self.kc_fwd, self.lb_bw, self.rb_bi, self.wb]
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


def _pack_forward(lib: ctypes.CDLL, g: Geometry, weight: torch.Tensor) -> torch.Tensor:
    """(C_out, C, kH, kW) -> panels (P, kW * kH * C, 64), zero padded to P * 64 output channels."""
    w = weight.detach().contiguous()
    panels = math.ceil(g.c_out / _NR)
    packed = _workspace("w_pack", (panels, g.kw * g.k, _NR))
    pack = lib.im2win_pack_fwd
    _run([(lambda lo, hi, _: pack(g.ptr, w.data_ptr(), packed.data_ptr(), lo, hi), panels, 1)], g.threads)
    return packed


def _pack_input_grad(lib: ctypes.CDLL, g: Geometry, weight: torch.Tensor) -> torch.Tensor:
    """(C_out, C, kH, kW) -> panels (Q, kH, kW, C_out, 64), zero padded to Q * 64 input channels."""
    w = weight.detach().contiguous()
    packed = _workspace("w_pack", (math.ceil(g.c / _NR), g.kh, g.kw, g.c_out, _NR))
    pack, grain = lib.im2win_pack_bwd, _grain(g.c_out, g.threads, 2)
    _run([(lambda lo, hi, _: pack(g.ptr, w.data_ptr(), packed.data_ptr(), lo, hi), g.c_out, grain)], g.threads)
    return packed


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
    for backward). ``"weights"``: the
    packed weight panels (forward; backward: input-gradient panels and the weight-gradient accumulator(s)),
    about the weight's size (``C_out * C * kH * kW * 4``) each, as any packed GEMM's reordered weights. The
    packed panels (one buffer for the forward and the input-gradient ones), the channels-last gradient and the
    accumulators are per-thread workspaces kept between calls (the largest size seen; :func:`clear_workspaces`
    frees them).
    """
    lib = load()
    if lib is None:
        raise RuntimeError(f"native im2win kernels unavailable: {reason()}")
    threads = threads or torch.get_num_threads()
    g = Geometry(input_shape, weight_shape, stride, pads, dilation, out_spatial, threads)
    n, c = input_shape[0], input_shape[1]
    c_out, _, kh, kw = weight_shape
    w_f = math.ceil(c_out / _NR) * _NR * kw * kh * c * 4
    if not backward:
        return {"transform": threads * lib.im2win_scratch_bytes(g.ptr, 0), "weights": w_f}
    # backward: the input-gradient panels reuse the forward's buffer
    dy_t = n * c_out * out_spatial[0] * out_spatial[1] * 4
    w_b = math.ceil(c / _NR) * _NR * kh * kw * c_out * 4
    partials = _weight_grad_plan(g)[1] * g.co_tiles * _MR * kw * g.kpad * 4
    scratch = threads * max(lib.im2win_scratch_bytes(g.ptr, 1), lib.im2win_scratch_bytes(g.ptr, 2))
    return {"transform": dy_t + scratch, "weights": max(w_f, w_b) + partials}


def _weight_grad_plan(g: Geometry) -> tuple[str, int]:
    """How the weight gradient is split over threads: ``("lines", partial buffers)`` (each thread sums its
    share of output rows into its own accumulator) when the accumulators are small, else ``("tiles", 1)``
    (each thread owns a share of the accumulator tiles and builds every strip itself)."""
    acc_bytes = g.co_tiles * _MR * g.kw * g.kpad * 4
    if g.threads == 1 or g.lines < 2 * g.threads:
        return ("tiles", 1)
    input_bytes = g.n * g.c * g.h * g.w * 4
    if acc_bytes * g.threads <= max(input_bytes // 2, 4 << 20):
        return ("lines", g.threads)
    return ("tiles", 1)


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
        b = bias.detach().contiguous() if bias is not None else None
        y = input.new_empty(g.n, g.c_out, g.ho, g.wo)
        b_ptr = b.data_ptr() if b is not None else None
        grain = _grain(g.lines, threads, 2)
        if _use_openmp():
            w = weight.detach().contiguous()
            w_f = _workspace("w_pack", (math.ceil(g.c_out / _NR), g.kw * g.k, _NR))
            lib.im2win_fwd_par(g.ptr, x.data_ptr(), w.data_ptr(), w_f.data_ptr(), b_ptr, y.data_ptr(), threads, grain)
        else:
            w_f = _pack_forward(lib, g, weight)
            fwd, ptrs = lib.im2win_fwd, (x.data_ptr(), w_f.data_ptr(), b_ptr, y.data_ptr())
            _run([(lambda lo, hi, _: fwd(g.ptr, *ptrs, lo, hi), g.lines, grain)], threads)
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
        jobs: list[tuple[Callable[[int, int, int], None], int, int]] = []
        if need_x:
            dy_t = _workspace("dy_t", (g.n, g.ho, g.wo, g.c_out))  # channels last
            nhwc, ptrs = lib.im2win_to_nhwc, (grad.data_ptr(), dy_t.data_ptr(), g.c_out, g.ho * g.wo)
            _run([(lambda lo, hi, _: nhwc(*ptrs, lo, hi), g.n, _grain(g.n, threads, 2))], threads)
            w_b = _pack_input_grad(lib, g, weight)
            grad_x = grad.new_empty(input_shape)
            total = g.n * g.h * g.w
            bwd_x, ptrs_x = lib.im2win_bwd_input, (dy_t.data_ptr(), w_b.data_ptr(), grad_x.data_ptr())
            grain = _grain(total, threads, 4, g.rb_bi)
            jobs.append((lambda lo, hi, _: bwd_x(g.ptr, *ptrs_x, lo, hi), total, grain))
        if need_w:
            mode, parts = _weight_grad_plan(g)
            acc = _workspace("acc", (parts, g.kw * g.kpad // _NR, g.co_tiles, _MR, _NR))
            used = [False] * parts  # lines mode: whether worker i has zeroed (and used) acc[i]
            bwd_w, ptrs_w = lib.im2win_bwd_weight, (x.data_ptr(), grad.data_ptr())

            def by_lines(lo: int, hi: int, i: int) -> None:  # worker i sums its chunks of rows into acc[i]
                first, used[i] = not used[i], True
                bwd_w(g.ptr, *ptrs_w, acc[i].data_ptr(), lo, hi, 0, g.tiles, first)

            def by_tiles(lo: int, hi: int, _: int) -> None:  # chunks of accumulator tiles, over every row
                bwd_w(g.ptr, *ptrs_w, acc[0].data_ptr(), 0, g.lines, lo, hi, 1)

            if mode == "lines":
                jobs.append((by_lines, g.lines, _grain(g.lines, threads, 4, g.lb_bw)))
            else:  # one chunk per thread: each chunk builds every strip
                used[0] = True
                jobs.append((by_tiles, g.tiles, _grain(g.tiles, threads, 1)))
        _run(jobs, threads)
        if need_w:
            grad_w = weight.new_empty(weight.shape)
            parts_used = [acc[i].data_ptr() for i in range(parts) if used[i]]
            part_ptrs = (ctypes.c_void_p * len(parts_used))(*parts_used)
            finish, args = lib.im2win_dw_finish, (part_ptrs, len(parts_used), grad_w.data_ptr())
            _run([(lambda lo, hi, _: finish(g.ptr, *args, lo, hi), g.c_out, _grain(g.c_out, threads, 2))], threads)
        if need_b and has_bias:
            grad_b = grad.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None


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
        w_b = _workspace("w_pack", (math.ceil(g.c / _NR), g.kh, g.kw, g.c_out, _NR))
        grad_x = grad.new_empty(g.n, g.c, g.h, g.w)
    mode, parts = _weight_grad_plan(g)
    if need_w:
        acc = _workspace("acc", (parts, g.kw * g.kpad // _NR, g.co_tiles, _MR, _NR))
        grad_w = weight.new_empty(weight.shape)
    grain_x = _grain(g.n * g.h * g.w, threads, 4, g.rb_bi)
    grain_w = _grain(g.lines, threads, 4, g.lb_bw) if mode == "lines" else _grain(g.tiles, threads, 1)
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
