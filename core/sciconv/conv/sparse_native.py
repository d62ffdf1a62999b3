"""Native (compiled C) kernels of :mod:`sciconv.conv.sparse`: the submanifold rulebook build and the float32
gather-GEMM-scatter (forward, input gradient, weight gradient) on CPU.

The C source (``csrc/sparse.c``, package data) is compiled at first use like the im2win kernels
(:mod:`sciconv.conv.native_build`): with the system C compiler into ``$SCICONV_CACHE_DIR/kernels/`` (else
``~/.cache/sciconv/kernels/``) under a name hashing the source, the compiler's version, the flags and the
CPU, then loaded with :mod:`ctypes`.
Without a compiler, or when compiling or loading fails, :func:`available` is false, :func:`reason` says
why, one warning is issued and :mod:`sciconv.conv.sparse` keeps its torch-ops path. ``SCICONV_NATIVE=0``
disables the native path.

The kernels run on torch's OpenMP threads (``torch.get_num_threads()``) when the library is built with
``-fopenmp`` and the process holds a single OpenMP runtime; otherwise (and in a forked child) on the calling
thread. Their results do not depend on the thread count: every output row sums its terms in the same order.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import torch

from sciconv.conv import native_build

__all__ = ["available", "gemm_pairs", "library_path", "load", "reason", "subm_pairs", "weight_grad"]

# open-addressing hash table: at least this many slots per site (a sparse table keeps the probes short and
# their branches predictable: 2 slots per site measured 3x slower than 8)
_HASH_SLOTS_PER_SITE = 8
# Below these sizes the kernels run on one thread: waking a second one costs more than it saves (and much
# more when that thread is descheduled on a busy machine).
_PARALLEL_LOOKUPS = 1 << 20  # sites x offsets looked up
_PARALLEL_MACS = 1 << 23  # multiply-adds of a GEMM kernel
_CHUNK_ROWS = 512  # destination rows per work item of the GEMM kernel

_state = native_build.NativeState()


def _source() -> bytes:
    """The C source as shipped in the package."""
    return resources.files("sciconv.conv").joinpath("csrc", "sparse.c").read_bytes()


def library_path(compiler: str | None = None, flags: Sequence[str] = native_build.OPENMP_FLAGS) -> Path:
    """Where the library built from this source by this compiler with these flags for this CPU lives (it may
    not exist yet)."""
    cc = compiler or native_build.find_compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (tried $CC, cc, gcc)")
    return native_build.library_path("sparse", _source(), cc, flags)


def _bind(path: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(path))
    i64, ptr, c_int = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.sparse_abi.restype = c_int
    lib.sparse_abi.argtypes = []
    lib.sparse_openmp.restype = c_int
    lib.sparse_openmp.argtypes = []
    lib.sparse_subm_lookup.restype = None
    lib.sparse_subm_lookup.argtypes = [ptr, i64, i64, i64, ptr, ptr, c_int, c_int, i64, c_int, ptr, ptr, ptr, c_int]
    lib.sparse_subm_fill.restype = None
    lib.sparse_subm_fill.argtypes = [ptr, i64, c_int, ptr, ptr, ptr, c_int]
    lib.sparse_gemm_pairs.restype = None
    lib.sparse_gemm_pairs.argtypes = [ptr, i64, ptr, ptr, i64, i64, ptr, ptr, ptr, c_int, c_int, i64, c_int]
    lib.sparse_weight_grad.restype = None
    lib.sparse_weight_grad.argtypes = [ptr, i64, ptr, i64, ptr, ptr, ptr, c_int, c_int, i64, ptr, c_int]
    if lib.sparse_abi() != 2:
        raise RuntimeError(f"{path} has an unexpected ABI version")
    return lib


def load(force: bool = False) -> ctypes.CDLL | None:
    """The compiled library, compiling it into the cache on first use; ``None`` (with :func:`reason` set and
    one warning) when the native path is disabled or cannot be built. ``force`` retries from scratch."""
    return native_build.load_library(
        _state,
        what="sparse",
        compiler=native_build.find_compiler,
        path_for=lambda cc, flags: library_path(cc, flags),
        compile=lambda cc, path, flags: native_build.compile_library(cc, "sparse", _source(), path, flags),
        bind=_bind,
        has_openmp=lambda lib: bool(lib.sparse_openmp()),
        force=force,
    )


def available() -> bool:
    """Whether the native kernels are built and loaded (compiling them on first call)."""
    return load() is not None


def reason() -> str | None:
    """Why the native kernels are unavailable (``None`` when they are)."""
    load()
    return _state.reason


def _threads() -> int:
    """Threads for the kernels: torch's count on its OpenMP team, else 1 (no OpenMP, second runtime, fork)."""
    if _state.openmp and _state.pid == os.getpid():
        return torch.get_num_threads()
    return 1


_workspaces = threading.local()


def _workspace(nbytes: int) -> torch.Tensor:
    """A byte buffer of at least ``nbytes`` for the neighbour table, reused across calls on this thread."""
    buf = getattr(_workspaces, "table", None)
    if buf is None or buf.numel() < nbytes:
        buf = _workspaces.table = torch.empty(max(nbytes, 1), dtype=torch.uint8)
    return buf


def subm_pairs(
    coords: torch.Tensor,
    spatial_shape: tuple[int, int, int],
    batch_size: int,
    delta: Sequence[int],
    reach: Sequence[int],
    direct: bool,
) -> tuple[torch.Tensor, torch.Tensor, list[int]] | None:
    """Submanifold pairs of every kernel offset, concatenated in offset order (the centre offset empty), or
    ``None`` when the native kernels are unavailable or do not apply. ``delta`` (K,): key shift of each
    offset in the grid padded by ``reach`` (the centre's is 0, offsets are mirror-symmetric); ``direct``:
    look the sites up in a direct-address table of the padded grid (else in a hash table). Shapes: coords
    (N, 4) int64 -> in_all (P,), out_all (P,) int64 (each offset's pairs sorted by output row) and the K
    per-offset counts."""
    lib = load()
    n = coords.shape[0]
    if lib is None or coords.device.type != "cpu" or coords.dtype != torch.int64 or n >= 2**31 - 1 or n == 0:
        return None
    num_k = len(delta)
    half = num_k // 2
    padded = [s + 2 * r for s, r in zip(spatial_shape, reach, strict=True)]
    volume = batch_size * math.prod(padded)
    if direct:
        mode, bits, nbytes = 0, 0, 4 * volume
    else:
        bits = max(4, math.ceil(math.log2(_HASH_SLOTS_PER_SITE * n)))
        mode, nbytes = 1, 12 << bits
    work = _workspace(nbytes)
    geo = torch.tensor([*padded, *reach], dtype=torch.int64)
    delta_t = torch.tensor(delta[:half], dtype=torch.int64)
    nbr = torch.empty((num_k, n), dtype=torch.int32)
    counts_t = torch.zeros(half, dtype=torch.int64)
    threads = _threads() if n * half >= _PARALLEL_LOOKUPS else 1
    s0, s1 = coords.stride()
    lib.sparse_subm_lookup(
        coords.data_ptr(), s0, s1, n, geo.data_ptr(), delta_t.data_ptr(), half, mode, volume, bits,
        work.data_ptr(), nbr.data_ptr(), counts_t.data_ptr(), threads,
    )  # fmt: skip
    half_counts = counts_t.tolist()
    counts = [*half_counts, 0, *half_counts[::-1]]
    starts = torch.tensor([0, *counts], dtype=torch.int64).cumsum_(0)
    total = int(starts[-1])
    in_all = torch.empty(total, dtype=torch.int64)
    out_all = torch.empty(total, dtype=torch.int64)
    lib.sparse_subm_fill(nbr.data_ptr(), n, num_k, starts.data_ptr(), in_all.data_ptr(), out_all.data_ptr(), threads)
    return in_all, out_all, counts


def supports(features: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether the native GEMM kernels take these tensors (float32 on CPU) and are available."""
    return (
        features.dtype == torch.float32
        and weight.dtype == torch.float32
        and features.device.type == "cpu"
        and weight.device.type == "cpu"
        and load() is not None
    )


def gemm_pairs(
    src: torch.Tensor,
    weight: torch.Tensor,
    n_dst: int,
    s_idx: torch.Tensor,
    d_idx: torch.Tensor,
    starts: torch.Tensor,
    identity: int | None,
) -> torch.Tensor:
    """``dst[d_idx[p]] += src[s_idx[p]] @ weight[k]`` over the pairs ``p`` of every offset ``k`` (offset
    ``identity``, if any, is ``dst = src @ weight[identity]`` over all rows instead; otherwise ``dst`` starts
    at zero). Each offset's pairs must be sorted by ``d_idx``. Shapes: src (N_src, C_s) float32, weight
    (K, C_s, C_d), s_idx/d_idx (P,) int64, starts (K + 1,) -> dst (n_dst, C_d)."""
    lib = load()
    assert lib is not None
    src = src.contiguous()
    weight = weight.contiguous()
    num_k, c_s, c_d = weight.shape
    dst = src.new_empty((n_dst, c_d))
    macs = (s_idx.shape[0] + (n_dst if identity is not None else 0)) * c_s * c_d
    threads = _threads() if macs >= _PARALLEL_MACS else 1
    lib.sparse_gemm_pairs(
        src.data_ptr(), c_s, weight.data_ptr(), dst.data_ptr(), c_d, n_dst, s_idx.data_ptr(), d_idx.data_ptr(),
        starts.data_ptr(), num_k, -1 if identity is None else identity, _CHUNK_ROWS, threads,
    )  # fmt: skip
    return dst


def weight_grad(
    x: torch.Tensor,
    grad: torch.Tensor,
    in_idx: torch.Tensor,
    out_idx: torch.Tensor,
    starts: torch.Tensor,
    num_k: int,
    identity: int | None,
) -> torch.Tensor:
    """``dw[k] = sum_p x[in_idx[p]]^T grad[out_idx[p]]`` over the pairs of offset ``k`` (all rows for the
    identity offset). Shapes: x (N, C_in), grad (M, C_out) float32 -> dw (K, C_in, C_out)."""
    lib = load()
    assert lib is not None
    x = x.contiguous()
    grad = grad.contiguous()
    c_in, c_out = x.shape[1], grad.shape[1]
    dw = x.new_empty((num_k, c_in, c_out))
    macs = (in_idx.shape[0] + (x.shape[0] if identity is not None else 0)) * c_in * c_out
    threads = _threads() if macs >= _PARALLEL_MACS else 1
    lib.sparse_weight_grad(
        x.data_ptr(), c_in, grad.data_ptr(), c_out, in_idx.data_ptr(), out_idx.data_ptr(), starts.data_ptr(),
        num_k, -1 if identity is None else identity, x.shape[0], dw.data_ptr(), threads,
    )  # fmt: skip
    return dw
